"""Userinfo (OIDC Core §5.3) and the claims each scope releases (§5.4)."""

from __future__ import annotations

from typing import Any

from tests.oidc.provider_support import (
    ID_NUMBER,
    get_code,
    jwt_parts,
    make_client,
    redeem,
)


def _tokens(http: Any, creds: Any, scope: str) -> dict[str, Any]:
    client_id, secret = creds
    code, _ = get_code(http, client_id, scope=scope)
    response = redeem(http, client_id, secret, code)
    assert response.status_code == 200, response.json
    return dict(response.json)


def test_userinfo_releases_claims_per_scope(browser_client: Any, rp: Any) -> None:
    token = _tokens(browser_client, rp, "openid profile phone")
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    body = browser_client.get("/userinfo", headers=headers).json
    assert body["name"] == "张三"
    assert body["phone_number"] == "+8613800138000" and body["phone_number_verified"] is True
    assert "id_number" not in body
    _, claims, _, _ = jwt_parts(token["id_token"])
    assert body["sub"] == claims["sub"]
    assert browser_client.post("/userinfo", headers=headers).json == body


def test_id_number_only_under_its_scope(browser_client: Any, rp: Any) -> None:
    token = _tokens(browser_client, rp, "openid id_number")
    body = browser_client.get(
        "/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    ).json
    assert body["id_number"] == ID_NUMBER
    assert "name" not in body


def test_userinfo_without_token(client: Any) -> None:
    response = client.get("/userinfo")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error=" not in response.headers["WWW-Authenticate"]
    assert response.mimetype == "application/problem+json"


def test_userinfo_with_bad_token(client: Any) -> None:
    response = client.get("/userinfo", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_needs_openid_scope(app: Any, client: Any) -> None:
    from tests.oidc.provider_support import token_request

    client_id, secret = make_client(
        app,
        grant_types=["client_credentials"],
        response_types=[],
        redirect_uris=None,
        scope="licenses:status",
    )
    token = token_request(client, client_id, secret, {"grant_type": "client_credentials"}).json
    response = client.get("/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
