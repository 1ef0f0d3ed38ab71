"""RP-Initiated Logout 1.0 at /logout: id_token_hint, post_logout_redirect_uri, confirmation.

Every request goes through HTTP (Flask test client); tokens come from the real
authorization code flow. Refusals never redirect (§4) and say why on our page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.oidc.accounts_support import audit_events
from tests.oidc.provider_support import (
    get_code,
    hidden_fields,
    jwt_parts,
    make_client,
    redeem,
    token_request,
)

PLRU = "https://rp.example.com/bye"
OTHER_PLRU = "https://other.example.net/bye"


@pytest.fixture
def rp(app: Any) -> tuple[str, str | None]:
    """A relying party that registered a post-logout redirect URI."""
    return make_client(app, post_logout_redirect_uris=[PLRU, "https://rp.example.com/bye?x=1"])


def _tokens(http: Any, rp: Any) -> dict[str, Any]:
    client_id, secret = rp
    code, _ = get_code(http, client_id)
    response = redeem(http, client_id, secret, code)
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.json)


def _id_token(http: Any, rp: Any) -> str:
    return str(_tokens(http, rp)["id_token"])


def _logged_in(http: Any) -> bool:
    return int(http.get("/account").status_code) == 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(app: Any, claims: dict[str, Any], alg: str = "RS256") -> str:
    """A JWT signed with the provider's own active key (for claim-level tests)."""
    from authority import db
    from oidc import jwks

    with app.app_context(), db.session_scope(app) as session:
        return jwks.sign_jwt(session, claims, alg)


def _logout(http: Any, method: str = "GET", **params: str) -> Any:
    if method == "GET":
        return http.get("/logout?" + urlencode(params))
    return http.post("/logout", data=params)


def _refused(response: Any, code: str = "invalid_request") -> str:
    """A refusal: our page (400), no redirect, the error code shown."""
    page = response.get_data(as_text=True)
    assert response.status_code == 400, (response.status_code, page[:500])
    assert "Location" not in response.headers
    assert f'<code id="logout-error-code">{code}</code>' in page
    return page


# ------------------------------------------------------------------ direct logout


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_valid_hint_for_this_session_logs_out_and_redirects_with_state(
    app: Any, browser_client: Any, rp: Any, method: str
) -> None:
    hint = _id_token(browser_client, rp)
    response = _logout(
        browser_client,
        method,
        id_token_hint=hint,
        post_logout_redirect_uri=PLRU,
        state="s-123 &x",
    )
    assert response.status_code == 303
    assert response.headers["Location"] == PLRU + "?state=s-123+%26x"
    assert "authority_sso=;" in response.headers.get("Set-Cookie", "")
    assert not _logged_in(browser_client)
    events = [e.event for e in audit_events(app)]
    assert "session.ended" in events and "oidc.logout" in events
    logout = [e for e in audit_events(app) if e.event == "oidc.logout"][-1]
    assert json.loads(logout.details)["confirmed"] is False
    assert logout.subject == rp[0]


def test_redirect_uri_with_query_keeps_it_and_adds_state(browser_client: Any, rp: Any) -> None:
    hint = _id_token(browser_client, rp)
    response = _logout(
        browser_client,
        id_token_hint=hint,
        post_logout_redirect_uri="https://rp.example.com/bye?x=1",
        state="abc",
    )
    assert response.headers["Location"] == "https://rp.example.com/bye?x=1&state=abc"


def test_valid_hint_without_redirect_shows_our_page(browser_client: Any, rp: Any) -> None:
    hint = _id_token(browser_client, rp)
    response = _logout(browser_client, id_token_hint=hint, state="ignored")
    assert response.status_code == 200
    assert 'id="logout-done"' in response.get_data(as_text=True)
    assert "您已退出登录" in response.get_data(as_text=True)
    assert not _logged_in(browser_client)


def test_cross_site_post_without_cookie_becomes_a_get(app: Any, rp: Any) -> None:
    # A browser does not send our SameSite=Lax cookie with a cross-site form POST;
    # the 303 makes it come back with a GET, which carries the cookie.
    http = app.test_client()
    response = http.post("/logout", data={"client_id": rp[0], "state": "z"})
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/logout"
    assert location.query == urlencode({"client_id": rp[0], "state": "z"})


def test_expired_hint_is_accepted(app: Any, browser_client: Any, rp: Any) -> None:
    _, claims, _, _ = jwt_parts(_id_token(browser_client, rp))
    claims.update(iat=claims["iat"] - 7200, exp=claims["iat"] - 3600)
    hint = _sign(app, claims)
    response = _logout(browser_client, id_token_hint=hint, post_logout_redirect_uri=PLRU)
    assert response.status_code == 303 and response.headers["Location"] == PLRU
    assert not _logged_in(browser_client)


def test_hint_signed_by_a_retired_key_is_accepted(app: Any, browser_client: Any, rp: Any) -> None:
    from authority import db
    from authority.keystore import keystore

    hint = _id_token(browser_client, rp)
    with app.app_context(), db.session_scope(app) as session:
        keystore(session).rotate("oidc:RS256")
    with app.app_context(), db.session_scope(app) as session:
        assert keystore(session).get(jwt_parts(hint)[0]["kid"]).status == "retired"
    response = _logout(browser_client, id_token_hint=hint, post_logout_redirect_uri=PLRU)
    assert response.status_code == 303 and response.headers["Location"] == PLRU


@pytest.mark.parametrize("alg", ["ES256", "SM2SM3"])
def test_hint_of_other_signing_algorithms(app: Any, browser_client: Any, alg: str) -> None:
    from oidc import jwks

    if alg not in jwks.supported_algs():
        pytest.skip(f"{alg} is not available")
    rp = make_client(app, post_logout_redirect_uris=[PLRU], id_token_signed_response_alg=alg)
    hint = _id_token(browser_client, rp)
    assert jwt_parts(hint)[0]["alg"] == alg
    response = _logout(browser_client, id_token_hint=hint, post_logout_redirect_uri=PLRU)
    assert response.status_code == 303 and response.headers["Location"] == PLRU


def test_session_tokens_are_revoked(browser_client: Any, rp: Any) -> None:
    tokens = _tokens(browser_client, rp)
    access = tokens["access_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    assert browser_client.get("/userinfo", headers=bearer).status_code == 200
    _logout(browser_client, id_token_hint=tokens["id_token"])
    assert browser_client.get("/userinfo", headers=bearer).status_code == 401
    client_id, secret = rp
    refreshed = token_request(
        browser_client,
        client_id,
        secret,
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"


# ------------------------------------------------------------------ confirmation


def test_no_hint_asks_for_confirmation_then_logs_out(
    app: Any, browser_client: Any, rp: Any
) -> None:
    _id_token(browser_client, rp)
    page = _logout(
        browser_client, client_id=rp[0], post_logout_redirect_uri=PLRU, state="st", ui_locales="zh"
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="logout-confirm"' in html
    assert "测试应用 Test RP" in html
    # The page may redirect to the client after the form: CSP form-action allows it.
    assert "https://rp.example.com" in page.headers["Content-Security-Policy"]
    assert _logged_in(browser_client)

    fields = hidden_fields(html)
    assert fields["client_id"] == rp[0] and fields["post_logout_redirect_uri"] == PLRU
    response = browser_client.post("/logout/confirm", data=fields)
    assert response.status_code == 303
    assert response.headers["Location"] == PLRU + "?state=st"
    assert not _logged_in(browser_client)
    logout = [e for e in audit_events(app) if e.event == "oidc.logout"][-1]
    assert json.loads(logout.details)["confirmed"] is True


def test_confirmation_needs_the_csrf_token(browser_client: Any, rp: Any) -> None:
    page = _logout(browser_client)
    fields = hidden_fields(page.get_data(as_text=True))
    del fields["csrf_token"]
    response = browser_client.post("/logout/confirm", data=fields)
    assert response.status_code == 400
    assert _logged_in(browser_client)


def test_confirmation_form_cannot_be_bent_into_a_redirector(browser_client: Any, rp: Any) -> None:
    page = _logout(browser_client)
    fields = hidden_fields(page.get_data(as_text=True))
    fields.update(client_id=rp[0], post_logout_redirect_uri="https://evil.example/")
    _refused(browser_client.post("/logout/confirm", data=fields))
    assert _logged_in(browser_client)


def test_hint_of_another_session_asks_for_confirmation(browser_client: Any, rp: Any) -> None:
    from tests.oidc.provider_support import login

    old_hint = _id_token(browser_client, rp)
    _logout(browser_client, id_token_hint=old_hint)
    assert login(browser_client).status_code in (302, 303)
    page = _logout(browser_client, id_token_hint=old_hint, post_logout_redirect_uri=PLRU)
    assert page.status_code == 200 and 'id="logout-confirm"' in page.get_data(as_text=True)
    assert _logged_in(browser_client)


def test_not_logged_in_with_valid_request_still_redirects(browser_client: Any, rp: Any) -> None:
    hint = _id_token(browser_client, rp)
    _logout(browser_client, id_token_hint=hint)
    response = _logout(browser_client, id_token_hint=hint, post_logout_redirect_uri=PLRU)
    assert response.status_code == 303 and response.headers["Location"] == PLRU


def test_ui_locales_chooses_the_page_language(browser_client: Any, rp: Any) -> None:
    html = _logout(browser_client, ui_locales="fr en").get_data(as_text=True)
    assert "Do you want to log out" in html
    fields = hidden_fields(html)
    assert fields["ui_locales"] == "fr en"
    html = _logout(browser_client).get_data(as_text=True)
    assert "确定要退出统一身份认证吗" in html


# ------------------------------------------------------------------ bad id_token_hint


def test_alg_none_hint_is_refused(browser_client: Any, rp: Any) -> None:
    _, claims, _, _ = jwt_parts(_id_token(browser_client, rp))
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    hint = f"{header}.{_b64(json.dumps(claims).encode())}."
    page = _refused(_logout(browser_client, id_token_hint=hint, post_logout_redirect_uri=PLRU))
    assert "身份令牌（id_token_hint）无效" in page
    assert _logged_in(browser_client)


def test_hs256_with_the_public_key_as_secret_is_refused(
    app: Any, browser_client: Any, rp: Any
) -> None:
    from authority import db
    from authority.keystore import keystore

    original = _id_token(browser_client, rp)
    header, claims, _, _ = jwt_parts(original)
    with app.app_context(), db.session_scope(app) as session:
        pem = keystore(session).get(header["kid"]).public_pem
    pem_bytes = pem if isinstance(pem, bytes) else pem.encode()
    forged_header = _b64(json.dumps({"alg": "HS256", "kid": header["kid"]}).encode())
    signing_input = f"{forged_header}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(pem_bytes, signing_input.encode(), hashlib.sha256).digest()
    hint = f"{signing_input}.{_b64(mac)}"
    _refused(_logout(browser_client, id_token_hint=hint, post_logout_redirect_uri=PLRU))
    assert _logged_in(browser_client)


def test_foreign_issuer_is_refused(app: Any, browser_client: Any, rp: Any) -> None:
    _, claims, _, _ = jwt_parts(_id_token(browser_client, rp))
    claims["iss"] = "https://idp.example.org"
    page = _refused(_logout(browser_client, id_token_hint=_sign(app, claims)))
    assert "another provider" in page
    assert _logged_in(browser_client)


def test_foreign_key_is_refused(browser_client: Any, rp: Any) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    header, claims, _, _ = jwt_parts(_id_token(browser_client, rp))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    page = _refused(_logout(browser_client, id_token_hint=f"{signing_input}.{_b64(signature)}"))
    assert "signature is not valid" in page
    header["kid"] = "not-our-kid"
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    page = _refused(_logout(browser_client, id_token_hint=f"{signing_input}.{_b64(signature)}"))
    assert "not signed by one of our keys" in page


def test_tampered_hint_is_refused(browser_client: Any, rp: Any) -> None:
    hint = _id_token(browser_client, rp)
    head, payload, signature = hint.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    tampered = f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"
    _refused(_logout(browser_client, id_token_hint=tampered, post_logout_redirect_uri=PLRU))
    # A flipped signature bit, and garbage, are refused too.
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    _refused(_logout(browser_client, id_token_hint=f"{head}.{payload}.{flipped}"))
    _refused(_logout(browser_client, id_token_hint="not-a-jwt"))
    _refused(_logout(browser_client, id_token_hint=f"{head}.{payload}.{signature}.x.y"))
    assert _logged_in(browser_client)


def test_invalid_hint_still_offers_to_log_out_without_redirect(
    browser_client: Any, rp: Any
) -> None:
    page = _refused(_logout(browser_client, id_token_hint="a.b.c", post_logout_redirect_uri=PLRU))
    fields = hidden_fields(page)
    assert "post_logout_redirect_uri" not in fields
    response = browser_client.post("/logout/confirm", data=fields)
    assert response.status_code == 200 and 'id="logout-done"' in response.get_data(as_text=True)
    assert not _logged_in(browser_client)


# ------------------------------------------------------------------ open redirects


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/bye",
        "https://rp.example.com/bye/",
        "https://rp.example.com/bye/../../evil",
        "https://rp.example.com/byex",
        "https://rp.example.com.evil.example/bye",
        "https://rp.example.com/bye?x=2",
        "https://rp.example.com/bye#x",
        "HTTPS://rp.example.com/bye",
        "https://rp.example.com/%62ye",
        "//evil.example/bye",
    ],
)
def test_unregistered_redirect_uri_is_refused(browser_client: Any, rp: Any, uri: str) -> None:
    hint = _id_token(browser_client, rp)
    page = _refused(_logout(browser_client, id_token_hint=hint, post_logout_redirect_uri=uri))
    assert "post_logout_redirect_uri" in page
    assert _logged_in(browser_client)


def test_another_clients_redirect_uri_is_refused(app: Any, browser_client: Any, rp: Any) -> None:
    other = make_client(
        app, redirect_uris=["https://other.example.net/cb"], post_logout_redirect_uris=[OTHER_PLRU]
    )
    hint = _id_token(browser_client, rp)
    _refused(_logout(browser_client, id_token_hint=hint, post_logout_redirect_uri=OTHER_PLRU))
    # Naming the other client alongside our hint is a mismatch, not a way round.
    _refused(
        _logout(
            browser_client,
            id_token_hint=hint,
            client_id=other[0],
            post_logout_redirect_uri=OTHER_PLRU,
        )
    )
    assert _logged_in(browser_client)


def test_redirect_uri_without_hint_or_client_id_is_refused(browser_client: Any, rp: Any) -> None:
    page = _refused(_logout(browser_client, post_logout_redirect_uri=PLRU, state="x"))
    assert "无法核实" in page
    assert PLRU not in page
    assert _logged_in(browser_client)


def test_unknown_client_id_is_refused(browser_client: Any, rp: Any) -> None:
    _refused(
        _logout(browser_client, client_id="nope", post_logout_redirect_uri=PLRU), "invalid_client"
    )


def test_client_without_registered_uris_cannot_redirect(app: Any, browser_client: Any) -> None:
    bare = make_client(app)
    hint = _id_token(browser_client, bare)
    _refused(_logout(browser_client, id_token_hint=hint, post_logout_redirect_uri=PLRU))


def test_discovery_advertises_logout(client: Any) -> None:
    body = client.get("/.well-known/openid-configuration").json
    assert body["end_session_endpoint"] == body["issuer"] + "/logout"
    assert body["backchannel_logout_supported"] is True
    assert body["backchannel_logout_session_supported"] is True
    assert body["frontchannel_logout_supported"] is False
