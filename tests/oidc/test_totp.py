"""TOTP (RFC 6238): window, replay, recovery codes, second-factor login and step-up."""

from __future__ import annotations

import re
import time

import pyotp
import sqlalchemy as sa

from authority import db
from oidc import accounts, sessions, totp
from oidc.accounts import Person
from oidc.login import login_url
from tests.oidc.accounts_support import (
    ID1,
    PASSWORD,
    audit_events,
    csrf,
    login,
    make_person,
    totp_code,
)

SECRET = pyotp.random_base32(32)


def test_rfc6238_sha1_vector():
    # RFC 6238 Appendix B, SHA-1 seed "12345678901234567890", T = 59 s -> 94287082 (8 digits).
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert pyotp.TOTP(secret, digits=8).at(59) == "94287082"
    assert totp.matching_step(secret, pyotp.TOTP(secret).at(59), now=59) == 1


def test_window_is_one_step_each_way():
    now = 1_800_000_015
    t = pyotp.TOTP(SECRET)
    step = now // 30
    for delta in (-1, 0, 1):
        assert totp.matching_step(SECRET, t.at(now + 30 * delta), now=now) == step + delta
    for delta in (-2, 2):
        code = t.at(now + 30 * delta)
        if all(code != t.at(now + 30 * d) for d in (-1, 0, 1)):
            assert totp.matching_step(SECRET, code, now=now) is None
    assert totp.matching_step(SECRET, "abc123", now=now) is None
    assert totp.matching_step(SECRET, "", now=now) is None


def test_a_code_is_accepted_once(app):
    person_id = make_person(app, totp_secret=SECRET)
    code = totp_code(SECRET)
    with app.app_context(), db.session_scope(app) as session:
        person = session.get(Person, person_id)
        assert totp.verify_totp(session, person, code)
        assert not totp.verify_totp(session, person, code)
        # An earlier step is refused after a later one was used.
        assert not totp.verify_totp(session, person, totp_code(SECRET, offset_steps=-1))


def test_secret_is_encrypted_at_rest(app):
    make_person(app, totp_secret=SECRET)
    with app.app_context(), db.engine(app).connect() as conn:
        dump = repr(conn.execute(sa.text("SELECT * FROM persons")).all())
    assert SECRET not in dump


def test_recovery_codes_work_once_and_are_hashed(app):
    person_id = make_person(app, totp_secret=SECRET)
    with app.app_context(), db.session_scope(app) as session:
        person = session.get(Person, person_id)
        codes = totp.new_recovery_codes(session, person)
    assert len(codes) == 10 and len(set(codes)) == 10
    with app.app_context(), db.engine(app).connect() as conn:
        dump = repr(conn.execute(sa.text("SELECT * FROM recovery_codes")).all())
    assert all(c not in dump and c.replace("-", "") not in dump for c in codes)
    with app.app_context(), db.session_scope(app) as session:
        person = session.get(Person, person_id)
        assert totp.use_recovery_code(session, person, codes[0].upper().replace("-", " "))
        assert not totp.use_recovery_code(session, person, codes[0])
        assert not totp.use_recovery_code(session, person, "aaaaa-aaaaa")
        assert totp.remaining_recovery_codes(session, person) == 9
        # New codes replace the old ones.
        totp.new_recovery_codes(session, person)
        assert not totp.use_recovery_code(session, person, codes[1])


def test_enrolment_needs_a_matching_code(app):
    person_id = make_person(app)
    with app.app_context(), db.session_scope(app) as session:
        person = session.get(Person, person_id)
        secret = totp.begin_enrolment(person)
        assert not person.has_totp
        assert (
            totp.confirm_enrolment(
                session, person, "000000" if totp_code(secret) != "000000" else "111111"
            )
            is None
        )
        codes = totp.confirm_enrolment(session, person, totp_code(secret))
        assert codes is not None and len(codes) == 10
        assert person.has_totp and totp.pending_secret(person) is None
        # The confirming code cannot be used again to log in.
        assert not totp.verify_totp(session, person, totp_code(secret))


def test_provisioning_uri_and_qr_code():
    import base64
    import io

    import zxingcpp
    from PIL import Image

    uri = totp.provisioning_uri(SECRET, account="110105********451X", issuer="统一身份认证")
    assert uri.startswith("otpauth://totp/") and f"secret={SECRET}" in uri
    data = totp.qr_data_uri(uri)
    assert data.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1])))
    decoded = zxingcpp.read_barcodes(image)
    assert [r.text for r in decoded] == [uri]


# ---------------------------------------------------------------- second-factor login over HTTP


def _mfa_post(client, code, next_url="/account"):
    page = client.get(f"/login/mfa?next={next_url}")
    return client.post(
        "/login/mfa",
        data={"csrf_token": csrf(page.get_data(as_text=True)), "code": code, "next": next_url},
    )


def _sso_rows(app):
    with app.app_context(), db.session_scope(app) as session:
        return [
            (s.acr, list(s.amr), s.sid, s.auth_time)
            for s in session.scalars(sa.select(sessions.SSOSession))
        ]


def test_login_with_totp(app, client):
    make_person(app, totp_secret=SECRET)
    response = login(client, next_url="/after")
    assert response.status_code == 303 and response.headers["Location"].startswith("/login/mfa?")
    # No session yet: the password alone opens nothing.
    assert _sso_rows(app) == []
    assert client.get("/account").status_code == 303
    wrong = _mfa_post(client, "000000" if totp_code(SECRET) != "000000" else "111111")
    assert wrong.status_code == 200 and "验证码不正确" in wrong.get_data(as_text=True)
    ok = _mfa_post(client, totp_code(SECRET), next_url="/after")
    assert ok.status_code == 303 and ok.headers["Location"] == "/after"
    [(acr, amr, _sid, _t)] = _sso_rows(app)
    assert acr == accounts.ACR_MFA and amr == ["pwd", "otp"]
    assert client.get("/account").status_code == 200
    assert client.get_cookie(sessions.FLOW_COOKIE) is None


def test_totp_code_cannot_be_replayed_in_another_login(app, client):
    make_person(app, totp_secret=SECRET)
    code = totp_code(SECRET)
    login(client)
    assert _mfa_post(client, code).status_code == 303
    other = app.test_client()
    login(other)
    replay = _mfa_post(other, code)
    assert replay.status_code == 200 and "已使用" in replay.get_data(as_text=True)


def test_recovery_code_logs_in_once(app, client):
    person_id = make_person(app, totp_secret=SECRET)
    with app.app_context(), db.session_scope(app) as session:
        codes = totp.new_recovery_codes(session, session.get(Person, person_id))
    login(client)
    ok = _mfa_post(client, codes[3])
    assert ok.status_code == 303
    assert "还剩 9 个" in client.get("/account").get_data(as_text=True)
    other = app.test_client()
    login(other)
    assert _mfa_post(other, codes[3]).status_code == 200
    assert "mfa.recovery_code_used" in [e.event for e in audit_events(app)]


def test_second_factor_failures_count_towards_lockout(app, client):
    make_person(app, totp_secret=SECRET)
    login(client)
    bad = "000000" if totp_code(SECRET) != "000000" else "111111"
    statuses = [_mfa_post(client, bad).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    locked = _mfa_post(client, totp_code(SECRET))
    assert locked.status_code == 429 and "已暂时锁定" in locked.get_data(as_text=True)


def test_mfa_page_without_pending_login_goes_to_login(client):
    response = client.get("/login/mfa?next=/x")
    assert response.status_code == 303 and response.headers["Location"].startswith("/login?")


def test_pending_login_expires(app, client):
    make_person(app, totp_secret=SECRET)
    login(client)
    with app.app_context(), db.engine(app).begin() as conn:
        conn.execute(sa.update(sessions.LoginFlow).values(expires_at=int(time.time()) - 1))
    response = client.get("/login/mfa")
    assert response.status_code == 303 and response.headers["Location"].startswith("/login?")


def test_step_up_upgrades_a_password_session_without_the_password(app, client):
    person_id = make_person(app)
    login(client)
    [(acr, amr, sid, _)] = _sso_rows(app)
    assert acr == accounts.ACR_PASSWORD and amr == ["pwd"]
    # The person enrols TOTP later (directly here; the page is tested elsewhere).
    with app.app_context(), db.session_scope(app) as session:
        from authority import pii

        session.get(Person, person_id).totp_secret_cipher = pii.encrypt(SECRET, field="totp_secret")
    old_cookie = client.get_cookie(sessions.COOKIE).value
    with app.test_request_context():
        url = login_url("/authorize?client_id=x", require_mfa=True)
    response = client.get(url)
    assert response.status_code == 303 and response.headers["Location"].startswith("/login/mfa?")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="password"' not in html
    done = client.post(
        "/login/mfa",
        data={
            "csrf_token": csrf(html),
            "code": totp_code(SECRET),
            "next": "/authorize?client_id=x",
            "mfa": "1",
        },
    )
    assert done.status_code == 303 and done.headers["Location"] == "/authorize?client_id=x"
    [(acr, amr, sid_after, _)] = _sso_rows(app)
    assert acr == accounts.ACR_MFA and amr == ["pwd", "otp"] and sid_after == sid
    assert client.get_cookie(sessions.COOKIE).value != old_cookie
    assert "login.step_up" in [e.event for e in audit_events(app)]


def test_required_second_factor_not_enrolled_says_so(app, client):
    make_person(app)
    with app.test_request_context():
        url = login_url("/authorize?client_id=x", require_mfa=True)
    page = client.get(url).get_data(as_text=True)
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf(page),
            "login": ID1,
            "password": PASSWORD,
            "next": "/authorize?client_id=x",
            "mfa": "1",
        },
    )
    assert response.status_code == 303 and response.headers["Location"].startswith("/login/mfa")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "尚未设置" in html
    # Enrolling from there leads back to the client's request.
    enrol = re.search(r'href="([^"]+)" id="mfa-enrol"', html).group(1).replace("&amp;", "&")
    assert enrol.startswith("/account/totp?next=")
    page = client.get(enrol).get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    done = client.post(enrol, data={"csrf_token": csrf(page), "code": totp_code(secret)})
    assert 'id="codes-done" href="/authorize?client_id=x"' in done.get_data(as_text=True)
    with app.app_context(), db.session_scope(app) as session:
        assert session.scalars(sa.select(sessions.SSOSession.acr)).one() == accounts.ACR_MFA
