"""A full flow driven by an independent RP library (pyoidc's ``oic``) over real HTTP.

discovery → dynamic registration → authorization (the person logs in through the real
login form and consents) → token → ID token validation by the library → userinfo.
"""

from __future__ import annotations

import dataclasses
import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from tests.oidc.provider_support import ID_NUMBER, PASSWORD, make_person

REDIRECT = "https://rp.example.org/callback"


def _hidden(page: str) -> dict[str, str]:
    return {
        unescape(m.group(1)): unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


def _browse_to_code(start_url: str) -> dict[str, str]:
    """A scripted browser: follow redirects, log in, consent; stop at the RP's callback."""
    browser = requests.Session()
    url = start_url
    response = browser.get(url, allow_redirects=False, timeout=10)
    for _ in range(10):
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["Location"])
            if url.startswith(REDIRECT):
                return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
            response = browser.get(url, allow_redirects=False, timeout=10)
            continue
        assert response.status_code == 200, (response.status_code, response.text[:500])
        page = response.text
        fields = _hidden(page)
        if 'name="password"' in page:
            fields.update(login=ID_NUMBER, password=PASSWORD)
            action = urljoin(url, "/login")
        else:
            assert 'id="consent-allow"' in page
            fields["decision"] = "allow"
            action = urljoin(url, "/authorize/consent")
        response = browser.post(action, data=fields, allow_redirects=False, timeout=10)
    raise AssertionError("no redirect to the client")


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_oic_library_full_flow(app: Any, live_server: str, alg: str) -> None:
    from oic import rndstr
    from oic.oic import Client
    from oic.oic.message import AuthorizationResponse, OpenIDSchema, RegistrationResponse
    from oic.utils.authn.client import CLIENT_AUTHN_METHOD

    from oidc.config import configure

    settings = app.extensions["authority.settings"]
    app.extensions["authority.settings"] = dataclasses.replace(settings, issuer=live_server)
    # pyoidc base64-encodes non-JWT initial access tokens, so this flow uses open policy.
    configure(app, registration="open")
    make_person(app)

    rp = Client(client_authn_method=CLIENT_AUTHN_METHOD, verify_ssl=False)
    info = rp.provider_config(live_server)
    assert info["issuer"] == live_server
    registration = rp.register(
        info["registration_endpoint"],
        redirect_uris=[REDIRECT],
        client_name="pyoidc RP",
        id_token_signed_response_alg=alg,
        token_endpoint_auth_method="client_secret_basic",
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
    )
    assert isinstance(registration, RegistrationResponse)
    state, nonce = rndstr(), rndstr()
    pkce_args, verifier = rp.add_code_challenge()
    request = rp.construct_AuthorizationRequest(
        request_args={
            "client_id": rp.client_id,
            "response_type": "code",
            "scope": ["openid", "profile", "phone"],
            "state": state,
            "nonce": nonce,
            "redirect_uri": REDIRECT,
            **pkce_args,
        }
    )
    result = _browse_to_code(request.request(rp.authorization_endpoint))
    assert result["iss"] == live_server
    response = rp.parse_response(AuthorizationResponse, info=result, sformat="dict")
    assert response["state"] == state
    token = rp.do_access_token_request(
        state=state,
        request_args={
            "code": response["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        authn_method="client_secret_basic",
    )
    id_token = token["id_token"]  # verified by the library (signature, iss, aud, exp)
    assert id_token["iss"] == live_server and id_token["aud"] == [rp.client_id]
    assert id_token["nonce"] == nonce
    assert id_token.jws_header["alg"] == alg
    userinfo = rp.do_user_info_request(state=state)
    assert isinstance(userinfo, OpenIDSchema)
    assert userinfo["sub"] == id_token["sub"]
    assert userinfo["name"] == "张三" and userinfo["phone_number"] == "+8613800138000"
