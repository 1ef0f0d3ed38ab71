"""Server-side SSO sessions: cookie, hash at rest, timeouts, fixation, clients, workers."""

from __future__ import annotations

import sqlalchemy as sa

from authority import db
from keys.sm3 import sm3
from oidc import sessions
from oidc.sessions import SSOSession
from tests.oidc.accounts_support import ID1, ID2, PASSWORD, audit_events, csrf, login, make_person


def _rows(app):
    with app.app_context(), db.session_scope(app) as session:
        return list(session.scalars(sa.select(SSOSession)))


def test_cookie_is_opaque_and_only_its_hash_is_stored(app, client):
    make_person(app)
    response = login(client)
    header = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith(sessions.COOKIE)
    )
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    value = client.get_cookie(sessions.COOKIE).value
    assert len(value) >= 43
    [row] = _rows(app)
    assert row.token_hash == sm3(value.encode()).hex()
    assert value not in repr(vars(row))
    assert row.sid != value and len(row.sid) >= 32
    assert row.expires_at - row.created_at == sessions.ABSOLUTE_TIMEOUT


def test_cookie_is_secure_when_the_issuer_is_https(app, app_config):
    from authority.app import create_app

    https_app = create_app({**app_config, "issuer": "https://id.example.gov.cn"})
    make_person(https_app)
    response = login(https_app.test_client())
    header = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith(sessions.COOKIE)
    )
    assert "Secure" in header
    db.engine(https_app).dispose()


def test_session_is_shared_by_every_worker(app, app_config, client):
    from authority.app import create_app

    make_person(app)
    login(client)
    value = client.get_cookie(sessions.COOKIE).value
    other_worker = create_app(app_config)  # a second process: same database, no shared memory
    other_client = other_worker.test_client()
    other_client.set_cookie(sessions.COOKIE, value)
    assert other_client.get("/account").status_code == 200
    db.engine(other_worker).dispose()


def test_forged_or_stale_cookies_open_nothing(app, client):
    make_person(app)
    login(client)
    value = client.get_cookie(sessions.COOKIE).value
    client.set_cookie(sessions.COOKIE, value[:-2] + "xx")
    assert client.get("/account").status_code == 303
    client.set_cookie(sessions.COOKIE, "x" * 500)
    assert client.get("/account").status_code == 303
    client.set_cookie(sessions.COOKIE, value)
    assert client.get("/account").status_code == 200


def test_idle_timeout(app, client):
    make_person(app)
    login(client)
    assert client.get("/account").status_code == 200
    with app.app_context(), db.engine(app).begin() as conn:
        conn.execute(
            sa.update(SSOSession).values(
                last_seen_at=SSOSession.last_seen_at - sessions.IDLE_TIMEOUT
            )
        )
    assert client.get("/account").status_code == 303


def test_activity_extends_the_idle_timeout(app, client):
    make_person(app)
    login(client)
    with app.app_context(), db.engine(app).begin() as conn:
        conn.execute(
            sa.update(SSOSession).values(
                last_seen_at=SSOSession.last_seen_at - sessions.IDLE_TIMEOUT + 120
            )
        )
    before = _rows(app)[0].last_seen_at
    assert client.get("/account").status_code == 200
    assert _rows(app)[0].last_seen_at > before + 100


def test_absolute_timeout(app, client):
    make_person(app)
    login(client)
    with app.app_context(), db.engine(app).begin() as conn:
        conn.execute(sa.update(SSOSession).values(expires_at=SSOSession.created_at))
    assert client.get("/account").status_code == 303
    with app.app_context(), db.session_scope(app) as session:
        assert sessions.purge_expired(session) == 1
    assert _rows(app) == []


def test_login_issues_a_new_cookie_value(app, client):
    """Session fixation: a value planted before login is never the logged-in one."""
    make_person(app)
    client.set_cookie(sessions.COOKIE, "planted-by-attacker-" + "a" * 30)
    login(client)
    assert client.get_cookie(sessions.COOKIE).value != "planted-by-attacker-" + "a" * 30
    old = client.get_cookie(sessions.COOKIE).value
    login(client, force=True)
    new = client.get_cookie(sessions.COOKIE).value
    assert new != old
    # The old value no longer works.
    stale = app.test_client()
    stale.set_cookie(sessions.COOKIE, old)
    assert stale.get("/account").status_code == 303


def test_relogin_over_an_idle_session(app, client):
    """The login page stays open for minutes, then the password is sent (SQLite locking)."""
    make_person(app)
    login(client)
    login(client, force=True, password="wrong password!")  # a counter for success to clear
    page = client.get("/login?prompt=login&next=/account").get_data(as_text=True)
    with app.app_context(), db.engine(app).begin() as conn:
        conn.execute(sa.update(SSOSession).values(last_seen_at=SSOSession.last_seen_at - 600))
    response = client.post(
        "/login",
        data={"csrf_token": csrf(page), "login": ID1, "password": PASSWORD, "next": "/account"},
    )
    assert response.status_code == 303
    [row] = _rows(app)
    assert row.last_seen_at >= row.auth_time


def test_touch_after_a_write_in_the_same_request(app, client):
    """A view that wrote before looking at the session does not deadlock SQLite."""
    make_person(app)
    login(client)
    with app.app_context(), db.engine(app).begin() as conn:
        conn.execute(sa.update(SSOSession).values(last_seen_at=SSOSession.last_seen_at - 600))

    def write_then_look():
        from oidc.lockout import ThrottleKey, record_failure

        record_failure(db.session(), ThrottleKey("ip", "t" * 64), 1)
        return sessions.current_session()

    assert _in_request(app, client, write_then_look) is not None


def _in_request(app, client, fn):
    """Run ``fn`` inside a request that carries ``client``'s cookie."""
    value = client.get_cookie(sessions.COOKIE).value
    with app.test_request_context(headers={"Cookie": f"{sessions.COOKIE}={value}"}):
        result = fn()
        db.session().commit()
        return result


def test_clients_and_end_session(app, client):
    make_person(app)
    login(client)

    def record():
        sso = sessions.current_session()
        sessions.add_client(sso, "portal-a")
        sessions.add_client(sso, "portal-b")
        sessions.add_client(sso, "portal-a")
        return sso.sid

    sid = _in_request(app, client, record)

    def end():
        return sessions.end_session(sessions.current_session())

    assert sorted(_in_request(app, client, end)) == [("portal-a", sid), ("portal-b", sid)]
    assert _rows(app) == []
    [ended] = [e for e in audit_events(app) if e.event == "session.ended"]
    assert '"reason":"logout"' in ended.details.replace(" ", "")
    assert client.get("/account").status_code == 303


def test_another_person_logging_in_ends_the_first_session(app, client):
    make_person(app)
    make_person(app, id_no=ID2, phone=None)
    notified = []
    app.extensions[sessions.END_LISTENERS] = [notified.extend]
    login(client)

    def record():
        sso = sessions.current_session()
        sessions.add_client(sso, "portal-a")
        return sso.sid

    first_sid = _in_request(app, client, record)
    login(client, ID2, force=True)
    [row] = _rows(app)
    assert row.sid != first_sid
    assert notified == [("portal-a", first_sid)]


def test_current_session_outside_a_request_is_none(app):
    with app.app_context():
        assert sessions.current_session() is None
