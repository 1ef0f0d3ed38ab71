"""Benchmark: ``POST /api/v1/verify`` under gunicorn (2 workers, concurrency 8).

    python bench/verify_http.py [--seconds 5] [--workers 2] [--concurrency 8]
                                [--database-url URL] [--json]

Also reached as ``python bench/verify.py --serve`` (the HTTP row of issue 4's benchmark).

A fresh PostgreSQL database is created (and dropped after), migrated and seeded in
process with the provincial root, one department, one license type and one license;
gunicorn then serves ``wsgi:app`` on it and threads with keep-alive connections post
that license's QR text. Every answer must be a ``valid`` verdict checked against the
online status (the full online path: current trust bundle, signature, DB status).

Rows, same run:

* ``http_verify``: requests/s through HTTP (JSON in and out, gunicorn, Flask, DB read);
* ``verify_online_in_process``: ``certs.verification.verify_online`` called in this
  process on the same database, one thread — the work without HTTP, the reference;
* ``sm2_verify_raw``: raw SM2 verifications/s of the same signature.

Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    app_env,
    free_port,
    fresh_database,
    gunicorn,
    seed_department,
)
from keys.sm2 import backend_name  # noqa: E402

DEPT_BODY8, DEPT_ORG8 = "11350000", "MB000009"


def _credit_code() -> str:
    from keys.validators import credit_code_check_char, organisation_code_check_char

    body = DEPT_BODY8 + DEPT_ORG8 + organisation_code_check_char(DEPT_ORG8)
    return body + credit_code_check_char(body)


def _id_number() -> str:
    from keys.validators import id_number_check_char

    return "35010219900307123" + id_number_check_char("35010219900307123")


def seed(env: dict[str, str]) -> str:
    """Root, department, type and one license, in process; the license's QR text."""
    os.environ.update(env)
    from authority import db
    from authority.app import create_app
    from certs import departments, issuance

    app = create_app()
    code = _credit_code()
    seed_department(app, code)
    with app.app_context(), db.session_scope(app) as session:
        dept = departments.get(session, code)
        body = {
            "type": "QUALCERT",
            "holder": {"id": _id_number(), "name": "张三"},
            "fields": {"qualification": "电工", "level": 3},
        }
        prepared = issuance.prepare(session, dept, body)
        (lic,) = issuance.write(session, dept, [prepared], client_id="bench")
        text = lic.qr_text
    db.engine(app).dispose()
    return str(text)


def in_process_rate(text: str, seconds: float) -> tuple[float, float]:
    """(verify_online calls/s, raw SM2 verifications/s) in this process."""
    from authority import db
    from authority.app import create_app
    from certs.verification import verify_online
    from verify.cose import SIGNER_ID
    from verify.decode import decode

    app = create_app()
    with app.app_context(), db.session_scope(app) as session:
        result = verify_online(session, text)
        assert result.valid and result.checked_against == "online-status", result
        calls, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            verify_online(session, text)
            session.rollback()  # one short transaction per call, as per request
            calls += 1
        online = calls / (time.perf_counter() - started)
        decoded = decode(text)
        from certs.verification import _trust_bundle

        key = _trust_bundle(session).keys[decoded.kid].public_key
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        key.verify_raw(decoded.signature, decoded.signed_bytes, signer_id=SIGNER_ID)
        calls += 1
    raw = calls / (time.perf_counter() - started)
    db.engine(app).dispose()
    return online, raw


def load(base: str, text: str, *, concurrency: int, seconds: float) -> dict[str, Any]:
    """Requests/s from ``concurrency`` keep-alive threads; every answer checked."""
    port = int(base.rsplit(":", 1)[1])
    body = json.dumps({"qr": text}).encode()
    counts = {"ok": 0, "failed": 0}
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        ok = failed = 0
        mine: list[float] = []
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            conn.request(
                "POST", "/api/v1/verify", body=body, headers={"Content-Type": "application/json"}
            )
            response = conn.getresponse()
            answer = response.read()
            mine.append(time.perf_counter() - t0)
            if response.status == 200 and json.loads(answer)["state"] == "valid":
                ok += 1
            else:
                failed += 1
        conn.close()
        with lock:
            counts["ok"] += ok
            counts["failed"] += failed
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests_per_second": counts["ok"] / elapsed,
        "failed": counts["failed"],
        "concurrency": concurrency,
        "latency_ms_p50": round(1000 * latencies[len(latencies) // 2], 2) if latencies else None,
        "latency_ms_p95": round(1000 * latencies[int(len(latencies) * 0.95)], 2)
        if latencies
        else None,
    }


def serve_and_measure(
    database_url: str, *, workers: int = 2, concurrency: int = 8, seconds: float = 5.0
) -> dict[str, Any]:
    """Create a fresh database, seed it, run gunicorn and measure; the figures."""
    from authority import migrate

    with fresh_database(database_url, "bench_verify") as db_url:
        migrate.upgrade(db_url)
        port = free_port()
        env = app_env(
            db_url,
            tempfile.mkdtemp(prefix="bench-verify-"),
            f"http://127.0.0.1:{port}",
            kek=secrets.token_hex(16),
            secret_key=secrets.token_hex(32),
        )
        text = seed(env)
        with gunicorn(env, port, workers=workers) as base:
            load(base, text, concurrency=concurrency, seconds=1.0)  # warm-up: every worker
            figures = load(base, text, concurrency=concurrency, seconds=seconds)
        online, raw = in_process_rate(text, min(seconds, 3.0))
    figures.update(
        server=f"gunicorn {workers} sync workers",
        database="postgresql (fresh)",
        verify_online_in_process=round(online, 1),
        sm2_verify_raw=round(raw, 1),
    )
    figures["requests_per_second"] = round(figures["requests_per_second"], 1)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="PostgreSQL server; a fresh database is created on it and dropped after",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    figures = serve_and_measure(
        args.database_url,
        workers=args.workers,
        concurrency=args.concurrency,
        seconds=args.seconds,
    )
    figures["backend"] = backend_name()
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"SM2 backend: {figures['backend']}; app: {figures['server']}; {figures['database']}")
    print(f"{'row':<28}{'per second':>12}")
    label = f"http_verify (c={args.concurrency})"
    print(f"{label:<28}{figures['requests_per_second']:>12.1f}")
    print(f"{'verify_online_in_process':<28}{figures['verify_online_in_process']:>12.1f}")
    print(f"{'sm2_verify_raw':<28}{figures['sm2_verify_raw']:>12.1f}")
    print(
        f"latency p50 {figures['latency_ms_p50']} ms, p95 {figures['latency_ms_p95']} ms; "
        f"{figures['failed']} failed or not valid"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
