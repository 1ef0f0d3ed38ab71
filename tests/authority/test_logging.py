"""Structured request logs without secrets or personal data."""

import json
import logging

from authority.logs import scrub
from authority.web import csrf

ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"
PASSWORD = "correct-horse-battery-staple"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.secret-token-body.sig"


def log_lines(captured):
    return [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]


def test_one_json_line_per_request(client, capsys):
    capsys.readouterr()
    r = client.get("/healthz?probe=1")
    lines = [e for e in log_lines(capsys.readouterr()) if e["logger"] == "authority.request"]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["method"] == "GET" and entry["path"] == "/healthz" and entry["status"] == 200
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    assert entry["request_id"] == r.headers["X-Request-ID"]
    assert "probe" not in json.dumps(entry)  # the query string is never logged


def test_incoming_request_id_is_kept_only_if_plain(client):
    assert (
        client.get("/", headers={"X-Request-ID": "lb-1234abcd"}).headers["X-Request-ID"]
        == "lb-1234abcd"
    )
    forged = client.get("/", headers={"X-Request-ID": 'x" {"level":"ERROR"}'})
    assert forged.headers["X-Request-ID"] != 'x" {"level":"ERROR"}'


def test_secrets_and_personal_data_never_reach_the_logs(app, client, capsys):
    careless = logging.getLogger("careless.module")

    @app.post(f"/login-like/{ID_NUMBER}")
    def login_like():
        from flask import request

        # Code that logs too much: the filter must still catch it all.
        careless.warning("login form %s", request.form.to_dict())
        careless.warning("headers %s", dict(request.headers))
        careless.warning("user %s phone %s", ID_NUMBER, PHONE, extra={"password": PASSWORD})
        raise ValueError(f"lookup failed for id_number={ID_NUMBER} password={PASSWORD}")

    csrf.exempt(login_like)

    capsys.readouterr()
    r = client.post(
        f"/login-like/{ID_NUMBER}?password={PASSWORD}&id_number={ID_NUMBER}",
        data={"username": ID_NUMBER, "password": PASSWORD, "phone": PHONE},
        headers={"Authorization": f"Bearer {TOKEN}", "Cookie": f"authority_session={TOKEN}"},
    )
    assert r.status_code == 500
    captured = capsys.readouterr()
    text = captured.err + captured.out
    assert "careless.module" in text and "ValueError" in text  # the lines are there...
    for secret in (ID_NUMBER, PASSWORD, PHONE, TOKEN, "secret-token-body"):
        assert secret not in text  # ...without the secrets
    assert "[id-number]" in text and "[redacted]" in text


def test_scrub_patterns():
    assert scrub(f"id {ID_NUMBER} old 110105491231002 ok") == "id [id-number] old [id-number] ok"
    assert scrub("phone +86 13812345678.") == "phone [phone]."
    assert scrub('{"password": "pw", "client_secret": "s3"}') == (
        '{"password": "[redacted]", "client_secret": "[redacted]"}'
    )
    assert scrub("Authorization: Basic dXNlcjpwYXNz") == "Authorization: [redacted]"
    assert scrub("GET /cb?code=abc&state=xyz") == "GET /cb?code=[redacted]&state=xyz"
    # Ordinary text and numbers survive.
    assert scrub("GET /api/v1/licenses 200 in 12 ms") == "GET /api/v1/licenses 200 in 12 ms"
    assert scrub("status_code=404 error code=invalid_grant") == (
        "status_code=404 error code=invalid_grant"
    )


def test_sm2_backend_is_logged_at_start_up(app_config, capsys):
    from authority.app import create_app
    from keys import sm2

    capsys.readouterr()
    create_app(app_config)
    started = [e for e in log_lines(capsys.readouterr()) if "started" in e["message"]]
    assert started and started[0]["sm2_backend"] == sm2.backend_name()
