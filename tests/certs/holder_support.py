"""Helpers for the holder-facing tests: issuing licenses at a chosen time, and a tiny
SMTP server (RFC 5321 subset: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that
records what it receives."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.certs.conftest import DEPT_CODE, person_body


def issue(
    app: Any,
    body: dict[str, Any] | None = None,
    *,
    dept: str = DEPT_CODE,
    now: datetime | None = None,
) -> str:
    """Issue one license through the service layer (as the API does); its identifier."""
    from authority import db
    from certs import departments, issuance

    with app.app_context(), db.session_scope(app) as session:
        department = departments.get(session, dept)
        prepared = issuance.prepare(session, department, body or person_body())
        (lic,) = issuance.write(session, department, [prepared], client_id="test-client", now=now)
        return lic.identifier


def license_row(app: Any, identifier: str) -> Any:
    import sqlalchemy as sa

    from authority import db
    from certs.models import License

    with app.app_context(), db.session_scope(app) as session:
        lic = session.scalar(sa.select(License).where(License.identifier == identifier))
        session.expunge_all()
        return lic


def change_status(app: Any, identifier: str, action: str, reason: str = "other") -> None:
    from authority import db
    from certs import departments, status

    with app.app_context(), db.session_scope(app) as session:
        dept = departments.get(session, DEPT_CODE)
        if action == "revoke":
            status.revoke(session, dept, identifier, reason, actor="test")
        elif action == "suspend":
            status.suspend(session, dept, identifier, reason, actor="test")
        elif action == "reinstate":
            status.reinstate(session, dept, identifier, actor="test")
        else:
            raise ValueError(action)


@dataclass
class Mailbox:
    messages: list[dict[str, Any]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


class _SMTPHandler(socketserver.StreamRequestHandler):
    mailbox: Mailbox

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        box = self.server.mailbox  # type: ignore[attr-defined]
        self._reply("220 test.local ESMTP ready")
        sender, recipients = None, []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            box.commands.append(verb)
            if verb == "EHLO":
                self.wfile.write(b"250-test.local\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
            elif verb == "HELO":
                self._reply("250 test.local")
            elif verb == "MAIL":
                sender, recipients = line[10:].strip().split(" ")[0].strip("<>"), []
                self._reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line[8:].strip().split(" ")[0].strip("<>"))
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b".\n", b""):
                        break
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                box.messages.append({"from": sender, "to": recipients, "data": b"".join(data)})
                self._reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 Bye")
                return
            else:
                self._reply("502 Command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    """A local SMTP server on a free port; yields (port, mailbox)."""
    server = _Server(("127.0.0.1", 0), _SMTPHandler)
    server.mailbox = Mailbox()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.mailbox  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---------------------------------------------------------------- people, login, tokens
# Through the real interfaces: the operator CLI as typed, the login form, /authorize
# with PKCE and the consent page, and /token.

PASSWORD = "licenses-test-pw-2026"
REDIRECT_URI = "https://portal.example.cn/callback"


def cli(app: Any, runner: Any, *args: str, input: str | None = None) -> Any:
    with app.app_context():
        result = runner.invoke(args=list(args), input=input)
    assert result.exit_code == 0, result.output
    return result


def make_person(app: Any, runner: Any, id_number: str, name: str = "张三") -> None:
    cli(
        app,
        runner,
        "accounts",
        "create-person",
        "--id-number",
        id_number,
        "--name",
        name,
        "--password-stdin",
        input=PASSWORD + "\n",
    )


def make_agent(
    app: Any, runner: Any, id_number: str, credit_code: str, org_name: str = "福州示例科技有限公司"
) -> None:
    cli(app, runner, "accounts", "create-org", "--credit-code", credit_code, "--name", org_name)
    cli(
        app,
        runner,
        "accounts",
        "link-agent",
        "--id-number",
        id_number,
        "--credit-code",
        credit_code,
        "--role",
        "legal_representative",
    )


def hidden_fields(page: str) -> dict[str, str]:
    import html
    import re

    return {
        html.unescape(m.group(1)): html.unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


def login(http: Any, id_number: str, next_url: str = "/licenses") -> Any:
    """Log in through the login form (its CSRF token included); returns the POST response."""
    from urllib.parse import urlencode

    page = http.get("/login?" + urlencode({"next": next_url}))
    assert page.status_code == 200, page.status_code
    fields = hidden_fields(page.get_data(as_text=True))
    fields.update(login=id_number, password=PASSWORD)
    response = http.post("/login", data=fields)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return response


def make_portal(app: Any, runner: Any, *scopes: str) -> tuple[str, str]:
    """A confidential portal client (authorization code); (client_id, secret)."""
    import json

    args = ["clients", "create", "--name", "互认共享门户", "--redirect-uri", REDIRECT_URI]
    for scope in scopes or ("openid", "licenses:read"):
        args += ["--scope", scope]
    body = json.loads(cli(app, runner, *args, "--json").output)
    return body["client_id"], body["client_secret"]


def user_token(http: Any, client_id: str, secret: str, scope: str = "openid licenses:read") -> str:
    """Authorization code + PKCE for a logged-in browser, consenting on the way."""
    import base64
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlencode, urlsplit

    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": secrets.token_hex(4),
        "nonce": secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    response = http.get("/authorize?" + urlencode(params))
    if response.status_code == 200:  # the consent page
        fields = hidden_fields(response.get_data(as_text=True))
        fields["decision"] = "allow"
        response = http.post("/authorize/consent", data=fields)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert "code" in query, query
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    token = http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    assert token.status_code == 200, token.get_data(as_text=True)
    return str(token.get_json()["access_token"])


def department_token(app: Any, runner: Any, http: Any, department: str, *scopes: str) -> str:
    """A client-credentials token of a department system (``clients create`` as typed)."""
    import base64
    import json

    args = ["clients", "create", "--name", "部门系统", "--grant-type", "client_credentials"]
    for scope in scopes:
        args += ["--scope", scope]
    body = json.loads(cli(app, runner, *args, "--department", department, "--json").output)
    basic = base64.b64encode(f"{body['client_id']}:{body['client_secret']}".encode()).decode()
    response = http.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": " ".join(scopes)},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.get_json()["access_token"])
