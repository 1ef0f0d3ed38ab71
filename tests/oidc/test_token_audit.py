"""Token issuance audited through the outbox (oidc/token_audit.py): every issued token
gets exactly one chained ``oidc.token.issued`` entry, whoever chains it and whenever."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from authority import audit, db
from authority.models import AuditEntry
from oidc import config as oidc_config
from oidc.token_audit import EXTENSION_KEY
from oidc.tokens import Token, TokenAuditOutbox
from tests.oidc.provider_support import basic_auth, token_request

CC = {"grant_type": "client_credentials"}


@pytest.fixture
def deferred(app: Any) -> Any:
    """Background mode with the thread held back: rows wait in the outbox."""
    oidc_config.configure(app, issuance_audit="background")
    sealer = app.extensions[EXTENSION_KEY]
    sealer.notify = lambda: None
    return sealer


def _state(app: Any) -> tuple[int, list[int], list[str]]:
    """(outbox rows, token ids named by issued entries, events in chain order)."""
    with app.app_context(), db.session_scope(app) as session:
        outbox = session.scalar(sa.select(sa.func.count()).select_from(TokenAuditOutbox))
        entries = list(session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)))
    issued = [json.loads(e.details)["token_id"] for e in entries if e.event == "oidc.token.issued"]
    return int(outbox or 0), issued, [e.event for e in entries]


def _token_ids(app: Any) -> list[int]:
    with app.app_context(), db.session_scope(app) as session:
        return list(session.scalars(sa.select(Token.id).order_by(Token.id)))


def test_inline_mode_chains_the_entry_before_the_response(
    app: Any, client: Any, department_client: Any
) -> None:
    client_id, secret = department_client
    assert token_request(client, client_id, secret, CC).status_code == 200
    outbox, issued, _ = _state(app)
    assert outbox == 0 and issued == _token_ids(app)


def test_outbox_rows_are_chained_later_exactly_once(
    app: Any, client: Any, department_client: Any, deferred: Any
) -> None:
    client_id, secret = department_client
    for _ in range(3):
        assert token_request(client, client_id, secret, CC).status_code == 200
    outbox, issued, _ = _state(app)
    assert outbox == 3 and issued == []  # issued, committed, not chained yet
    assert deferred.seal() == 3
    assert deferred.seal() == 0
    outbox, issued, _ = _state(app)
    assert outbox == 0 and issued == _token_ids(app)
    with app.app_context(), db.session_scope(app) as session:
        assert audit.verify_chain(session).ok


def test_audit_commands_chain_what_a_stopped_process_left(
    app: Any, client: Any, runner: Any, department_client: Any, deferred: Any
) -> None:
    from authority.cli import main

    client_id, secret = department_client
    assert token_request(client, client_id, secret, CC).status_code == 200
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "appended 1 late entries" in result.output
    assert _state(app)[:2] == (0, _token_ids(app))


def test_a_token_revoked_before_sealing_has_its_issuance_chained_first(
    app: Any, client: Any, department_client: Any, deferred: Any
) -> None:
    client_id, secret = department_client
    token = token_request(client, client_id, secret, CC).json["access_token"]
    revoked = client.post(
        "/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        headers=basic_auth(client_id, secret),
    )
    assert revoked.status_code == 200
    _, issued, events = _state(app)
    assert issued == _token_ids(app)
    assert events.index("oidc.token.issued") < events.index("oidc.token.revoked")


def test_the_background_thread_chains_entries(
    app: Any, client: Any, department_client: Any
) -> None:
    oidc_config.configure(app, issuance_audit="background")
    client_id, secret = department_client
    try:
        for _ in range(5):
            assert token_request(client, client_id, secret, CC).status_code == 200
        deadline = time.monotonic() + 30
        while _state(app)[0] and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        app.extensions[EXTENSION_KEY].stop()
    outbox, issued, _ = _state(app)
    assert outbox == 0 and issued == _token_ids(app)


def test_concurrent_sealers_chain_each_token_once(
    app: Any, client: Any, department_client: Any, deferred: Any
) -> None:
    if db.engine(app).dialect.name != "postgresql":
        pytest.skip("concurrent sealers are a PostgreSQL deployment's concern")
    client_id, secret = department_client
    for _ in range(40):
        assert token_request(client, client_id, secret, CC).status_code == 200
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def seal() -> None:
        try:
            barrier.wait()
            deferred.seal()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=seal) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    outbox, issued, _ = _state(app)
    assert outbox == 0 and sorted(issued) == _token_ids(app) and len(issued) == 40
    with app.app_context(), db.session_scope(app) as session:
        assert audit.verify_chain(session).ok
