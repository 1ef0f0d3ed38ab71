"""The operator CLI through Click's runner and as a real `python -m authority` process."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from authority import db, demo
from authority.cli import main
from authority.keystore import keystore
from authority.models import AuditEntry, StoredKey
from keys.x509 import Certificate

ROOT = Path(__file__).resolve().parents[2]


def test_init_creates_the_root_once(app, runner):
    result = runner.invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    assert "provincial root: created SM2 key" in result.output
    fingerprint = result.output.split("pin this in verifiers): ")[1].split()[0]
    with app.app_context():
        stored = keystore().active("root")
        cert = Certificate.from_pem(stored.certificate_pem)
        assert (
            cert.is_ca
            and cert.public_key().to_der() == keystore().private_key(stored).public_key().to_der()
        )
        cert.verify_issued_by(cert)
        assert cert.fingerprint().hex() == fingerprint
    again = runner.invoke(main, ["init"])
    assert again.exit_code == 0 and f"kept existing SM2 key {stored.kid}" in again.output
    with app.app_context():
        assert db.session().execute(sa.select(sa.func.count()).select_from(StoredKey)).scalar() == 1


def test_init_demo_runs_registered_seeders(app, runner, monkeypatch):
    seeded = []

    def seed_example(session):
        seeded.append(session)
        return ["demo widget: w-1"]

    monkeypatch.setattr(demo, "_SEEDERS", {})
    demo.register(seed_example)
    demo.register(seed_example)  # registering twice runs it once
    result = runner.invoke(main, ["init", "--demo"])
    assert result.exit_code == 0, result.output
    assert "demo data:\n  demo widget: w-1" in result.output and len(seeded) == 1


def test_keys_list_and_rotate(app, runner):
    assert "no keys yet" in runner.invoke(main, ["keys", "list"]).output
    runner.invoke(main, ["init"])
    with app.app_context():
        keystore().create("oidc:RS256", "RS256")
        db.session().commit()
        old_root = keystore().active("root").kid
    listing = runner.invoke(main, ["keys", "list"]).output.splitlines()
    assert listing[0].split()[:5] == ["PURPOSE", "KID", "ALG", "STATUS", "CREATED"]
    assert {line.split()[0] for line in listing[1:]} == {"root", "oidc:RS256"}
    result = runner.invoke(main, ["keys", "rotate", "oidc:RS256"])
    assert result.exit_code == 0, result.output
    assert "retired" in result.output and "new active key" in result.output
    refused = runner.invoke(main, ["keys", "rotate", "root"], input="n\n")
    assert refused.exit_code == 1
    result = runner.invoke(main, ["keys", "rotate", "root", "--yes"])
    assert result.exit_code == 0 and "the new key has a certificate" in result.output
    with app.app_context():
        new_root = keystore().active("root")
        assert new_root.kid != old_root
        Certificate.from_pem(new_root.certificate_pem).verify_issued_by(
            Certificate.from_pem(new_root.certificate_pem)
        )
        events = db.session().execute(sa.select(AuditEntry.event)).scalars().all()
    assert events.count("key.rotated") == 2
    missing = runner.invoke(main, ["keys", "rotate", "nothing"])
    assert missing.exit_code == 1 and "no active key for purpose 'nothing'" in missing.output


def test_rotating_a_department_key_reissues_its_certificate(app, runner):
    import datetime as dt

    from authority.root import root
    from keys.x509 import issue_signing_certificate

    runner.invoke(main, ["init"])
    with app.app_context():
        session = db.session()
        root_key, root_cert = root(session)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)

        def certify(key):
            return issue_signing_certificate(
                root_key,
                root_cert,
                key.public_key(),
                common_name="Market Regulation",
                organisation="Province X",
                credit_code="11100000000013127D",
                license_types=["BL01", "FL02"],
                not_before=now,
                not_after=now + dt.timedelta(days=365),
            ).pem()

        keystore(session).create("department:11100000000013127D", "SM2", certify=certify)
        session.commit()
    result = runner.invoke(main, ["keys", "rotate", "department:11100000000013127D"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        stored = keystore().active("department:11100000000013127D")
        cert = Certificate.from_pem(stored.certificate_pem)
        cert.verify_issued_by(root(db.session())[1])
        assert cert.license_types == ("BL01", "FL02")
        assert cert.public_key().to_der() == keystore().private_key(stored).public_key().to_der()


def test_configuration_errors_are_messages_not_tracebacks(tmp_path):
    env = {**os.environ, "AUTHORITY_ENV": "production", "AUTHORITY_INSTANCE_PATH": str(tmp_path)}
    env.pop("SECRET_KEY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "authority", "keys", "list"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "configuration: SECRET_KEY is required" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture
def cli_env(db_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHORITY_")}
    env.update(
        AUTHORITY_ENV="development",
        AUTHORITY_INSTANCE_PATH=str(tmp_path / "instance"),
        DATABASE_URL=db_url,
    )
    return env


def run_cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "authority", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_real_process_init_keys_and_audit(app, cli_env):
    # `app` empties the tables afterwards; the subprocess uses the same database.
    first = run_cli(cli_env, "init", "--demo")
    assert first.returncode == 0, first.stderr
    assert "provincial root: created" in first.stdout and "ready." in first.stdout
    assert "generated a key-encryption key" in first.stderr  # development KEK warning
    keys = run_cli(cli_env, "keys", "list")
    assert keys.returncode == 0 and "root" in keys.stdout and "SM2" in keys.stdout
    verify = run_cli(cli_env, "audit", "verify")
    # init audits the root key; --demo also seeds (and audits) the packages' demo data.
    intact = re.search(r"audit log intact: (\d+) entries", verify.stdout)
    assert verify.returncode == 0 and intact is not None and int(intact.group(1)) >= 2
    with db.engine(app).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(sa.text("UPDATE audit_log SET subject = 'forged' WHERE seq = 1"))
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    broken = run_cli(cli_env, "audit", "verify")
    assert broken.returncode == 1 and "BROKEN at entry 1" in broken.stderr


def test_serve_refuses_a_busy_port(app, runner):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(main, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.output


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_serve_runs_gunicorn_and_answers(app, cli_env):
    import json
    import time
    import urllib.request

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "authority", "serve", "--port", str(port)],
        env=cli_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = proc.stdout.readline()
        assert first_line.startswith(f"Authority is serving at http://127.0.0.1:{port}/")
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    health = json.loads(r.read())
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "server did not answer in 60 s"
                time.sleep(0.3)
        assert health["status"] == "ok" and health["database"] == "ok"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert "统一身份认证与电子证照" in r.read().decode()
            assert r.headers["X-Frame-Options"] == "DENY"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    logs = proc.stderr.read()
    assert "Booting worker" in logs  # gunicorn, not the development server
    assert logs.count("authority started") >= 2  # two workers


def test_make_run_prints_urls_for_the_port_it_serves_on(tmp_path):
    """`make run PORT=…`: init (which prints the demo discovery URL) gets the same
    issuer as serve, not the default port's."""
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", "PORT=5093", f"VENV={tmp_path}/venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    (init_line,) = [line for line in dry.stdout.splitlines() if "init --demo" in line]
    probe = init_line.replace(
        f"{tmp_path}/venv/bin/authority init --demo", "printenv AUTHORITY_ISSUER"
    )
    env = {k: v for k, v in os.environ.items() if k != "AUTHORITY_ISSUER"}
    shown = subprocess.run(["sh", "-c", probe], env=env, capture_output=True, text=True)
    assert shown.stdout.strip() == "http://127.0.0.1:5093"
    # An issuer the operator set is kept.
    env["AUTHORITY_ISSUER"] = "https://id.example.gov.cn"
    shown = subprocess.run(["sh", "-c", probe], env=env, capture_output=True, text=True)
    assert shown.stdout.strip() == "https://id.example.gov.cn"
