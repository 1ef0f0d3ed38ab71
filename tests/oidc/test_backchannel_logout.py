"""Back-Channel Logout 1.0: logout tokens POSTed to real receivers on loopback ports.

Each relying party's ``backchannel_logout_uri`` is a little HTTP server in a thread
(tests/oidc/logout_support.py). Tokens are checked against the published JWKS with
joserfc. A receiver that fails or hangs must not keep the person from logging out,
and the failure must be in the audit log (without the token).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.oidc.accounts_support import audit_events
from tests.oidc.logout_support import Receiver, check_logout_claims, verify_logout_token
from tests.oidc.provider_support import (
    OTHER_ID_NUMBER,
    get_code,
    jwt_parts,
    login,
    make_client,
    make_person,
    redeem,
    token_request,
)

ISSUER = "http://127.0.0.1:5000"


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


@pytest.fixture
def settle(app: Any) -> Iterator[Any]:
    """Waits for the app's pending deliveries (also at teardown, before tables are emptied)."""
    from oidc import backchannel

    def wait() -> None:
        assert backchannel.dispatcher(app).wait(30), "back-channel deliveries still pending"

    yield wait
    wait()


def _receiver(receivers: list[Receiver], status: int = 200, *, hang: bool = False) -> Receiver:
    receiver = Receiver(status, hang=hang)
    receivers.append(receiver)
    return receiver


def _rp(app: Any, receiver: Receiver | None, host: str = "rp.example.com", **extra: Any) -> Any:
    metadata: dict[str, Any] = {"redirect_uris": [f"https://{host}/callback"], **extra}
    if receiver is not None:
        metadata["backchannel_logout_uri"] = receiver.uri
    return make_client(app, **metadata)


def _sign_in(http: Any, rp: Any, host: str = "rp.example.com") -> dict[str, Any]:
    client_id, secret = rp
    redirect_uri = f"https://{host}/callback"
    code, _ = get_code(http, client_id, redirect_uri=redirect_uri)
    response = token_request(
        http,
        client_id,
        secret,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.json)


def _events(app: Any, name: str) -> list[Any]:
    return [e for e in audit_events(app) if e.event == name]


def test_every_client_of_the_session_gets_a_signed_logout_token(
    app: Any, browser_client: Any, receivers: list[Receiver], settle: Any
) -> None:
    first, second = _receiver(receivers), _receiver(receivers)
    rp_a = _rp(app, first)
    rp_b = _rp(app, second, host="portal-b.example.org")
    rp_quiet = _rp(app, None, host="quiet.example.org")
    tokens_a = _sign_in(browser_client, rp_a)
    tokens_b = _sign_in(browser_client, rp_b, host="portal-b.example.org")
    _sign_in(browser_client, rp_quiet, host="quiet.example.org")

    response = browser_client.get("/logout?id_token_hint=" + tokens_a["id_token"])
    assert response.status_code == 200
    settle()

    jwks = browser_client.get("/jwks.json").json
    for receiver, rp, tokens in ((first, rp_a, tokens_a), (second, rp_b, tokens_b)):
        [logout_token] = receiver.wait_for(1)
        assert receiver.headers[0]["Content-Type"] == "application/x-www-form-urlencoded"
        header, claims = verify_logout_token(logout_token, jwks)
        assert header["typ"] == "logout+jwt" and header["alg"] == "RS256"
        check_logout_claims(claims, issuer=ISSUER, client_id=rp[0])
        _, id_claims, _, _ = jwt_parts(tokens["id_token"])
        # sid of the session, and the subject *this* client knows (pairwise per sector).
        assert claims["sid"] == id_claims["sid"]
        assert claims["sub"] == id_claims["sub"]
    assert _claims(first)["sub"] != _claims(second)["sub"]
    assert _claims(first)["jti"] != _claims(second)["jti"]

    delivered = _events(app, "oidc.backchannel_logout.delivered")
    assert sorted(e.subject for e in delivered) == sorted([rp_a[0], rp_b[0]])
    assert json.loads(delivered[0].details)["attempts"] == 1
    assert _events(app, "oidc.backchannel_logout.failed") == []


def _claims(receiver: Receiver) -> dict[str, Any]:
    return jwt_parts(receiver.tokens[0])[1]


def test_logout_token_uses_the_clients_signing_algorithm(
    app: Any, browser_client: Any, receivers: list[Receiver], settle: Any
) -> None:
    receiver = _receiver(receivers)
    rp = _rp(app, receiver, id_token_signed_response_alg="ES256")
    tokens = _sign_in(browser_client, rp)
    browser_client.get("/logout?id_token_hint=" + tokens["id_token"])
    settle()
    [logout_token] = receiver.wait_for(1)
    header, claims = verify_logout_token(logout_token, browser_client.get("/jwks.json").json)
    assert header["alg"] == "ES256" and header["typ"] == "logout+jwt"
    check_logout_claims(claims, issuer=ISSUER, client_id=rp[0])


@pytest.mark.parametrize("status", [500, 503])
def test_failing_client_is_retried_logged_and_does_not_block(
    app: Any,
    browser_client: Any,
    receivers: list[Receiver],
    settle: Any,
    caplog: Any,
    status: int,
) -> None:
    broken, fine = _receiver(receivers, status), _receiver(receivers)
    rp_broken = _rp(app, broken)
    rp_fine = _rp(app, fine, host="portal-b.example.org")
    tokens = _sign_in(browser_client, rp_broken)
    _sign_in(browser_client, rp_fine, host="portal-b.example.org")
    caplog.set_level(logging.WARNING, logger="oidc.backchannel")

    response = browser_client.get("/logout?id_token_hint=" + tokens["id_token"])
    assert response.status_code == 200
    assert browser_client.get("/account").status_code == 303  # logged out
    settle()

    from oidc import backchannel

    assert len(broken.wait_for(backchannel.MAX_ATTEMPTS)) == backchannel.MAX_ATTEMPTS
    assert len(fine.wait_for(1)) == 1
    [failed] = _events(app, "oidc.backchannel_logout.failed")
    assert failed.subject == rp_broken[0]
    details = json.loads(failed.details)
    assert details == {
        "uri": broken.uri,
        "attempts": backchannel.MAX_ATTEMPTS,
        "outcome": f"http_{status}",
    }
    assert [e.subject for e in _events(app, "oidc.backchannel_logout.delivered")] == [rp_fine[0]]
    assert f"client {rp_broken[0]} failed after 3 attempt(s): http_{status}" in caplog.text
    for token in broken.tokens + fine.tokens:
        assert token not in caplog.text
        assert all(token not in (e.details or "") for e in audit_events(app))


def test_client_refusing_the_token_is_not_retried(
    app: Any, browser_client: Any, receivers: list[Receiver], settle: Any
) -> None:
    refusing = _receiver(receivers, 400)
    rp = _rp(app, refusing)
    tokens = _sign_in(browser_client, rp)
    browser_client.get("/logout?id_token_hint=" + tokens["id_token"])
    settle()
    assert len(refusing.wait_for(1)) == 1
    [failed] = _events(app, "oidc.backchannel_logout.failed")
    assert json.loads(failed.details)["attempts"] == 1
    assert json.loads(failed.details)["outcome"] == "http_400"


def test_hanging_client_does_not_hold_up_the_logout(
    app: Any,
    browser_client: Any,
    receivers: list[Receiver],
    settle: Any,
    monkeypatch: Any,
) -> None:
    from oidc import backchannel

    monkeypatch.setattr(backchannel, "ATTEMPT_TIMEOUT", 1.0)
    monkeypatch.setattr(backchannel, "BACKOFF", (0.1, 0.1))
    hanging = _receiver(receivers, hang=True)
    rp = _rp(app, hanging)
    tokens = _sign_in(browser_client, rp)

    response = browser_client.get("/logout?id_token_hint=" + tokens["id_token"])
    # The answer came back while the delivery was still in flight: had the logout waited
    # for it, all three attempts (each ending in a timeout) would already be recorded.
    assert response.status_code == 200
    assert "您已退出登录" in response.get_data(as_text=True)
    assert _events(app, "oidc.backchannel_logout.failed") == []
    assert browser_client.get("/account").status_code == 303

    settle()
    [failed] = _events(app, "oidc.backchannel_logout.failed")
    details = json.loads(failed.details)
    assert details["outcome"] == "timeout" and details["attempts"] == backchannel.MAX_ATTEMPTS
    assert len(hanging.bodies) == backchannel.MAX_ATTEMPTS


def test_unreachable_client_is_logged(
    app: Any, browser_client: Any, receivers: list[Receiver], settle: Any
) -> None:
    gone = _receiver(receivers)
    rp = _rp(app, gone)
    tokens = _sign_in(browser_client, rp)
    gone.close()  # nothing listens on its port any more
    browser_client.get("/logout?id_token_hint=" + tokens["id_token"])
    settle()
    [failed] = _events(app, "oidc.backchannel_logout.failed")
    assert json.loads(failed.details)["outcome"] == "connection_error"


def test_another_person_logging_in_logs_the_first_out_of_their_clients(
    app: Any, browser_client: Any, receivers: list[Receiver], settle: Any
) -> None:
    receiver = _receiver(receivers)
    rp = _rp(app, receiver)
    tokens = _sign_in(browser_client, rp)
    make_person(app, OTHER_ID_NUMBER, name="李四", phone=None)
    page = browser_client.get("/login?next=/account&prompt=login")
    from tests.oidc.provider_support import hidden_fields

    fields = hidden_fields(page.get_data(as_text=True))
    fields.update(login=OTHER_ID_NUMBER, password="correct-horse-battery-9")
    assert browser_client.post("/login", data=fields).status_code in (302, 303)
    settle()

    [logout_token] = receiver.wait_for(1)
    claims = jwt_parts(logout_token)[1]
    assert claims["sid"] == jwt_parts(tokens["id_token"])[1]["sid"]
    assert claims["sub"] == jwt_parts(tokens["id_token"])[1]["sub"]
    # The first person's tokens from that session are revoked too (in the background).
    refreshed = token_request(
        browser_client,
        rp[0],
        rp[1],
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"


def test_clients_of_other_sessions_are_not_told(
    app: Any, browser_client: Any, receivers: list[Receiver], settle: Any
) -> None:
    receiver = _receiver(receivers)
    rp = _rp(app, receiver)
    other_browser = app.test_client()
    assert login(other_browser).status_code in (302, 303)
    _sign_in(other_browser, rp)
    tokens = _sign_in(browser_client, rp)
    browser_client.get("/logout?id_token_hint=" + tokens["id_token"])
    settle()
    [logout_token] = receiver.wait_for(1)
    assert jwt_parts(logout_token)[1]["sid"] == jwt_parts(tokens["id_token"])[1]["sid"]
    assert other_browser.get("/account").status_code == 200


def test_clients_without_a_backchannel_uri_get_nothing(browser_client: Any, app: Any) -> None:
    # The default client of the provider's helpers has no back-channel URI: a logout
    # sends nothing and records no delivery.
    rp = make_client(app)
    code, _ = get_code(browser_client, rp[0])
    tokens = redeem(browser_client, rp[0], rp[1], code).json
    browser_client.get("/logout?id_token_hint=" + tokens["id_token"])
    from oidc import backchannel

    assert backchannel.dispatcher(app).wait(10)
    assert _events(app, "oidc.backchannel_logout.delivered") == []
    assert _events(app, "oidc.backchannel_logout.failed") == []


def test_logout_token_passes_pyoidc_validation(
    app: Any, browser_client: Any, receivers: list[Receiver], settle: Any
) -> None:
    """An unmodified standard RP library accepts our logout token (signature and claims)."""
    from jwkest import BadSignature
    from oic.oic.message import LogoutToken
    from oic.utils.keyio import KeyBundle, KeyJar

    receiver = _receiver(receivers)
    rp = _rp(app, receiver)
    tokens = _sign_in(browser_client, rp)
    browser_client.get("/logout?id_token_hint=" + tokens["id_token"])
    settle()
    [raw] = receiver.wait_for(1)

    jwks = browser_client.get("/jwks.json").json
    keyjar = KeyJar()
    keyjar.add_kb(ISSUER, KeyBundle([k for k in jwks["keys"] if k.get("crv") != "SM2"]))
    token = LogoutToken().from_jwt(raw, keyjar=keyjar)
    assert token.verify(iss=ISSUER, aud=rp[0], keyjar=keyjar)
    assert token["sid"] == jwt_parts(tokens["id_token"])[1]["sid"]
    # And a tampered one is refused by the library.
    head, _, signature = raw.split(".")
    claims = {**jwt_parts(raw)[1], "sid": "another-session"}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(BadSignature):
        LogoutToken().from_jwt(f"{head}.{payload}.{signature}", keyjar=keyjar)


def test_sessions_ended_outside_a_request_are_announced(
    app: Any, browser_client: Any, person: int, receivers: list[Receiver], settle: Any
) -> None:
    """Operator commands end sessions in an app context, with no request: still announced."""
    from authority import db
    from oidc import sessions

    receiver = _receiver(receivers)
    rp = _rp(app, receiver)
    tokens = _sign_in(browser_client, rp)
    with app.app_context():
        session = db.session()
        ended = sessions.end_sessions_of(person, reason="disabled")
        session.commit()
        sessions.notify_ended(ended)
    settle()
    [raw] = receiver.wait_for(1)
    assert jwt_parts(raw)[1]["sid"] == jwt_parts(tokens["id_token"])[1]["sid"]
    assert browser_client.get("/account").status_code == 303
    # The session's tokens were revoked in the background.
    refreshed = token_request(
        browser_client,
        rp[0],
        rp[1],
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
