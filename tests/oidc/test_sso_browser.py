"""Single sign-on and single logout in a real Chromium, with two real relying parties.

Two little relying parties run as HTTP servers on loopback ports, each with its own
registered client: they start the authorization request (state, nonce, PKCE S256),
take the code at their callback, check ``iss`` (RFC 9207), exchange the code at the
token endpoint, validate the ID token against the provider's JWKS, start
RP-initiated logout, and receive back-channel logout tokens. The browser only clicks.

The story: log in at A (login form → consent → back to A with a code), then B signs
in with no login form (SSO), then A logs out with ``id_token_hint`` and
``post_logout_redirect_uri`` → both A and B receive signed logout tokens for the
session → a new sign-in at B asks for the password again.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.oidc.accounts_support import audit_events
from tests.oidc.logout_support import check_logout_claims, verify_logout_token
from tests.oidc.provider_support import ID_NUMBER, PASSWORD, make_client, make_person

pytestmark = pytest.mark.browser


class RelyingParty:
    """A minimal confidential OIDC client with a browser-facing HTTP server."""

    def __init__(self, name: str, issuer: str) -> None:
        self.name = name
        self.issuer = issuer
        self.client_id = ""
        self.secret: str | None = None
        self.pending: dict[str, dict[str, str]] = {}  # state -> nonce, verifier
        self.id_tokens: list[dict[str, Any]] = []
        self.raw_id_tokens: list[str] = []
        self.callback_params: list[dict[str, str]] = []
        self.logout_tokens: list[str] = []
        self.logout_claims: list[dict[str, Any]] = []
        self.logout_state = ""
        self.errors: list[str] = []
        self.arrived = threading.Condition()
        rp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    rp.handle_get(self)
                except Exception as exc:  # the test reads rp.errors
                    rp.errors.append(f"GET {self.path}: {exc!r}")
                    rp.reply(self, 500, f"<p id='rp-error'>{html.escape(repr(exc))}</p>")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                try:
                    rp.backchannel(form["logout_token"][0])
                except Exception as exc:
                    rp.errors.append(f"back-channel: {exc!r}")
                    self.send_response(400)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def metadata(self) -> dict[str, Any]:
        return {
            "client_name": f"门户 {self.name}",
            "redirect_uris": [self.base + "/callback"],
            "post_logout_redirect_uris": [self.base + "/bye"],
            "backchannel_logout_uri": self.base + "/backchannel",
            "backchannel_logout_session_required": True,
        }

    def config(self) -> dict[str, Any]:
        return dict(
            requests.get(self.issuer + "/.well-known/openid-configuration", timeout=5).json()
        )

    def jwks(self) -> dict[str, Any]:
        return dict(requests.get(self.config()["jwks_uri"], timeout=5).json())

    # ---------------------------------------------------------------- browser side

    @staticmethod
    def reply(handler: BaseHTTPRequestHandler, status: int, body: str, location: str = "") -> None:
        handler.send_response(status)
        if location:
            handler.send_header("Location", location)
        data = f"<!doctype html><html><body>{body}</body></html>".encode()
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def handle_get(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/start":
            state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
            verifier = secrets.token_urlsafe(48)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            self.pending[state] = {"nonce": nonce, "verifier": verifier}
            params = {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.base + "/callback",
                "scope": "openid profile",
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            }
            location = self.config()["authorization_endpoint"] + "?" + urlencode(params)
            self.reply(handler, 302, "", location)
        elif url.path == "/callback":
            self.callback(handler, query)
        elif url.path == "/logout":
            self.logout_state = secrets.token_urlsafe(12)
            params = {
                "id_token_hint": self.raw_id_tokens[-1],
                "post_logout_redirect_uri": self.base + "/bye",
                "state": self.logout_state,
            }
            location = self.config()["end_session_endpoint"] + "?" + urlencode(params)
            self.reply(handler, 302, "", location)
        elif url.path == "/bye":
            assert query.get("state") == self.logout_state, query
            self.reply(handler, 200, f"<p id='rp-bye'>{self.name} logged out</p>")
        else:
            self.reply(handler, 404, "not found")

    def callback(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        self.callback_params.append(query)
        assert query.get("iss") == self.issuer, "RFC 9207 iss missing or wrong"
        pending = self.pending.pop(query["state"])
        response = requests.post(
            self.config()["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": query["code"],
                "redirect_uri": self.base + "/callback",
                "code_verifier": pending["verifier"],
            },
            auth=(self.client_id, self.secret or ""),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        raw = response.json()["id_token"]
        claims = self.validate_id_token(raw, pending["nonce"])
        self.raw_id_tokens.append(raw)
        self.id_tokens.append(claims)
        self.reply(handler, 200, f"<p id='rp-user'>{self.name}: {html.escape(claims['sub'])}</p>")

    def validate_id_token(self, raw: str, nonce: str) -> dict[str, Any]:
        """OIDC Core §3.1.3.7, with an independent JOSE library."""
        from joserfc import jwt
        from joserfc.jwk import KeySet

        keys = KeySet.import_key_set(
            {"keys": [k for k in self.jwks()["keys"] if k.get("crv") != "SM2"]}
        )
        token = jwt.decode(raw, keys, algorithms=["RS256"])
        claims = dict(token.claims)
        assert claims["iss"] == self.issuer
        assert claims["aud"] == self.client_id or self.client_id in claims["aud"]
        assert claims["nonce"] == nonce
        assert claims["exp"] > time.time() >= claims["iat"] - 60
        assert isinstance(claims.get("sid"), str)
        return claims

    # ---------------------------------------------------------------- back channel

    def backchannel(self, token: str) -> None:
        """Back-Channel Logout 1.0 §2.6: validate, then end the local session."""
        header, claims = verify_logout_token(token, self.jwks())
        assert header["typ"] == "logout+jwt"
        check_logout_claims(claims, issuer=self.issuer, client_id=self.client_id)
        with self.arrived:
            self.logout_tokens.append(token)
            self.logout_claims.append(claims)
            self.arrived.notify_all()

    def wait_for_logout(self, timeout: float = 20) -> dict[str, Any]:
        end = time.monotonic() + timeout
        with self.arrived:
            while not self.logout_claims:
                remaining = end - time.monotonic()
                assert remaining > 0, f"{self.name} received no logout token; {self.errors}"
                self.arrived.wait(remaining)
            return self.logout_claims[0]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def issuer(app: Any, live_server: str) -> str:
    # The provider must name itself by the URL the browser and the RPs use.
    settings = app.extensions["authority.settings"]
    app.extensions["authority.settings"] = dataclasses.replace(settings, issuer=live_server)
    return live_server


@pytest.fixture
def portals(app: Any, issuer: str) -> Iterator[tuple[RelyingParty, RelyingParty]]:
    from oidc import backchannel

    made = (RelyingParty("A", issuer), RelyingParty("B", issuer))
    for rp in made:
        rp.client_id, rp.secret = make_client(app, **rp.metadata())
    yield made
    backchannel.dispatcher(app).wait(30)
    for rp in made:
        rp.close()


@pytest.fixture
def console_errors(page: Any) -> list[str]:
    errors: list[str] = []

    def collect(msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(msg.text)

    page.on("console", collect)
    return errors


def test_login_sso_into_a_second_portal_then_single_logout(
    app: Any,
    issuer: str,
    portals: tuple[RelyingParty, RelyingParty],
    page: Any,
    console_errors: list[str],
) -> None:
    make_person(app)
    rp_a, rp_b = portals
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))

    # 1. Portal A: the login form, then consent, then back to A with a code.
    page.goto(rp_a.base + "/start")
    page.wait_for_url(re.compile(re.escape(issuer) + r"/login\?"))
    assert page.locator("h1").first.inner_text() == "登录"
    page.fill("#login", ID_NUMBER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(issuer) + r"/authorize\?"))
    assert "门户 A" in page.locator("#consent-intro").inner_text()
    page.click("#consent-allow")
    page.wait_for_url(re.compile(re.escape(rp_a.base) + r"/callback\?"))
    assert page.locator("#rp-user").inner_text().startswith("A: ")
    assert rp_a.errors == []
    [claims_a] = rp_a.id_tokens
    assert rp_a.callback_params[0]["iss"] == issuer

    # 2. Portal B: single sign-on — consent for the new app, but no login form.
    visited.clear()
    page.goto(rp_b.base + "/start")
    page.wait_for_url(re.compile(re.escape(issuer) + r"/authorize\?"))
    assert "门户 B" in page.locator("#consent-intro").inner_text()
    page.click("#consent-allow")
    page.wait_for_url(re.compile(re.escape(rp_b.base) + r"/callback\?"))
    assert page.locator("#rp-user").inner_text().startswith("B: ")
    assert not [u for u in visited if urlsplit(u).path == "/login"], visited
    [claims_b] = rp_b.id_tokens
    assert claims_b["sid"] == claims_a["sid"]  # one SSO session
    assert claims_b["auth_time"] == claims_a["auth_time"]  # no second authentication

    # 3. Portal A logs out (RP-initiated, with id_token_hint): back at A's page.
    page.goto(rp_a.base + "/logout")
    page.wait_for_url(re.compile(re.escape(rp_a.base) + r"/bye\?state="))
    assert page.locator("#rp-bye").inner_text() == "A logged out"

    # 4. Both portals got a valid logout token for that session, with their own sub.
    for rp, claims in ((rp_a, claims_a), (rp_b, claims_b)):
        logout = rp.wait_for_logout()
        assert logout["sid"] == claims["sid"]
        assert logout["sub"] == claims["sub"]
        assert rp.errors == []
    assert len(rp_a.logout_tokens) == 1 and len(rp_b.logout_tokens) == 1

    # 5. A new sign-in at B needs the password again.
    page.goto(rp_b.base + "/start")
    page.wait_for_url(re.compile(re.escape(issuer) + r"/login\?"))
    assert page.locator("#login").is_visible()
    assert console_errors == []

    events = [e.event for e in audit_events(app)]
    assert events.count("oidc.backchannel_logout.delivered") == 2
    assert "session.ended" in events and "oidc.logout" in events


def test_logout_confirmation_page_in_the_browser(
    app: Any,
    issuer: str,
    portals: tuple[RelyingParty, RelyingParty],
    page: Any,
    console_errors: list[str],
) -> None:
    """Without id_token_hint the person confirms on our page (Chinese first, English)."""
    make_person(app)
    rp_a, _ = portals
    page.goto(rp_a.base + "/start")
    page.fill("#login", ID_NUMBER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.click("#consent-allow")
    page.wait_for_url(re.compile(re.escape(rp_a.base) + r"/callback\?"))

    rp_a.logout_state = "from-confirmation"
    params = {
        "client_id": rp_a.client_id,
        "post_logout_redirect_uri": rp_a.base + "/bye",
        "state": rp_a.logout_state,
    }
    page.goto(issuer + "/logout?" + urlencode(params))
    assert page.locator("#logout-question").inner_text() == "确定要退出统一身份认证吗？"
    assert "门户 A" in page.locator("#logout-client").inner_text()
    page.click("a[hreflang=en]")
    assert page.locator("#logout-question").inner_text() == (
        "Do you want to log out of the unified identity service?"
    )
    page.click("#logout-confirm")
    page.wait_for_url(re.compile(re.escape(rp_a.base) + r"/bye\?state=from-confirmation"))
    assert rp_a.wait_for_logout()["sid"] == rp_a.id_tokens[0]["sid"]
    page.goto(issuer + "/account")
    page.wait_for_url(re.compile(re.escape(issuer) + r"/login\?"))
    assert console_errors == []
    assert json.loads([e for e in audit_events(app) if e.event == "oidc.logout"][-1].details)[
        "confirmed"
    ]
