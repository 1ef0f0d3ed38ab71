"""The password login page: identifiers, uniform errors, redirects, CSRF, audit."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from authority import db
from oidc import sessions
from oidc.accounts import Person
from oidc.login import login_url, safe_next
from tests.oidc.accounts_support import (
    ID1,
    ID2,
    PASSWORD,
    PHONE,
    audit_events,
    csrf,
    login,
    make_org,
    make_person,
)


def test_login_page_is_chinese_by_default_and_english_on_request(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "身份证号或手机号" in html and 'name="csrf_token"' in html
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "ID number or mobile number" in english


@pytest.mark.parametrize("typed", [ID1, ID1.lower(), PHONE, "+86 138 0013 8000"])
def test_login_with_id_number_or_phone(app, client, typed):
    make_person(app)
    response = login(client, typed, next_url="/account?tab=1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account?tab=1"
    cookie = response.headers.getlist("Set-Cookie")
    sso_cookie = next(c for c in cookie if c.startswith(sessions.COOKIE + "="))
    assert "HttpOnly" in sso_cookie and "SameSite=Lax" in sso_cookie
    assert client.get("/account").status_code == 200


def test_wrong_password_and_unknown_login_look_the_same(app, client):
    make_person(app)
    wrong = login(client, ID1, "wrong password!")
    unknown = login(client, ID2, "wrong password!")
    garbage = login(client, "not-an-id", "wrong password!")
    texts = []
    for response in (wrong, unknown, garbage):
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "账号或密码不正确" in html
        texts.append(html.split('id="login-error">')[1].split("<")[0])
    assert len(set(texts)) == 1
    assert sessions.COOKIE not in str(wrong.headers)


def test_person_without_password_or_disabled_cannot_log_in(app, client):
    person_id = make_person(app, password=None)
    assert "账号或密码不正确" in login(client, ID1, "").get_data(as_text=True)
    with app.app_context(), db.session_scope(app) as session:
        from oidc import accounts

        person = session.get(Person, person_id)
        accounts.set_password(person, PASSWORD)
        person.disabled = True
    assert "账号或密码不正确" in login(client).get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:x=1".replace("%0d%0a", "\r\n"),
        "evil.example",
        "",
        "/" + "a" * 5000,
    ],
)
def test_next_must_be_a_local_path(app, client, target):
    assert safe_next(target) == "/account"
    make_person(app)
    response = login(client, next_url=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/account"


def test_next_keeps_local_paths_with_queries():
    assert safe_next("/authorize?client_id=a&state=b%20c") == "/authorize?client_id=a&state=b%20c"


def test_login_redirect_carries_its_options(app):
    with app.test_request_context():
        url = login_url("/authorize?x=1", force=True, require_mfa=True, login_hint=PHONE)
    parts = urlsplit(url)
    assert parts.path == "/login"
    assert parse_qs(parts.query) == {
        "next": ["/authorize?x=1"],
        "prompt": ["login"],
        "mfa": ["1"],
        "login_hint": [PHONE],
    }


def test_login_hint_prefills_the_field(client):
    html = client.get(f"/login?login_hint={PHONE}").get_data(as_text=True)
    assert f'value="{PHONE}"' in html


def test_live_session_skips_the_form_unless_forced(app, client):
    make_person(app)
    login(client)
    response = client.get("/login?next=/somewhere")
    assert response.status_code == 303 and response.headers["Location"] == "/somewhere"
    forced = client.get("/login?next=/somewhere&prompt=login")
    assert forced.status_code == 200 and "请重新输入密码" in forced.get_data(as_text=True)


def test_forced_login_keeps_the_sid_and_issues_a_new_cookie(app, client):
    make_person(app)
    first = login(client)
    old_cookie = client.get_cookie(sessions.COOKIE).value
    with app.app_context(), db.session_scope(app) as session:
        sid = session.scalars(sa.select(sessions.SSOSession.sid)).one()
    second = login(client, force=True)
    assert first.status_code == second.status_code == 303
    assert client.get_cookie(sessions.COOKIE).value != old_cookie
    with app.app_context(), db.session_scope(app) as session:
        assert session.scalars(sa.select(sessions.SSOSession.sid)).all() == [sid]


def test_missing_or_wrong_csrf_token_gives_a_readable_400(app, client):
    make_person(app)
    response = client.post("/login", data={"login": ID1, "password": PASSWORD})
    assert response.status_code == 400
    assert "表单已过期" in response.get_data(as_text=True)
    client.get("/login")
    response = client.post(
        "/login?lang=en", data={"login": ID1, "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    assert sessions.COOKIE not in str(response.headers)


def test_audit_records_logins_without_secrets(app, client):
    make_person(app)
    login(client, ID1, "wrong password!")
    login(client, PHONE, PASSWORD)
    events = audit_events(app)
    names = [e.event for e in events]
    assert "login.failure" in names and "login.success" in names
    for entry in events:
        text = f"{entry.actor} {entry.subject} {entry.details}"
        assert ID1 not in text and PHONE not in text
        assert PASSWORD not in text and "wrong password" not in text
    success = next(e for e in events if e.event == "login.success")
    assert success.subject == "138****8000"
    assert "urn:authority:acr:pwd" in success.details


def test_password_is_rehashed_when_parameters_change(app, client):
    from oidc.passwords import CONFIG_KEY

    app.config[CONFIG_KEY] = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}
    person_id = make_person(app)
    with app.app_context(), db.session_scope(app) as session:
        old = session.get(Person, person_id).password_hash
    assert "t=1" in old
    app.config[CONFIG_KEY] = {"time_cost": 2, "memory_cost": 8192, "parallelism": 1}
    assert login(client).status_code == 303
    with app.app_context(), db.session_scope(app) as session:
        new = session.get(Person, person_id).password_hash
    assert new != old and "t=2" in new
    # The new hash works too (and is not re-hashed again).
    assert login(client, force=True).status_code == 303
    with app.app_context(), db.session_scope(app) as session:
        assert session.get(Person, person_id).password_hash == new


def test_agent_is_offered_the_organisation_choice(app, client):
    person_id = make_person(app)
    org_id = make_org(app, person_id)
    response = login(client, next_url="/after")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login/organisation?next=")
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert "以个人身份办事" in html and "北京示例科技有限公司" in html and "法定代表人" in html
    chosen = client.post(
        "/login/organisation",
        data={"csrf_token": csrf(html), "act_as": str(org_id), "next": "/after"},
    )
    assert chosen.status_code == 303 and chosen.headers["Location"] == "/after"
    with app.app_context(), db.session_scope(app) as session:
        assert session.scalars(sa.select(sessions.SSOSession.acting_org_id)).one() == org_id
    # Back to acting as oneself.
    page = client.get("/login/organisation?next=/after").get_data(as_text=True)
    client.post(
        "/login/organisation", data={"csrf_token": csrf(page), "act_as": "self", "next": "/x"}
    )
    with app.app_context(), db.session_scope(app) as session:
        assert session.scalars(sa.select(sessions.SSOSession.acting_org_id)).one() is None


def test_organisation_choice_refuses_foreign_organisations(app, client):
    from tests.oidc.accounts_support import credit_code

    person_id = make_person(app)
    other = make_person(app, id_no=ID2, phone=None)
    make_org(app, person_id)
    foreign = make_org(app, other, code=credit_code("91440300MA02B4CP0"), name="别人的公司")
    login(client)
    html = client.get("/login/organisation").get_data(as_text=True)
    assert "别人的公司" not in html
    refused = client.post(
        "/login/organisation", data={"csrf_token": csrf(html), "act_as": str(foreign)}
    )
    assert refused.status_code == 403
    bad = client.post("/login/organisation", data={"csrf_token": csrf(html), "act_as": "x"})
    assert bad.status_code == 400
    with app.app_context(), db.session_scope(app) as session:
        assert session.scalars(sa.select(sessions.SSOSession.acting_org_id)).one() is None


def test_organisation_choice_needs_a_session(client):
    response = client.get("/login/organisation?next=/x")
    assert response.status_code == 303 and response.headers["Location"].startswith("/login?")


def test_unknown_login_costs_one_argon2_verification_like_a_wrong_password(
    app, client, monkeypatch
):
    """Same work for every refusal (no timing oracle), checked by counting, not timing."""
    from argon2 import PasswordHasher

    make_person(app)
    login(client, ID2, "warm up the dummy hash")
    calls = []
    real_verify = PasswordHasher.verify

    def counting_verify(self, hash, password):
        calls.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    for login_id in (ID1, ID2, "garbage", PHONE):
        calls.clear()
        login(client, login_id, "wrong password!")
        assert len(calls) == 1, login_id
        assert calls[0].startswith("$argon2id$")


def test_nothing_personal_reaches_the_logs(app, client, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    make_person(app)
    login(client, ID1, "wrong password!")
    login(client, PHONE, PASSWORD)
    client.get(f"/login?login_hint={PHONE}&prompt=login")
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records  # the requests were logged...
    for secret in (ID1, PHONE, PASSWORD, "wrong password!"):
        assert secret not in text  # ...without personal data or passwords
