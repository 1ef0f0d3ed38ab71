"""The account page: profile, password change, TOTP enrolment, recovery codes, connected apps."""

from __future__ import annotations

import re

import sqlalchemy as sa

from authority import db
from oidc import sessions, totp
from oidc.accounts import Person
from tests.oidc.accounts_support import (
    ID1,
    PASSWORD,
    PHONE,
    audit_events,
    csrf,
    login,
    make_org,
    make_person,
    totp_code,
)

NEW_PASSWORD = "a brand new passphrase"


def _account_form(client, action, data):
    page = client.get("/account")
    assert page.status_code == 200
    return client.post(action, data={"csrf_token": csrf(page.get_data(as_text=True)), **data})


def test_account_page_needs_a_session(client):
    response = client.get("/account")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=%2Faccount")


def test_profile_shows_masked_identifiers_only(app, client):
    person_id = make_person(app)
    make_org(app, person_id)
    login(client, next_url="/account")
    html = client.get("/account").get_data(as_text=True)
    assert "张三" in html
    assert ID1[:6] + "********" + ID1[-4:] in html and ID1 not in html
    assert "138****8000" in html and PHONE not in html
    assert "北京示例科技有限公司" in html and "法定代表人" in html
    english = client.get("/account?lang=en").get_data(as_text=True)
    assert "My account" in english and "Legal representative" in english


def test_change_password(app, client):
    make_person(app)
    login(client)
    other_device = app.test_client()
    login(other_device)
    assert other_device.get("/account").status_code == 200

    wrong = _account_form(
        client,
        "/account/password",
        {
            "current_password": "nope nope",
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 303
    assert "当前密码不正确" in client.get("/account").get_data(as_text=True)

    _account_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": "x"},
    )
    assert "不一致" in client.get("/account").get_data(as_text=True)

    _account_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
    )
    assert "至少需要 8 个字符" in client.get("/account").get_data(as_text=True)

    done = _account_form(
        client,
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert done.status_code == 303
    assert "密码已修改" in client.get("/account").get_data(as_text=True)
    # This browser stays logged in; the other device is logged out.
    assert client.get("/account").status_code == 200
    assert other_device.get("/account").status_code == 303
    # Old password refused, new one accepted.
    fresh = app.test_client()
    assert "账号或密码不正确" in login(fresh, ID1, PASSWORD).get_data(as_text=True)
    assert login(fresh, ID1, NEW_PASSWORD).status_code == 303
    [changed] = [e for e in audit_events(app) if e.event == "account.password_changed"]
    assert '"other_sessions_ended":1' in changed.details.replace(" ", "")


def test_wrong_current_passwords_lock_like_failed_logins(app, client):
    make_person(app)
    login(client)
    for _ in range(5):
        _account_form(
            client,
            "/account/password",
            {
                "current_password": "guess guess",
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            },
        )
    _account_form(
        client,
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert "已暂时锁定" in client.get("/account").get_data(as_text=True)
    # The lock holds for logins too, and the password did not change.
    assert login(app.test_client(), ID1, PASSWORD).status_code == 429
    from oidc import passwords

    with app.app_context(), db.session_scope(app) as session:
        stored = session.scalars(sa.select(Person.password_hash)).one()
        assert passwords.verify(stored, PASSWORD).ok


def _enrol(app, client):
    page = client.get("/account/totp")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="data:image/png;base64,' in html
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    wrong = client.post(
        "/account/totp",
        data={"csrf_token": csrf(html), "code": "000000" if totp_code(secret) != "000000" else "1"},
    )
    assert wrong.status_code == 400 and "动态码不正确" in wrong.get_data(as_text=True)
    done = client.post("/account/totp", data={"csrf_token": csrf(html), "code": totp_code(secret)})
    assert done.status_code == 200
    codes = re.findall(
        r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", done.get_data(as_text=True)
    )
    assert len(codes) == 10
    return secret, codes


def test_totp_enrolment_then_mfa_login(app, client):
    make_person(app)
    login(client)
    _secret, codes = _enrol(app, client)
    html = client.get("/account").get_data(as_text=True)
    assert "已开启" in html and "剩余恢复码：10 个" in html
    # The codes are shown once: the account page does not repeat them.
    assert all(code not in html for code in codes)
    assert "mfa.enrolled" in [e.event for e in audit_events(app)]
    # Enrolling proved the second factor: this session is now multi-factor.
    with app.app_context(), db.session_scope(app) as session:
        assert session.scalars(sa.select(sessions.SSOSession.acr)).one().endswith(":mfa")
    # A new login asks for the code.
    fresh = app.test_client()
    response = login(fresh)
    assert response.headers["Location"].startswith("/login/mfa")
    page = fresh.get(response.headers["Location"]).get_data(as_text=True)
    done = fresh.post(
        "/login/mfa",
        data={"csrf_token": csrf(page), "code": codes[0], "next": "/account"},
    )
    assert done.status_code == 303 and fresh.get("/account").status_code == 200


def test_enrolment_needs_a_recent_login(app, client):
    make_person(app)
    login(client)
    with app.app_context(), db.engine(app).begin() as conn:
        conn.execute(
            sa.update(sessions.SSOSession).values(auth_time=sessions.SSOSession.auth_time - 3600)
        )
    response = client.get("/account/totp")
    assert response.status_code == 303
    assert "prompt=login" in response.headers["Location"]


def test_recovery_codes_and_disable_need_the_password(app, client):
    person_id = make_person(app)
    login(client)
    _secret, codes = _enrol(app, client)
    refused = _account_form(client, "/account/recovery-codes", {"current_password": "nope nope"})
    assert refused.status_code == 303
    fresh = _account_form(client, "/account/recovery-codes", {"current_password": PASSWORD})
    new_codes = re.findall(r"<li><code>([a-z0-9-]{11})</code></li>", fresh.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    _account_form(client, "/account/totp/disable", {"current_password": "nope nope"})
    with app.app_context(), db.session_scope(app) as session:
        assert session.get(Person, person_id).has_totp
    _account_form(client, "/account/totp/disable", {"current_password": PASSWORD})
    with app.app_context(), db.session_scope(app) as session:
        person = session.get(Person, person_id)
        assert not person.has_totp and totp.remaining_recovery_codes(session, person) == 0
    assert login(app.test_client()).headers["Location"] == "/account"


def test_connected_apps_can_be_revoked(app, client):
    from oidc import clients, consents

    person_id = make_person(app)
    with app.app_context(), db.session_scope(app) as session:
        portal, _ = clients.create(
            session,
            {
                "client_name": "示例门户",
                "redirect_uris": ["https://portal.example/cb"],
                "scope": "openid profile",
            },
        )
        consents.grant(session, person_id, portal, {"openid", "profile"})
        client_id = portal.client_id
    login(client)
    html = client.get("/account").get_data(as_text=True)
    assert "示例门户" in html and "openid profile" in html
    response = _account_form(client, "/account/apps/revoke", {"client_id": client_id})
    assert response.status_code == 303
    html = client.get("/account").get_data(as_text=True)
    assert "已取消授权" in html and "示例门户" not in html
    again = _account_form(client, "/account/apps/revoke", {"client_id": client_id})
    assert again.status_code == 303
    assert "没有找到该授权" in client.get("/account").get_data(as_text=True)


def test_account_forms_need_csrf(app, client):
    make_person(app)
    login(client)
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 400 and "表单已过期" in response.get_data(as_text=True)


def test_account_page_offers_logout(app, client):
    """A person who came to the account page directly can log out from it."""
    make_person(app)
    login(client)
    html = client.get("/account").get_data(as_text=True)
    href = re.search(r'id="account-logout" href="([^"]+)"', html)
    assert href, "no logout link on the account page"
    confirm = client.get(href.group(1))
    assert confirm.status_code == 200 and 'id="logout-confirm"' in confirm.get_data(as_text=True)
    done = client.post("/logout/confirm", data={"csrf_token": csrf(confirm.get_data(as_text=True))})
    assert done.status_code in (200, 303)
    assert client.get("/account").status_code == 303  # back to the login page
