"""``authority accounts ...`` through Click's runner, and the demo accounts."""

from __future__ import annotations

import sqlalchemy as sa

from authority import db
from oidc import accounts, sessions
from oidc.accounts import Person
from tests.oidc.accounts_support import (
    ID1,
    ID2,
    ORG1,
    PASSWORD,
    PHONE,
    audit_events,
    login,
    make_person,
)


def test_create_person_link_and_list(app, runner):
    result = runner.invoke(
        args=["accounts", "create-person", "--id-number", ID1, "--name", "张三", "--phone", PHONE],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "created person 110105********" in result.output
    assert PASSWORD not in result.output and ID1 not in result.output
    result = runner.invoke(
        args=["accounts", "create-org", "--credit-code", ORG1, "--name", "北京示例科技有限公司"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=[
            "accounts",
            "link-agent",
            "--id-number",
            ID1,
            "--credit-code",
            ORG1,
            "--role",
            "legal_representative",
        ]
    )
    assert result.exit_code == 0, result.output
    listing = runner.invoke(args=["accounts", "list"])
    assert listing.exit_code == 0
    assert "persons: 1" in listing.output and "138****8000" in listing.output
    assert f"legal_representative: {ID1[:6]}********{ID1[-4:]} 张三" in listing.output
    assert ID1 not in listing.output and PHONE not in listing.output
    # The person can log in with what the operator set.
    assert login(app.test_client(), PHONE, PASSWORD).status_code == 303
    events = [e.event for e in audit_events(app)]
    assert {"account.created", "organisation.created", "organisation.agent_linked"} <= set(events)


def test_create_person_errors_are_specific_and_leave_nothing(app, runner):
    bad = runner.invoke(
        args=[
            "accounts",
            "create-person",
            "--id-number",
            ID1[:-1] + "0",
            "--name",
            "x",
            "--no-password",
        ]
    )
    assert bad.exit_code != 0 and "check" in bad.output.lower()
    short = runner.invoke(
        args=["accounts", "create-person", "--id-number", ID1, "--name", "x", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code != 0 and "at least 8" in short.output
    with app.app_context(), db.session_scope(app) as session:
        assert session.scalar(sa.select(sa.func.count(Person.id))) == 0
    make_person(app)
    dup = runner.invoke(
        args=["accounts", "create-person", "--id-number", ID1, "--name", "x", "--no-password"]
    )
    assert dup.exit_code != 0 and "already exists" in dup.output
    phone = runner.invoke(
        args=[
            "accounts",
            "create-person",
            "--id-number",
            ID2,
            "--name",
            "x",
            "--phone",
            PHONE,
            "--no-password",
        ]
    )
    assert phone.exit_code != 0 and "another person" in phone.output
    bad_org = runner.invoke(args=["accounts", "create-org", "--credit-code", "123", "--name", "x"])
    assert bad_org.exit_code != 0 and "credit code" in bad_org.output
    unknown = runner.invoke(
        args=["accounts", "link-agent", "--id-number", ID2, "--credit-code", ORG1]
    )
    assert unknown.exit_code != 0 and "no person" in unknown.output


def test_set_password_ends_sessions(app, runner, client):
    make_person(app)
    login(client)
    assert client.get("/account").status_code == 200
    result = runner.invoke(
        args=["accounts", "set-password", "--id-number", ID1, "--password-stdin"],
        input="another fine password\n",
    )
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended" in result.output
    assert client.get("/account").status_code == 303
    assert login(app.test_client(), ID1, "another fine password").status_code == 303
    with app.app_context(), db.session_scope(app) as session:
        assert session.scalar(sa.select(sa.func.count(sessions.SSOSession.id))) == 1


def test_unlock_account(app, runner, client):
    make_person(app)
    for _ in range(5):
        login(client, ID1, "wrong password!")
    assert login(client).status_code == 429
    result = runner.invoke(args=["accounts", "unlock", "--id-number", ID1])
    assert result.exit_code == 0, result.output
    assert login(client).status_code == 303
    assert runner.invoke(args=["accounts", "unlock"]).exit_code != 0


def test_demo_accounts_are_valid_and_idempotent(app):
    from authority import demo
    from oidc import demo_accounts

    with app.app_context():
        with db.session_scope(app) as session:
            lines = list(demo_accounts.seed_demo_accounts(session))
        assert demo_accounts.DEMO_PASSWORD in lines[0] and demo_accounts.DEMO_ID_NUMBER in lines[0]
        with db.session_scope(app) as session:
            again = list(demo_accounts.seed_demo_accounts(session))
        assert "already present" in again[0]
        with db.session_scope(app) as session:
            person = accounts.find_person_by_id_number(session, demo_accounts.DEMO_ID_NUMBER)
            assert person is not None and person.name == "张三"
            [link] = accounts.agent_links(session, person.id)
            assert link.role == "legal_representative"
            assert link.organisation.credit_code == demo_accounts.DEMO_CREDIT_CODE
    assert "oidc.demo_accounts.seed_demo_accounts" in dict(demo.seeders())
    response = login(app.test_client(), demo_accounts.DEMO_PHONE, demo_accounts.DEMO_PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login/organisation")


def test_purge_removes_expired_sessions_and_stale_counters(app, runner, client):
    import time

    from oidc.lockout import FORGET_AFTER_SECONDS, LoginThrottle

    make_person(app)
    login(client)
    login(app.test_client(), ID2, "some guess")
    old = int(time.time()) - FORGET_AFTER_SECONDS - 10
    with app.app_context(), db.engine(app).begin() as conn:
        conn.execute(sa.update(sessions.SSOSession).values(expires_at=old))
        conn.execute(sa.update(LoginThrottle).values(last_failure_at=old))
    result = runner.invoke(args=["accounts", "purge"])
    assert result.exit_code == 0, result.output
    assert "purged 1 expired session(s) and 2 stale lockout counter(s)" in result.output
    with app.app_context(), db.session_scope(app) as session:
        assert session.scalar(sa.select(sa.func.count(LoginThrottle.id))) == 0


def test_disable_and_enable(app, runner, client):
    make_person(app)
    login(client)
    result = runner.invoke(args=["accounts", "disable", "--id-number", ID1])
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended" in result.output
    assert client.get("/account").status_code == 303
    refused = login(app.test_client())
    assert "账号或密码不正确" in refused.get_data(as_text=True)
    assert "disabled" in runner.invoke(args=["accounts", "list"]).output
    assert runner.invoke(args=["accounts", "enable", "--id-number", ID1]).exit_code == 0
    assert login(app.test_client()).status_code == 303
    events = [e.event for e in audit_events(app)]
    assert {"account.disabled", "account.enabled", "session.ended"} <= set(events)
