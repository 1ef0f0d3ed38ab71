"""Token introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.oidc.provider_support import (
    basic_auth,
    get_code,
    make_client,
    redeem,
    token_request,
)


@pytest.fixture
def issued(browser_client: Any, rp: Any) -> dict[str, Any]:
    client_id, secret = rp
    code, _ = get_code(browser_client, client_id)
    response = redeem(browser_client, client_id, secret, code)
    assert response.status_code == 200
    return dict(response.json)


def _introspect(http: Any, creds: Any, token: str, **extra: str) -> Any:
    client_id, secret = creds
    return (
        token_request(http, client_id, secret, {"token": token, **extra})
        if False
        else http.post(
            "/introspect",
            data={"token": token, **extra},
            headers=basic_auth(client_id, secret),
        )
    )


def test_introspect_own_access_token(browser_client: Any, rp: Any, issued: dict[str, Any]) -> None:
    body = _introspect(browser_client, rp, issued["access_token"]).json
    assert body["active"] is True
    assert body["client_id"] == rp[0] and body["scope"] == issued["scope"]
    assert body["sub"] and body["token_type"] == "Bearer" and body["exp"] > body["iat"]


def test_introspect_refresh_token(browser_client: Any, rp: Any, issued: dict[str, Any]) -> None:
    body = _introspect(
        browser_client, rp, issued["refresh_token"], token_type_hint="refresh_token"
    ).json
    assert body["active"] is True


def test_other_client_learns_nothing(app: Any, browser_client: Any, issued: dict[str, Any]) -> None:
    other = make_client(app)
    assert _introspect(browser_client, other, issued["access_token"]).json == {"active": False}


def test_resource_server_may_introspect_any(
    app: Any, browser_client: Any, issued: dict[str, Any]
) -> None:
    rs = make_client(
        app,
        resource_server=True,
        grant_types=["client_credentials"],
        response_types=[],
        redirect_uris=None,
        scope="licenses:status",
    )
    assert _introspect(browser_client, rs, issued["access_token"]).json["active"] is True


def test_unknown_token_is_inactive(browser_client: Any, rp: Any) -> None:
    assert _introspect(browser_client, rp, "nonsense").json == {"active": False}


def test_introspection_needs_client_authentication(browser_client: Any, issued: Any) -> None:
    response = browser_client.post("/introspect", data={"token": issued["access_token"]})
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"


def test_revoke_access_token(browser_client: Any, rp: Any, issued: dict[str, Any]) -> None:
    response = browser_client.post(
        "/revoke", data={"token": issued["access_token"]}, headers=basic_auth(*rp)
    )
    assert response.status_code == 200
    assert _introspect(browser_client, rp, issued["access_token"]).json == {"active": False}
    info = browser_client.get(
        "/userinfo", headers={"Authorization": f"Bearer {issued['access_token']}"}
    )
    assert info.status_code == 401


def test_revoke_refresh_token_revokes_family(
    browser_client: Any, rp: Any, issued: dict[str, Any]
) -> None:
    client_id, secret = rp
    second = token_request(
        browser_client,
        client_id,
        secret,
        {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
    ).json
    response = browser_client.post(
        "/revoke",
        data={"token": second["refresh_token"], "token_type_hint": "refresh_token"},
        headers=basic_auth(*rp),
    )
    assert response.status_code == 200
    for token in (issued["access_token"], second["access_token"]):
        assert _introspect(browser_client, rp, token).json == {"active": False}


def test_revoking_unknown_token_is_ok(browser_client: Any, rp: Any) -> None:
    response = browser_client.post("/revoke", data={"token": "nonsense"}, headers=basic_auth(*rp))
    assert response.status_code == 200


def test_other_client_cannot_revoke(app: Any, browser_client: Any, rp: Any, issued: Any) -> None:
    other = make_client(app)
    response = browser_client.post(
        "/revoke", data={"token": issued["access_token"]}, headers=basic_auth(*other)
    )
    assert response.status_code == 400
    assert _introspect(browser_client, rp, issued["access_token"]).json["active"] is True


def test_unsupported_token_type_hint(browser_client: Any, rp: Any, issued: Any) -> None:
    response = browser_client.post(
        "/revoke",
        data={"token": issued["access_token"], "token_type_hint": "id_token"},
        headers=basic_auth(*rp),
    )
    assert response.status_code == 400 and response.json["error"] == "unsupported_token_type"
