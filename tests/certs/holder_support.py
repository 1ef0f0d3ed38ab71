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
