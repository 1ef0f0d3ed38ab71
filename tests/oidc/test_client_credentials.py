"""Client credentials for department systems (RFC 6749 §4.4) and client authentication."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import sqlalchemy as sa

from tests.oidc.provider_support import make_client, token_request


def test_client_credentials_basic(client: Any, department_client: Any) -> None:
    client_id, secret = department_client
    response = token_request(
        client, client_id, secret, {"grant_type": "client_credentials", "scope": "licenses:issue"}
    )
    assert response.status_code == 200, response.json
    assert response.json["scope"] == "licenses:issue"
    assert "refresh_token" not in response.json
    assert response.json["expires_in"] > 0


def test_client_credentials_post(client: Any, department_client: Any) -> None:
    client_id, secret = department_client
    # Registered for client_secret_basic: the post method is refused.
    response = token_request(
        client, client_id, secret, {"grant_type": "client_credentials"}, basic=False
    )
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_client_secret_post_client(app: Any, client: Any) -> None:
    client_id, secret = make_client(
        app,
        grant_types=["client_credentials"],
        response_types=[],
        redirect_uris=None,
        scope="licenses:status",
        token_endpoint_auth_method="client_secret_post",
    )
    ok = token_request(client, client_id, secret, {"grant_type": "client_credentials"}, basic=False)
    assert ok.status_code == 200 and ok.json["scope"] == "licenses:status"


def test_unregistered_scope_is_not_granted(client: Any, department_client: Any) -> None:
    client_id, secret = department_client
    response = token_request(
        client, client_id, secret, {"grant_type": "client_credentials", "scope": "licenses:read"}
    )
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"


def test_unknown_scope_is_refused(client: Any, department_client: Any) -> None:
    client_id, secret = department_client
    response = token_request(
        client, client_id, secret, {"grant_type": "client_credentials", "scope": "admin"}
    )
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"


def test_wrong_secret_and_unknown_client(client: Any, department_client: Any) -> None:
    client_id, _ = department_client
    bad = token_request(client, client_id, "x" * 43, {"grant_type": "client_credentials"})
    assert bad.status_code == 401 and bad.json["error"] == "invalid_client"
    unknown = token_request(client, "nobody", "x" * 43, {"grant_type": "client_credentials"})
    assert unknown.status_code == 401 and unknown.json["error"] == "invalid_client"
    none = client.post("/token", data={"grant_type": "client_credentials"})
    assert none.status_code in (400, 401) and none.json["error"] == "invalid_client"


def test_disabled_client_cannot_authenticate_and_its_tokens_stop(
    app: Any, client: Any, department_client: Any
) -> None:
    from authority import db
    from oidc.clients import Client

    client_id, secret = department_client
    token = token_request(client, client_id, secret, {"grant_type": "client_credentials"}).json
    with app.app_context(), db.session_scope(app) as session:
        session.query(Client).filter_by(client_id=client_id).one().disabled = True
    refused = token_request(client, client_id, secret, {"grant_type": "client_credentials"})
    assert refused.status_code == 401
    from flask import Flask

    assert isinstance(app, Flask)
    with app.test_request_context(headers={"Authorization": f"Bearer {token['access_token']}"}):
        from authority.problems import Problem
        from oidc import api

        with pytest.raises(Problem) as info:
            api.require_oauth()(lambda: "ok")()
        assert info.value.status == 401


def test_grant_type_not_registered(client: Any, department_client: Any) -> None:
    client_id, secret = department_client
    response = token_request(
        client, client_id, secret, {"grant_type": "authorization_code", "code": "x"}
    )
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_unsupported_grant_type(client: Any, department_client: Any) -> None:
    client_id, secret = department_client
    response = token_request(client, client_id, secret, {"grant_type": "password"})
    assert response.status_code == 400 and response.json["error"] == "unsupported_grant_type"


def test_secrets_are_stored_hashed_and_high_entropy(app: Any, department_client: Any) -> None:
    from authority import db
    from oidc.clients import Client

    client_id, secret = department_client
    assert secret is not None and len(base64.urlsafe_b64decode(secret + "=")) >= 32
    with app.app_context(), db.session_scope(app) as session:
        row = session.query(Client).filter_by(client_id=client_id).one()
        assert row.secret_digest != secret and len(row.secret_digest) == 64
        assert secret not in str(row.client_metadata)


def test_token_issuance_is_audited_without_the_token(
    app: Any, client: Any, department_client: Any
) -> None:
    from authority import audit, db

    client_id, secret = department_client
    token = token_request(client, client_id, secret, {"grant_type": "client_credentials"}).json
    with app.app_context(), db.session_scope(app) as session:
        entries = audit.recent(session, limit=10, event="oidc.token.issued")
        assert entries and entries[0].actor == client_id
        assert token["access_token"] not in entries[0].details


def test_client_credentials_tokens_commit_on_their_own(app: Any, department_client: Any) -> None:
    """A standalone token write is one autocommit statement that turns synchronous_commit
    off for itself only; the request's own transaction is neither used nor affected."""
    from authority import db
    from oidc import clients, tokens

    if db.engine(app).dialect.name != "postgresql":
        pytest.skip("standalone writes are PostgreSQL's (SQLite writes in the session)")
    client_id, _ = department_client
    with app.app_context():
        session = db.session_factory(app)()
        try:
            client = clients.find(session, client_id)
            assert client is not None
            token_id = tokens.save_token(
                session,
                {"access_token": "a" * 43, "expires_in": 600, "scope": "licenses:issue"},
                client=client,
                grant_type="client_credentials",
                user=None,
                refresh_ttl=0,
                standalone=True,
            )
            # The statement alone, inside a transaction, shows what it sets.
            session.execute(
                tokens._INSERT_TOKEN_AND_OUTBOX_NO_FLUSH,
                {
                    "client_id": client_id, "grant_type": "client_credentials",
                    "person_id": None, "acting_org_id": None, "scope": "",
                    "access_digest": "b" * 64, "refresh_digest": None, "issued_at": 1,
                    "access_expires_at": 2, "refresh_expires_at": None, "family": "f" * 32,
                    "code_id": None, "sid": None, "auth_time": None, "acr": None,
                    "amr": None, "client_version": client.version,
                },
            )  # fmt: skip
            inside = session.execute(sa.text("SHOW synchronous_commit")).scalar_one()
            session.rollback()  # the request failing afterwards does not undo the token
        finally:
            session.close()
    assert inside == "off"
    with app.app_context(), db.session_scope(app) as session:
        kept = session.scalar(sa.select(tokens.Token.id).where(tokens.Token.id == token_id))
        outbox = session.scalar(
            sa.select(tokens.TokenAuditOutbox.token_id).where(
                tokens.TokenAuditOutbox.token_id == token_id
            )
        )
        setting = session.execute(sa.text("SHOW synchronous_commit")).scalar_one()
    assert kept == token_id and outbox == token_id
    assert setting == "on"
