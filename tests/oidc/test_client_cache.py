"""The token endpoint's cached client copies (oidc/client_cache.py) never outlive a change
to the client row: the token INSERT re-checks the row's version and disabled flag."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from authority import db
from authority.models import AuditEntry
from oidc import clients
from oidc.client_cache import EXTENSION_KEY
from oidc.tokens import Token, TokenAuditOutbox
from tests.oidc.provider_support import token_request

CC = {"grant_type": "client_credentials"}


@pytest.fixture(autouse=True)
def long_lived_copies(app: Any) -> None:
    """Copies stay fresh for the whole test, so every request after the first takes the
    cached path whatever the machine's speed."""
    app.extensions[EXTENSION_KEY].ttl = 3600.0


def _written(app: Any, client_id: str) -> tuple[int, int, int]:
    """(token rows of the client, oidc.token.issued audit entries, audit outbox rows)."""
    with app.app_context(), db.session_scope(app) as session:
        tokens = session.scalar(
            sa.select(sa.func.count()).select_from(Token).where(Token.client_id == client_id)
        )
        issued = session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.event == "oidc.token.issued", AuditEntry.actor == client_id)
        )
        outbox = session.scalar(
            sa.select(sa.func.count())
            .select_from(TokenAuditOutbox)
            .where(TokenAuditOutbox.client_id == client_id)
        )
        return int(tokens or 0), int(issued or 0), int(outbox or 0)


def _change(app: Any, client_id: str, **fields: Any) -> None:
    with app.app_context(), db.session_scope(app) as session:
        row = clients.find(session, client_id) or session.scalar(
            sa.select(clients.Client).where(clients.Client.client_id == client_id)
        )
        assert row is not None
        for name, value in fields.items():
            setattr(row, name, value)


def test_every_update_increments_the_version(app: Any, department_client: Any) -> None:
    client_id, _ = department_client
    with app.app_context(), db.session_scope(app) as session:
        before = session.scalar(
            sa.select(clients.Client.version).where(clients.Client.client_id == client_id)
        )
    _change(app, client_id, provincial=True)
    with app.app_context(), db.session_scope(app) as session:
        after = session.scalar(
            sa.select(clients.Client.version).where(clients.Client.client_id == client_id)
        )
    assert after == before + 1


def test_a_client_disabled_while_cached_gets_no_token(
    app: Any, client: Any, department_client: Any
) -> None:
    client_id, secret = department_client
    assert token_request(client, client_id, secret, CC).status_code == 200  # now cached
    _change(app, client_id, disabled=True)
    before = _written(app, client_id)
    refused = token_request(client, client_id, secret, CC)
    assert refused.status_code == 401
    assert refused.json["error"] == "invalid_client"
    assert _written(app, client_id) == before  # no token, no audit entry
    # The stale copy is gone: the next request reads the row and is refused too.
    again = token_request(client, client_id, secret, CC)
    assert again.status_code == 401 and again.json["error"] == "invalid_client"
    assert _written(app, client_id) == before


def test_a_client_deleted_while_cached_gets_no_token(
    app: Any, client: Any, department_client: Any
) -> None:
    client_id, secret = department_client
    assert token_request(client, client_id, secret, CC).status_code == 200
    with app.app_context(), db.session_scope(app) as session:
        session.execute(sa.delete(clients.Client).where(clients.Client.client_id == client_id))
    refused = token_request(client, client_id, secret, CC)
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"
    assert _written(app, client_id)[0] == 0


def test_a_narrowed_scope_applies_at_once(app: Any, client: Any, department_client: Any) -> None:
    client_id, secret = department_client
    wide = token_request(client, client_id, secret, CC)
    assert wide.json["scope"] == "licenses:issue licenses:status"
    with app.app_context(), db.session_scope(app) as session:
        row = clients.find(session, client_id)
        assert row is not None
        row.client_metadata = {**row.client_metadata, "scope": "licenses:status"}
    before = _written(app, client_id)
    # The cached copy still lists licenses:issue; the INSERT notices the new version.
    stale = token_request(client, client_id, secret, {**CC, "scope": "licenses:issue"})
    assert stale.status_code == 401 and stale.json["error"] == "invalid_client"
    assert _written(app, client_id) == before
    narrowed = token_request(client, client_id, secret, CC)
    assert narrowed.status_code == 200, narrowed.json
    assert narrowed.json["scope"] == "licenses:status"
    still_refused = token_request(client, client_id, secret, {**CC, "scope": "licenses:issue"})
    assert still_refused.status_code == 400 and still_refused.json["error"] == "invalid_scope"


def test_a_rotated_secret_is_refused_once_cached_copy_is_stale(
    app: Any, client: Any, department_client: Any
) -> None:
    from oidc import hashing

    client_id, secret = department_client
    assert token_request(client, client_id, secret, CC).status_code == 200
    new_secret = hashing.new_secret()
    _change(app, client_id, secret_digest=hashing.digest(new_secret))
    # The old secret matches the stale copy, but the INSERT finds a newer row.
    old = token_request(client, client_id, secret, CC)
    assert old.status_code == 401 and old.json["error"] == "invalid_client"
    assert token_request(client, client_id, new_secret, CC).status_code == 200
    assert token_request(client, client_id, secret, CC).status_code == 401
