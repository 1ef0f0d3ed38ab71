"""Token endpoint throughput and login-to-token latency, under gunicorn on PostgreSQL.

    .venv/bin/python bench/oidc.py [--duration 10] [--rounds 3] [--concurrency 8]
                                    [--flows 30] [--json] [--profile]
                                    [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

What it does:

1. creates a fresh PostgreSQL database (dropped at the end), migrates it, and seeds a
   department client (client_credentials), a relying party and a person;
2. starts ``gunicorn wsgi:app`` with 2 workers on a free loopback port, configured as
   ``authority serve`` runs it (gunicorn's default ``sync`` workers: one request at a
   time per process, a connection per request; in production a proxy in front keeps
   the clients' connections alive);
3. measures, at concurrency 8:
   - the reference: ``GET /healthz`` (the framework's ceiling on this machine),
   - ``POST /token`` with ``grant_type=client_credentials`` (client_secret_basic),
   - ``POST /token`` with ``grant_type=refresh_token`` (each worker thread follows its
     own rotation chain, as a real client must);
   client_credentials and the reference are driven by ``wrk`` (installed with apt-get
   when missing and possible) in ``--rounds`` interleaved rounds, the median printed,
   and, for comparison, by a Python client (threads with
   ``requests.Session``); refresh uses the Python client (each request needs the
   previous response);
4. runs ``--flows`` complete logins: /authorize → login form (CSRF, password) →
   consent → code → /token, and prints the p50/p95 latency;
5. with ``--profile``, profiles 2,000 client_credentials requests in-process
   (cProfile, same database) and prints where the time goes.

It prints a table, or one JSON object with ``--json``. It never asserts a figure.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import os
import pstats
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

KEK = secrets.token_hex(16)
SECRET_KEY = secrets.token_urlsafe(48)
ID_NUMBER = "110101199003074514"
PASSWORD = "bench-password-12345"
REDIRECT = "https://rp.bench.example/callback"
#: The worker class of ``authority serve`` (gunicorn's default). Threaded workers
#: (gthread) measured lower here: threads of one process queue for the GIL while one
#: of them holds the audit chain's lock.
WORKER_CLASS = "sync"


# ------------------------------------------------------------------ setup


def app_env(db_url: str, instance: str, issuer: str) -> dict[str, str]:
    env = harness.app_env(db_url, instance, issuer, kek=KEK, secret_key=SECRET_KEY)
    # As in production: issuance entries chained by each worker's background sealer
    # (AUTHORITY_ENV=testing would otherwise chain them inside the token request).
    env["AUTHORITY_OIDC_ISSUANCE_AUDIT"] = "background"
    return env


def make_app(db_url: str, instance: str, issuer: str) -> Any:
    from authority.app import create_app

    return create_app(
        {
            "env": "testing",
            "secret_key": SECRET_KEY,
            "database_url": db_url,
            "kek": KEK,
            "instance_path": instance,
            "issuer": issuer,
            "log_level": "WARNING",
        }
    )


def seed(app: Any) -> dict[str, str]:
    from authority import db
    from oidc import accounts, clients, jwks, registration

    with app.app_context(), db.session_scope(app) as session:
        accounts.create_person(
            session, id_number=ID_NUMBER, name="压测用户", password=PASSWORD, phone=None
        )
        dept, dept_secret = clients.create(
            session,
            registration.validate_metadata(
                {
                    "client_name": "bench department",
                    "grant_types": ["client_credentials"],
                    "response_types": [],
                    "scope": "licenses:issue licenses:status",
                },
                operator=True,
            ),
            department="91110105MA01ABCD5F",
            created_by="operator",
        )
        rp, rp_secret = clients.create(
            session,
            registration.validate_metadata(
                {
                    "client_name": "bench RP",
                    "redirect_uris": [REDIRECT],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "scope": "openid profile",
                },
                operator=True,
            ),
            provincial=True,  # pre-consented: the flow measures login, not a consent click
            created_by="operator",
        )
        jwks.ensure_keys(session)
        assert dept_secret and rp_secret
        return {
            "dept_id": dept.client_id,
            "dept_secret": dept_secret,
            "rp_id": rp.client_id,
            "rp_secret": rp_secret,
        }


# ------------------------------------------------------------------ load generators


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def ensure_wrk() -> str | None:
    path = shutil.which("wrk")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        path = shutil.which("wrk")
    return path


def run_wrk(
    wrk: str, url: str, duration: int, concurrency: int, *, body: str | None, auth: str | None
) -> dict[str, float]:
    script = ""
    if body is not None:
        script = (
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(body)}\n"
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            f'wrk.headers["Authorization"] = {json.dumps(auth)}\n'
        )
    # Count non-2xx answers: wrk reports them on a line of their own.
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [wrk, "-t", "2", "-c", str(concurrency), "-d", f"{duration}s", "--latency",
             "-s", f.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(f.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)

    def pct(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        factor = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        return float(m.group(1)) * factor

    return {
        "rps": rps,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median requests/s (its latencies with it)."""
    return sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2]


def run_python(base: str, duration: float, concurrency: int, make_request: Any) -> dict[str, float]:
    """``make_request(session, state) -> ok`` in ``concurrency`` threads with keep-alive."""
    stop = time.perf_counter() + duration
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency

    def worker(i: int) -> None:
        session = requests.Session()
        state: dict[str, Any] = {}
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            ok = make_request(session, state)
            latencies[i].append((time.perf_counter() - t0) * 1000)
            if not ok:
                errors[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for chunk in latencies for x in chunk)
    return {
        "rps": len(flat) / elapsed,
        "p50_ms": flat[len(flat) // 2] if flat else float("nan"),
        "p99_ms": flat[int(len(flat) * 0.99)] if flat else float("nan"),
        "errors": float(sum(errors)),
    }


# ------------------------------------------------------------------ scripted browser


def hidden_fields(page: str) -> dict[str, str]:
    return {
        unescape(m.group(1)): unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


def login_to_token(base: str, creds: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """One complete login through the forms; returns (seconds, token response)."""
    browser = requests.Session()
    t0 = time.perf_counter()
    params = {
        "response_type": "code",
        "client_id": creds["rp_id"],
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": secrets.token_hex(8),
        "nonce": secrets.token_hex(8),
    }
    url = base + "/authorize?" + urlencode(params)
    response = browser.get(url, allow_redirects=False, timeout=30)
    code = None
    for _ in range(10):
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["Location"])
            if url.startswith(REDIRECT):
                code = parse_qs(urlsplit(url).query)["code"][0]
                break
            response = browser.get(url, allow_redirects=False, timeout=30)
            continue
        page = response.text
        fields = hidden_fields(page)
        if 'name="password"' in page:
            fields.update(login=ID_NUMBER, password=PASSWORD)
            action = urljoin(url, "/login")
        else:
            fields["decision"] = "allow"
            action = urljoin(url, "/authorize/consent")
        response = browser.post(action, data=fields, allow_redirects=False, timeout=30)
    if code is None:
        raise RuntimeError("the login flow did not reach the client")
    token = requests.post(
        base + "/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers={"Authorization": basic(creds["rp_id"], creds["rp_secret"])},
        timeout=30,
    )
    token.raise_for_status()
    return time.perf_counter() - t0, token.json()


# ------------------------------------------------------------------ profile


def profile_client_credentials(app: Any, creds: dict[str, str], n: int = 2000) -> str:
    http = app.test_client()
    headers = {"Authorization": basic(creds["dept_id"], creds["dept_secret"])}
    data = {"grant_type": "client_credentials"}
    for _ in range(50):
        http.post("/token", data=data, headers=headers)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        http.post("/token", data=data, headers=headers)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(35)
    return out.getvalue()


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--flows", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved wrk rounds")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    results: dict[str, Any] = {
        "workers": 2,
        "worker_class": WORKER_CLASS,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "cpus": os.cpu_count(),
    }
    port = harness.free_port()
    issuer = f"http://127.0.0.1:{port}"
    with (
        harness.fresh_database(args.pg, "authority_bench") as db_url,
        tempfile.TemporaryDirectory() as instance,
    ):
        from authority import migrate

        migrate.upgrade(db_url)
        app = make_app(db_url, instance, issuer)
        creds = seed(app)
        env = app_env(db_url, instance, issuer)
        auth = basic(creds["dept_id"], creds["dept_secret"])
        wrk = ensure_wrk()
        results["load_generator"] = "wrk" if wrk else "python"
        with harness.gunicorn(
            env, port, workers=2, extra_args=("--worker-class", WORKER_CLASS)
        ) as base:
            if wrk:
                # Interleaved rounds, median kept: this machine's speed drifts by a
                # quarter within minutes, and one round of each would compare two speeds.
                rounds: dict[str, list[dict[str, float]]] = {"healthz": [], "cc": []}
                for _ in range(args.rounds):
                    rounds["healthz"].append(run_wrk(
                        wrk, base + "/healthz", args.duration, args.concurrency,
                        body=None, auth=None,
                    ))  # fmt: skip
                    rounds["cc"].append(run_wrk(
                        wrk, base + "/token", args.duration, args.concurrency,
                        body="grant_type=client_credentials", auth=auth,
                    ))  # fmt: skip
                results["reference_healthz_wrk"] = median_round(rounds["healthz"])
                results["client_credentials_wrk"] = median_round(rounds["cc"])
                results["client_credentials_wrk_rounds"] = [r["rps"] for r in rounds["cc"]]
                results["reference_healthz_wrk_rounds"] = [r["rps"] for r in rounds["healthz"]]

            def cc(session: requests.Session, state: dict[str, Any]) -> bool:
                r = session.post(
                    base + "/token",
                    data={"grant_type": "client_credentials"},
                    headers={"Authorization": auth},
                    timeout=30,
                )
                return r.status_code == 200

            results["client_credentials_python"] = run_python(
                base, args.duration, args.concurrency, cc
            )

            # Refresh chains: each thread logs in once, then refreshes its own chain.
            seeds = [login_to_token(base, creds)[1] for _ in range(args.concurrency)]
            rp_auth = basic(creds["rp_id"], creds["rp_secret"])
            pool = list(seeds)
            pool_lock = threading.Lock()

            def refresh(session: requests.Session, state: dict[str, Any]) -> bool:
                if "rt" not in state:
                    with pool_lock:
                        state["rt"] = pool.pop()["refresh_token"]
                r = session.post(
                    base + "/token",
                    data={"grant_type": "refresh_token", "refresh_token": state["rt"]},
                    headers={"Authorization": rp_auth},
                    timeout=30,
                )
                if r.status_code != 200:
                    return False
                state["rt"] = r.json()["refresh_token"]
                return True

            results["refresh_token_python"] = run_python(
                base, args.duration, args.concurrency, refresh
            )

            durations = sorted(login_to_token(base, creds)[0] * 1000 for _ in range(args.flows))
            results["login_to_token_ms"] = {
                "n": len(durations),
                "p50": statistics.median(durations),
                "p95": durations[min(len(durations) - 1, int(len(durations) * 0.95))],
            }
        if args.profile:
            results["profile"] = profile_client_credentials(app, creds)
        from authority import db

        db.engine(app).dispose()

    if args.json:
        print(json.dumps(results, ensure_ascii=False))
        return
    print_table(results)


def print_table(r: dict[str, Any]) -> None:
    print(
        f"OIDC token endpoint — gunicorn {r['workers']} workers ({r['worker_class']}), "
        f"PostgreSQL, concurrency {r['concurrency']}, {r['duration_s']} s each, "
        f"{r['cpus']} CPUs"
    )
    print(f"{'measurement':<38}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for key, label in [
        ("reference_healthz_wrk", "reference: GET /healthz (wrk)"),
        ("client_credentials_wrk", "client_credentials (wrk)"),
        ("client_credentials_python", "client_credentials (python client)"),
        ("refresh_token_python", "refresh_token rotation (python client)"),
    ]:
        if key in r:
            m = r[key]
            print(
                f"{label:<38}{m['rps']:>10.0f}{m['p50_ms']:>10.1f}"
                f"{m['p99_ms']:>10.1f}{m['errors']:>8.0f}"
            )
    if "client_credentials_wrk_rounds" in r:
        each = ", ".join(f"{x:.0f}" for x in r["client_credentials_wrk_rounds"])
        print(f"client_credentials (wrk), each round: {each} req/s (median shown above)")
        each = ", ".join(f"{x:.0f}" for x in r["reference_healthz_wrk_rounds"])
        print(f"reference (wrk), each round:          {each} req/s")
    flow = r["login_to_token_ms"]
    print(
        f"login-to-token flow (n={flow['n']}): p50 {flow['p50']:.0f} ms, p95 {flow['p95']:.0f} ms"
    )
    if "profile" in r:
        print("\nin-process cProfile of 2,000 client_credentials requests (cumulative):")
        print(r["profile"])


if __name__ == "__main__":
    main()
