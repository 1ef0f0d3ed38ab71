"""Benchmark: offline license verification beside raw SM2 verification, same run.

    python bench/verify.py [--seconds 1.0] [--rounds 5] [--json] [--http BASE_URL]

Rows (operations per CPU second of this process, median of interleaved rounds):

* ``sm2_verify_raw``: keys.sm2 ``SM2PublicKey.verify_raw`` over the same Sig_structure
  and signature as the license — the reference;
* ``verify``: ``verify.verifier.verify(license, bundle, now)`` on a decoded license
  (key look-up by kid, signature, authorisation, status, validity);
* ``decode_and_verify``: ``verify_text(qr, bundle, now)`` from the QR text (Base45,
  zlib, CBOR, claims checks, then the above) — what a window does per scan.

Target (issue 4): library ≥ 80 % of raw SM2. Timings are printed, never asserted.

HTTP part: ``/api/v1/verify`` belongs to the certs slice. ``--http BASE_URL`` measures
an already running server (start it as ``gunicorn -w 2 wsgi:app``) at concurrency 8
with :func:`measure_http`; the certs slice may extend ``http_rows`` to start gunicorn
itself with demo data.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from keys.sm2 import backend_name  # noqa: E402
from verify.bundle import TrustBundle  # noqa: E402
from verify.cose import SIGNER_ID  # noqa: E402
from verify.decode import decode  # noqa: E402
from verify.verifier import VerdictState, verify, verify_text  # noqa: E402

VECTORS = ROOT / "tests" / "vectors" / "license"


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per CPU second of ``fn`` over about ``seconds`` of CPU (batches of 50 calls).

    CPU time of this process (``time.process_time``), not wall time: other load on the
    machine then skews the ratio far less (the library runs single-threaded).
    """
    calls, started = 0, time.process_time()
    deadline = started + seconds
    while True:
        for _ in range(50):
            fn()
        calls += 50
        now = time.process_time()
        if now >= deadline:
            return calls / (now - started)


def library_rows(seconds: float, rounds: int) -> dict[str, float]:
    """Median ops/s of raw SM2 verification and of the library, interleaved per round."""
    document = json.loads((VECTORS / "vectors.json").read_text(encoding="utf-8"))
    vector = next(v for v in document["vectors"] if v["name"] == "valid")
    bundle = TrustBundle.load(
        (VECTORS / document["bundle"]).read_bytes(),
        pinned_root=bytes.fromhex(document["pinned_root"]),
    )
    qr, now = vector["qr"], vector["now"]
    license = decode(qr)
    public_key = bundle.keys[license.kid].public_key
    assert verify(license, bundle, now).state is VerdictState.VALID
    assert verify_text(qr, bundle, now).state is VerdictState.VALID

    cases: dict[str, Callable[[], object]] = {
        "sm2_verify_raw": lambda: public_key.verify_raw(
            license.signature, license.signed_bytes, signer_id=SIGNER_ID
        ),
        "verify": lambda: verify(license, bundle, now),
        "decode_and_verify": lambda: verify_text(qr, bundle, now),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up
        _rate(fn, 0.1)
    for _ in range(rounds):
        for name, fn in cases.items():
            samples[name].append(_rate(fn, seconds))
    return {name: statistics.median(values) for name, values in samples.items()}


def measure_http(
    base_url: str, qr: str, *, concurrency: int = 8, seconds: float = 5.0
) -> dict[str, Any]:
    """Requests/s of ``POST {base_url}/api/v1/verify {"qr": qr}`` from ``concurrency``
    threads, each with its own keep-alive connection. Counts non-200 answers apart."""
    url = urllib.parse.urlsplit(base_url)
    body = json.dumps({"qr": qr}).encode()
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=30)
        ok = failed = 0
        while time.perf_counter() < deadline:
            conn.request(
                "POST", "/api/v1/verify", body=body, headers={"Content-Type": "application/json"}
            )
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                ok += 1
            else:
                failed += 1
        conn.close()
        with lock:
            counts["ok"] += ok
            counts["failed"] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "requests_per_second": counts["ok"] / elapsed,
        "failed": counts["failed"],
        "concurrency": concurrency,
    }


def http_rows(base_url: str | None, qr: str, *, serve: str | None = None) -> dict[str, Any] | None:
    """The HTTP part (certs slice's endpoint); None when no server was given.

    ``serve`` (a PostgreSQL URL) starts gunicorn with 2 workers on a fresh database
    seeded with a real license (bench/verify_http.py) and measures at concurrency 8.
    """
    if serve is not None:
        from bench.verify_http import serve_and_measure

        return serve_and_measure(serve)
    if base_url is None:
        return None
    return measure_http(base_url, qr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Offline verification vs raw SM2 verify.")
    parser.add_argument("--seconds", type=float, default=0.5, help="CPU per case and round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--http", metavar="BASE_URL", help="also load a running server")
    parser.add_argument(
        "--serve",
        nargs="?",
        const=os.environ.get(
            "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        metavar="POSTGRES_URL",
        help="start gunicorn (2 workers) on a fresh PostgreSQL database and load it",
    )
    args = parser.parse_args(argv)
    rates = library_rows(args.seconds, args.rounds)
    raw = rates["sm2_verify_raw"]
    document = json.loads((VECTORS / "vectors.json").read_text(encoding="utf-8"))
    qr = next(v for v in document["vectors"] if v["name"] == "valid")["qr"]
    result: dict[str, Any] = {
        "backend": backend_name(),
        "ops_per_second": {k: round(v, 1) for k, v in rates.items()},
        "ratio_to_raw": {k: round(v / raw, 3) for k, v in rates.items() if k != "sm2_verify_raw"},
        "target_ratio": 0.8,
        "http": http_rows(args.http, qr, serve=args.serve),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"SM2 backend: {result['backend']}")
    print(f"{'case':<22}{'ops/s':>12}{'vs raw SM2':>12}")
    for name, value in rates.items():
        ratio = "reference" if name == "sm2_verify_raw" else f"{value / raw:.1%}"
        print(f"{name:<22}{value:>12.0f}{ratio:>12}")
    if result["http"] is None:
        print("HTTP /api/v1/verify: not measured (--serve, or --http BASE_URL of a server)")
    else:
        h = result["http"]
        print(
            f"HTTP /api/v1/verify: {h['requests_per_second']:.0f} req/s at concurrency "
            f"{h['concurrency']} ({h['failed']} failed)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
