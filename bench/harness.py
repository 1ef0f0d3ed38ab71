"""What every HTTP benchmark needs: a fresh PostgreSQL database, the app's environment,
and gunicorn serving ``wsgi:app`` on a free loopback port.

Benchmarks import it as ``from bench.harness import ...`` (each script puts the
repository root on ``sys.path`` first).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]

#: The PostgreSQL server benchmarks create their databases on, unless told otherwise.
DEFAULT_SERVER = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def fresh_database(server_url: str, prefix: str = "bench") -> Iterator[str]:
    """Create an empty database on ``server_url``, yield its URL, drop it afterwards."""
    url = sa.make_url(server_url)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def app_env(
    db_url: str, instance: str, issuer: str, *, kek: str, secret_key: str
) -> dict[str, str]:
    """The AUTHORITY_* settings of a benchmark app (no other AUTHORITY_* variable leaks in)."""
    return {
        "AUTHORITY_ENV": "testing",
        "SECRET_KEY": secret_key,
        "DATABASE_URL": db_url,
        "AUTHORITY_KEK": kek,
        "AUTHORITY_INSTANCE_PATH": instance,
        "AUTHORITY_ISSUER": issuer,
        # One JSON line per request at INFO would measure the logger, not the endpoint.
        "AUTHORITY_LOG_LEVEL": "WARNING",
    }


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str], port: int, *, workers: int = 2, extra_args: tuple[str, ...] = ()
) -> Iterator[str]:
    """Serve ``wsgi:app`` with ``workers`` gunicorn workers; yield the base URL once
    ``/healthz`` answers, and stop the server afterwards."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUTHORITY_")}
    cmd = [
        sys.executable, "-m", "gunicorn",
        "--workers", str(workers),
        "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning",
        *extra_args,
        "wsgi:app",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**clean, **env}, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(base + "/healthz", timeout=2) as response,
            ):
                if response.status == 200:
                    break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


#: The license type every benchmark issues (a qualification certificate for persons).
QUALIFICATION_SCHEMA = {
    "type": "object",
    "required": ["qualification", "level"],
    "additionalProperties": False,
    "properties": {
        "qualification": {"type": "string", "minLength": 1, "maxLength": 100},
        "level": {"type": "integer", "minimum": 1, "maximum": 5},
        "issuing_body": {"type": "string", "maxLength": 100},
    },
}


def seed_department(app: Any, credit_code: str) -> None:
    """The provincial root, one department and its license type QUALCERT, in process."""
    from authority import db
    from authority.root import ensure_root
    from certs import catalogue, departments

    with app.app_context():
        with db.session_scope(app) as session:
            ensure_root(session, app.extensions["authority.settings"])
        with db.session_scope(app) as session:
            dept = departments.add(
                session, name="基准测试部门", credit_code=credit_code, region_code="350000"
            )
            catalogue.add_type(
                session,
                code="QUALCERT",
                name_zh="职业资格证书",
                name_en="Qualification certificate",
                department=dept,
                holder_kind="person",
                schema=QUALIFICATION_SCHEMA,
                validity_days=1825,
            )
