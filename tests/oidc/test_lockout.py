"""Lockout: exponential back-off per account and per client address, kept in the database."""

from __future__ import annotations

import time

import sqlalchemy as sa

from authority import db
from oidc import lockout, sessions
from oidc.lockout import LoginThrottle
from tests.oidc.accounts_support import ID1, ID2, PASSWORD, PHONE, audit_events, login, make_person


def _throttles(app):
    with app.app_context(), db.session_scope(app) as session:
        return {
            (row.scope, row.failures, row.locked_until)
            for row in session.scalars(sa.select(LoginThrottle))
        }


def _expire_locks(app, *, scope=None):
    """Pretend the lock time has passed."""
    with app.app_context(), db.engine(app).begin() as conn:
        stmt = sa.update(LoginThrottle).values(locked_until=int(time.time()) - 1)
        if scope:
            stmt = stmt.where(LoginThrottle.scope == scope)
        conn.execute(stmt)


def test_lock_duration_doubles_and_is_capped():
    assert [lockout.lock_seconds(n, 5) for n in range(1, 12)] == [
        0,
        0,
        0,
        0,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    assert lockout.lock_seconds(10_000, 5) == 3600
    assert lockout.lock_seconds(20, 20) == 60


def test_five_failures_lock_the_account_then_back_off(app, client):
    make_person(app)
    for _ in range(4):
        response = login(client, ID1, "wrong password!")
        assert "账号或密码不正确" in response.get_data(as_text=True)
    fifth = login(client, ID1, "wrong password!")
    assert fifth.status_code == 429
    assert "已暂时锁定" in fifth.get_data(as_text=True)
    assert "1 分钟" in fifth.get_data(as_text=True)
    # While locked even the right password is refused, and nothing more is counted.
    locked = login(client, PHONE, PASSWORD)
    assert locked.status_code == 429 and sessions.COOKIE not in str(locked.headers)
    assert ("account", 5, max(u for s, _, u in _throttles(app) if s == "account")) in _throttles(
        app
    )
    # After the lock: one more failure locks again, for twice as long.
    _expire_locks(app)
    sixth = login(client, ID1, "wrong password!")
    assert sixth.status_code == 429 and "2 分钟" in sixth.get_data(as_text=True)
    row = next(r for r in _throttles(app) if r[0] == "account")
    assert row[1] == 6 and 110 <= row[2] - time.time() <= 121
    # The right password after the lock logs in and clears the account counter.
    _expire_locks(app)
    assert login(client, ID1, PASSWORD).status_code == 303
    assert [r for r in _throttles(app) if r[0] == "account"] == []
    names = [e.event for e in audit_events(app)]
    assert names.count("login.lockout") == 2


def test_lock_message_in_english(app, client):
    make_person(app)
    client.set_cookie("lang", "en")
    for _ in range(5):
        response = login(client, ID1, "wrong password!")
    assert response.status_code == 429
    assert "Try again in 1 minute(s)" in response.get_data(as_text=True)


def test_unknown_logins_lock_the_same_way(app, client):
    make_person(app)
    responses = [login(client, ID2, "whatever-guess") for _ in range(5)]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    assert "已暂时锁定" in responses[-1].get_data(as_text=True)
    # Other accounts are not affected by the unknown login's counter.
    assert login(client, ID1, PASSWORD).status_code == 303


def test_phone_and_id_number_share_the_account_counter(app, client):
    make_person(app)
    for typed in (ID1, PHONE, ID1, PHONE):
        login(client, typed, "wrong password!")
    assert login(client, PHONE, "wrong password!").status_code == 429


def test_many_failures_from_one_address_lock_the_address(app, client):
    make_person(app)
    for i in range(lockout.IP_THRESHOLD):
        # A different unknown login each time: no account counter reaches 5.
        bogus = f"1390000{i:04d}"
        response = login(client, bogus, "guess")
    assert response.status_code == 429
    # The right password of a real account is refused too, from this address.
    assert login(client, ID1, PASSWORD).status_code == 429
    # ...but not from another address.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert login(other, ID1, PASSWORD).status_code == 303
    # The operator can lift it.
    runner = app.test_cli_runner()
    result = runner.invoke(args=["accounts", "unlock", "--ip", "127.0.0.1"])
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), ID1, PASSWORD).status_code == 303


def test_counters_are_stored_as_keyed_hashes(app, client):
    make_person(app)
    login(client, ID1, "wrong password!")
    with app.app_context(), db.engine(app).connect() as conn:
        dump = repr(conn.execute(sa.text("SELECT * FROM login_throttles")).all())
    assert ID1 not in dump and "127.0.0.1" not in dump


def test_old_failures_are_forgotten(app):
    with app.app_context(), db.session_scope(app) as session:
        key = lockout.ThrottleKey("account", "k" * 64)
        now = int(time.time())
        for _ in range(4):
            lockout.record_failure(session, key, now - lockout.FORGET_AFTER_SECONDS - 10)
        assert lockout.record_failure(session, key, now) is None
        row = session.scalars(sa.select(LoginThrottle)).one()
        assert row.failures == 1
        assert lockout.locked_until(session, [key], now) is None
