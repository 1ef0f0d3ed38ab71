"""Authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1, RFC 9207)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from tests.oidc.provider_support import (
    REDIRECT_URI,
    authorize_params,
    get_code,
    jwt_parts,
    location_params,
    make_client,
    pkce_pair,
    redeem,
)

ISSUER = "http://127.0.0.1:5000"


def _b64int(value: str) -> int:
    import base64

    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def test_code_flow_issues_verifiable_id_token(app: Any, browser_client: Any, rp: Any) -> None:
    client_id, secret = rp
    verifier, challenge = pkce_pair()
    code, params = get_code(
        browser_client, client_id, code_challenge=challenge, code_challenge_method="S256"
    )
    response = redeem(browser_client, client_id, secret, code, verifier)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"] and body["access_token"]
    assert response.headers["Cache-Control"] == "no-store"
    header, claims, signature, signed = jwt_parts(body["id_token"])
    assert header["alg"] == "RS256"
    assert claims["iss"] == ISSUER and claims["aud"] == client_id
    assert claims["nonce"] == params["nonce"]
    assert claims["acr"] == "urn:authority:acr:pwd" and claims["amr"] == ["pwd"]
    assert claims["sid"] and claims["auth_time"] <= time.time()
    jwks = browser_client.get("/jwks.json").json["keys"]
    jwk = next(k for k in jwks if k["kid"] == header["kid"])
    public = RSAPublicNumbers(_b64int(jwk["e"]), _b64int(jwk["n"])).public_key()
    public.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())


def test_authorization_response_carries_state_and_iss(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    params = authorize_params(client_id)
    first = browser_client.get("/authorize?" + urlencode(params))
    assert first.status_code == 200  # consent page
    from tests.oidc.provider_support import approve

    result = location_params(approve(browser_client, first))
    assert result["state"] == params["state"]
    assert result["iss"] == ISSUER
    assert set(result) == {"code", "state", "iss"}


def test_consent_is_remembered_and_asked_again_for_new_scopes(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    get_code(browser_client, client_id, scope="openid profile")
    again = browser_client.get("/authorize?" + urlencode(authorize_params(client_id)))
    assert again.status_code == 302 and "code=" in again.headers["Location"]
    more = browser_client.get(
        "/authorize?" + urlencode(authorize_params(client_id, scope="openid profile phone"))
    )
    assert more.status_code == 200
    page = more.get_data(as_text=True)
    assert 'data-scope="phone"' in page


def test_consent_denied_goes_back_with_access_denied(browser_client: Any, rp: Any) -> None:
    from tests.oidc.provider_support import approve

    client_id, _ = rp
    params = authorize_params(client_id)
    page = browser_client.get("/authorize?" + urlencode(params))
    result = location_params(approve(browser_client, page, "deny"))
    assert result["error"] == "access_denied"
    assert result["state"] == params["state"] and result["iss"] == ISSUER


def test_consent_form_needs_csrf_token(browser_client: Any, rp: Any) -> None:
    from tests.oidc.provider_support import hidden_fields

    client_id, _ = rp
    page = browser_client.get("/authorize?" + urlencode(authorize_params(client_id)))
    fields = hidden_fields(page.get_data(as_text=True))
    del fields["csrf_token"]
    fields["decision"] = "allow"
    response = browser_client.post("/authorize/consent", data=fields)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_provincial_client_is_pre_consented(app: Any, browser_client: Any) -> None:
    client_id, _ = make_client(app, provincial=True)
    response = browser_client.get("/authorize?" + urlencode(authorize_params(client_id)))
    assert response.status_code == 302 and "code=" in response.headers["Location"]


def test_unknown_client_gets_error_page_not_redirect(browser_client: Any) -> None:
    response = browser_client.get("/authorize?" + urlencode(authorize_params("no-such-client")))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert 'id="error-code">invalid_client<' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT_URI + "/extra",  # prefix
        REDIRECT_URI + "/../evil",  # path traversal
        "https://rp.example.com/call%62ack",  # percent-encoded 'b'
        "https://rp.example.com/CALLBACK",  # case
        "https://attacker@rp.example.com/callback",  # userinfo
        "https://rp.example.com@attacker.example/callback",  # host confusion
        "https://rp.example.com:8443/callback",  # other port
        "https://rp.example.com:443/callback",  # explicit default port
        REDIRECT_URI + "/",  # trailing slash
        REDIRECT_URI + "?x=1",  # extra query
        REDIRECT_URI + "#frag",  # fragment
        "http://rp.example.com/callback",  # scheme downgrade
        "https://rp.example.com.evil.example/callback",  # suffix host
        "",  # missing
    ],
)
def test_redirect_uri_must_match_exactly(browser_client: Any, rp: Any, redirect_uri: str) -> None:
    client_id, _ = rp
    params = authorize_params(client_id, redirect_uri=redirect_uri)
    if not redirect_uri:
        del params["redirect_uri"]
    response = browser_client.get("/authorize?" + urlencode(params))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "error-code" in response.get_data(as_text=True)


def test_errors_after_redirect_validation_go_back_to_client(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    params = authorize_params(client_id, response_type="token")
    result = location_params(browser_client.get("/authorize?" + urlencode(params)))
    assert result["error"] in ("unsupported_response_type", "unauthorized_client")
    assert result["state"] == params["state"] and result["iss"] == ISSUER


def test_plain_pkce_is_refused(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    verifier, _ = pkce_pair()
    params = authorize_params(client_id, code_challenge=verifier, code_challenge_method="plain")
    result = location_params(browser_client.get("/authorize?" + urlencode(params)))
    assert result["error"] == "invalid_request"
    assert "S256" in result["error_description"]


def test_pkce_challenge_without_method_is_refused(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    _, challenge = pkce_pair()
    params = authorize_params(client_id, code_challenge=challenge)
    result = location_params(browser_client.get("/authorize?" + urlencode(params)))
    assert result["error"] == "invalid_request"


def test_public_client_must_use_pkce(app: Any, browser_client: Any) -> None:
    client_id, secret = make_client(app, token_endpoint_auth_method="none")
    assert secret is None
    result = location_params(
        browser_client.get("/authorize?" + urlencode(authorize_params(client_id)))
    )
    assert result["error"] == "invalid_request"
    assert "code_challenge" in result["error_description"]


def test_public_client_with_pkce_gets_tokens(app: Any, browser_client: Any) -> None:
    client_id, _ = make_client(app, token_endpoint_auth_method="none")
    verifier, challenge = pkce_pair()
    code, _ = get_code(
        browser_client, client_id, code_challenge=challenge, code_challenge_method="S256"
    )
    missing = redeem(browser_client, client_id, None, code)
    assert missing.status_code == 400 and missing.json["error"] == "invalid_request"
    # The failed attempt consumed the code (first redemption attempt wins).
    code, _ = get_code(
        browser_client, client_id, code_challenge=challenge, code_challenge_method="S256"
    )
    ok = redeem(browser_client, client_id, None, code, verifier)
    assert ok.status_code == 200, ok.json


def test_wrong_pkce_verifier_is_refused(browser_client: Any, rp: Any) -> None:
    client_id, secret = rp
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    code, _ = get_code(
        browser_client, client_id, code_challenge=challenge, code_challenge_method="S256"
    )
    response = redeem(browser_client, client_id, secret, code, other_verifier)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def test_confidential_client_that_sent_a_challenge_must_send_the_verifier(
    browser_client: Any, rp: Any
) -> None:
    client_id, secret = rp
    _, challenge = pkce_pair()
    code, _ = get_code(
        browser_client, client_id, code_challenge=challenge, code_challenge_method="S256"
    )
    response = redeem(browser_client, client_id, secret, code)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_code_replay_is_refused_and_revokes_tokens(browser_client: Any, rp: Any) -> None:
    client_id, secret = rp
    code, _ = get_code(browser_client, client_id)
    first = redeem(browser_client, client_id, secret, code)
    assert first.status_code == 200
    access = first.json["access_token"]
    assert (
        browser_client.get("/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code
        == 200
    )
    replay = redeem(browser_client, client_id, secret, code)
    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant"
    after = browser_client.get("/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert after.status_code == 401
    refresh = browser_client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first.json["refresh_token"]},
        headers={"Authorization": first.request.headers["Authorization"]},
    )
    assert refresh.status_code == 400 and refresh.json["error"] == "invalid_grant"


def test_code_redeemed_by_another_client_is_refused(app: Any, browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    other_id, other_secret = make_client(app)
    code, _ = get_code(browser_client, client_id)
    response = redeem(browser_client, other_id, other_secret, code)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_expired_code_is_refused(app: Any, browser_client: Any, rp: Any) -> None:
    from authority import db
    from oidc import tokens

    client_id, secret = rp
    code, _ = get_code(browser_client, client_id)
    with app.app_context(), db.session_scope(app) as session:
        for row in session.query(tokens.AuthorizationCode):
            row.expires_at = int(time.time()) - 1
    response = redeem(browser_client, client_id, secret, code)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_redirect_uri_at_token_endpoint_must_match(browser_client: Any, rp: Any) -> None:
    client_id, secret = rp
    code, _ = get_code(browser_client, client_id)
    from tests.oidc.provider_support import token_request

    response = token_request(
        browser_client,
        client_id,
        secret,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI + "/x"},
    )
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_wrong_client_secret_is_refused(browser_client: Any, rp: Any) -> None:
    client_id, _ = rp
    code, _ = get_code(browser_client, client_id)
    response = redeem(browser_client, client_id, "wrong-secret", code)
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_unknown_and_unregistered_scopes_are_dropped(browser_client: Any, rp: Any) -> None:
    client_id, secret = rp
    code, _ = get_code(browser_client, client_id, scope="openid email profile licenses:issue")
    token = redeem(browser_client, client_id, secret, code).json
    assert token["scope"] == "openid profile"
