"""Refresh tokens: rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14.2)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.oidc.provider_support import (
    get_code,
    redeem,
    token_request,
)


def _tokens(http: Any, rp: Any) -> dict[str, Any]:
    client_id, secret = rp
    code, _ = get_code(http, client_id, scope="openid profile phone")
    response = redeem(http, client_id, secret, code)
    assert response.status_code == 200
    return dict(response.json)


def _refresh(http: Any, rp: Any, refresh_token: str, **extra: str) -> Any:
    client_id, secret = rp
    return token_request(
        http,
        client_id,
        secret,
        {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra},
    )


def _userinfo(http: Any, access: str) -> int:
    return int(http.get("/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code)


@pytest.fixture
def no_grace(app: Any) -> None:
    from oidc.config import configure

    configure(app, refresh_grace=0)


def test_refresh_rotates(browser_client: Any, rp: Any) -> None:
    first = _tokens(browser_client, rp)
    second = _refresh(browser_client, rp, first["refresh_token"])
    assert second.status_code == 200, second.json
    assert second.json["refresh_token"] != first["refresh_token"]
    assert second.json["access_token"] != first["access_token"]
    assert second.json["scope"] == first["scope"]
    third = _refresh(browser_client, rp, second.json["refresh_token"])
    assert third.status_code == 200


def test_refresh_can_narrow_scope_but_not_widen(browser_client: Any, rp: Any) -> None:
    first = _tokens(browser_client, rp)
    narrow = _refresh(browser_client, rp, first["refresh_token"], scope="openid")
    assert narrow.status_code == 200 and narrow.json["scope"] == "openid"
    wide = _refresh(browser_client, rp, narrow.json["refresh_token"], scope="openid id_number")
    assert wide.status_code == 400 and wide.json["error"] == "invalid_scope"


def test_reuse_of_spent_refresh_token_revokes_family(
    browser_client: Any, rp: Any, no_grace: None
) -> None:
    first = _tokens(browser_client, rp)
    second = _refresh(browser_client, rp, first["refresh_token"]).json
    import time

    time.sleep(1.1)
    reuse = _refresh(browser_client, rp, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json["error"] == "invalid_grant"
    # The legitimate descendant is gone too: the whole family is revoked.
    assert _userinfo(browser_client, second["access_token"]) == 401
    after = _refresh(browser_client, rp, second["refresh_token"])
    assert after.status_code == 400 and after.json["error"] == "invalid_grant"


def test_concurrent_refresh_within_grace_is_honoured(browser_client: Any, rp: Any) -> None:
    first = _tokens(browser_client, rp)
    a = _refresh(browser_client, rp, first["refresh_token"])
    b = _refresh(browser_client, rp, first["refresh_token"])
    assert a.status_code == 200 and b.status_code == 200
    assert _userinfo(browser_client, a.json["access_token"]) == 200
    assert _userinfo(browser_client, b.json["access_token"]) == 200


def test_refresh_token_of_another_client_is_refused(app: Any, browser_client: Any, rp: Any) -> None:
    from tests.oidc.provider_support import make_client

    first = _tokens(browser_client, rp)
    other = make_client(app)
    response = _refresh(browser_client, other, first["refresh_token"])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_unknown_refresh_token_is_refused(browser_client: Any, rp: Any) -> None:
    response = _refresh(browser_client, rp, "not-a-refresh-token")
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_expired_refresh_token_is_refused(app: Any, browser_client: Any, rp: Any) -> None:
    from authority import db
    from oidc import tokens

    first = _tokens(browser_client, rp)
    with app.app_context(), db.session_scope(app) as session:
        for row in session.query(tokens.Token):
            row.refresh_expires_at = 1
    response = _refresh(browser_client, rp, first["refresh_token"])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_reuse_is_audited(app: Any, browser_client: Any, rp: Any, no_grace: None) -> None:
    import time

    from authority import audit, db

    first = _tokens(browser_client, rp)
    _refresh(browser_client, rp, first["refresh_token"])
    time.sleep(1.1)
    _refresh(browser_client, rp, first["refresh_token"])
    with app.app_context(), db.session_scope(app) as session:
        events = [e.event for e in audit.recent(session, limit=50)]
        details = " ".join(e.details for e in audit.recent(session, limit=50))
    assert "oidc.refresh.reused" in events
    assert "oidc.token.revoked" in events and "oidc.token.issued" in events
    assert first["refresh_token"] not in details and first["access_token"] not in details
