"""Server-side single sign-on sessions.

OpenID Connect Core 1.0 clause 2 (``auth_time``, ``acr``, ``amr`` of the
authentication), OpenID Connect Back-Channel Logout 1.0 clause 2.1 (``sid``) and
OWASP Session Management (session fixation, timeouts):

- The browser holds only an opaque random value (256 bits) in the ``authority_sso``
  cookie: HttpOnly, SameSite=Lax, Secure when the issuer is https. The database row
  holds its SM3 hash, so a database leak does not yield usable cookies. Everything else
  is in the row, so every worker and node shares the session; nothing is kept in
  process memory.
- A new value is issued at every login and step-up (session fixation defence).
- Idle timeout (30 minutes without a request) and absolute timeout (10 hours after
  login); an expired session is simply not found.
- ``sid`` is a separate random identifier given to clients; it does not open the session.
- A login that still needs its second factor is a :class:`LoginFlow` with its own
  cookie; it becomes a session only when the second factor is verified.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Response, after_this_request, current_app, g, has_request_context, request
from sqlalchemy.orm import Mapped, Session, mapped_column

from authority import audit, db
from authority.db import Base
from keys.sm3 import sm3


class SSOSession(Base):
    """One browser's login, shared by every worker and node through the database."""

    __tablename__ = "sso_sessions"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    #: SM3 of the random value held in the browser's cookie (hex); never the value itself.
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    #: Opaque random session id given to clients (``sid`` claim, logout tokens).
    sid: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    acting_org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True
    )
    auth_time: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    acr: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    amr: Mapped[list[Any]] = mapped_column(sa.JSON, nullable=False)
    created_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    last_seen_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    #: Absolute end of the session, whatever the activity.
    expires_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)


class SSOSessionClient(Base):
    """A client that received tokens within a session (for back-channel logout)."""

    __tablename__ = "sso_session_clients"
    __table_args__ = (sa.UniqueConstraint("session_id", "client_id"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sso_sessions.id", ondelete="CASCADE"), nullable=False
    )
    client_id: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    created_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)


class LoginFlow(Base):
    """A login in progress: the password was right, the second factor is still due.

    The browser holds a random value in its own cookie; the row holds its hash.
    """

    __tablename__ = "login_flows"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    expires_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)


# ---------------------------------------------------------------- policy

COOKIE = "authority_sso"
FLOW_COOKIE = "authority_login"
IDLE_TIMEOUT = 30 * 60
ABSOLUTE_TIMEOUT = 10 * 3600
#: A login waiting for its second factor expires after this long.
FLOW_TIMEOUT = 10 * 60
#: last_seen_at is written at most this often, to spare the database a write per request.
TOUCH_INTERVAL = 60

#: app.extensions key: callables ``f(pairs)`` told when sessions end outside logout
#: (e.g. another person logs in on the same browser, or a password change ends the
#: person's other sessions), with the (client_id, sid) pairs to notify (back-channel
#: logout). The logout code registers its notifier there.
END_LISTENERS = "oidc.session_end_listeners"


def _now() -> int:
    import time

    return int(time.time())


def _hash(token: str) -> str:
    return sm3(token.encode("ascii")).hex()


def _secure_cookie() -> bool:
    settings = current_app.extensions.get("authority.settings")
    return bool(getattr(settings, "is_https", False)) or request.is_secure


def _set_cookie(name: str, value: str | None) -> None:
    """Set (or clear, with None) a cookie on the response to the current request."""
    secure = _secure_cookie()

    @after_this_request
    def _apply(response: Response) -> Response:
        if value is None:
            response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="Lax")
        else:
            response.set_cookie(name, value, path="/", secure=secure, httponly=True, samesite="Lax")
        return response


def _session() -> Session:
    return db.session()


# ---------------------------------------------------------------- sessions


def current_session() -> SSOSession | None:
    """The browser's live SSO session, or None (no cookie, unknown, idle or expired)."""
    if not has_request_context():
        return None
    if "_oidc_sso" in g:
        cached: SSOSession | None = g._oidc_sso
        return cached
    found = _load(request.cookies.get(COOKIE))
    g._oidc_sso = found
    return found


def _load(token: str | None, *, touch: bool = True) -> SSOSession | None:
    if not token or len(token) > 100:
        return None
    sess = _session()
    sso = sess.scalars(sa.select(SSOSession).where(SSOSession.token_hash == _hash(token))).first()
    if sso is None:
        return None
    now = _now()
    if now >= sso.expires_at or now - sso.last_seen_at >= IDLE_TIMEOUT:
        return None
    from oidc.accounts import Person

    person = sess.get(Person, sso.person_id)
    if person is None or person.disabled:
        return None
    if touch and now - sso.last_seen_at >= TOUCH_INTERVAL and not _holds_sqlite_write_lock(sess):
        # Written in its own short transaction so that a read-only request keeps its
        # session alive without committing whatever the caller has pending.
        with db.engine().begin() as conn:
            conn.execute(
                sa.update(SSOSession).where(SSOSession.id == sso.id).values(last_seen_at=now)
            )
        sso.last_seen_at = now
    return sso


def _holds_sqlite_write_lock(sess: Session) -> bool:
    """Whether this request already wrote to SQLite (then another connection must wait).

    SQLite allows one writer; the touch above runs on a second connection and would
    wait for this request's own transaction. Such a request skips the touch (its
    next request does it). PostgreSQL locks rows, not the database: no problem there.
    """
    if sess.get_bind().dialect.name != "sqlite":
        return False
    raw = sess.connection().connection.dbapi_connection
    return bool(getattr(raw, "in_transaction", False))


def start_session(
    person_id: int,
    *,
    acr: str,
    amr: list[str] | tuple[str, ...],
    acting_org_id: int | None = None,
    auth_time: int | None = None,
) -> SSOSession:
    """Log the browser in as ``person_id`` (flushed, not committed; the view commits).

    Always issues a new cookie value. When the browser already had a session of the
    same person (re-authentication, ``prompt=login``), that session continues with the
    new authentication (same ``sid``, same clients); a session of another person is ended.
    """
    sess = _session()
    now = _now()
    # Not current_session(): its touch writes through another connection, which on
    # SQLite would wait for the lock this request's transaction may already hold.
    # The row's last_seen_at is set below anyway.
    old = g._oidc_sso if "_oidc_sso" in g else _load(request.cookies.get(COOKIE), touch=False)
    token = secrets.token_urlsafe(32)
    if old is not None and old.person_id == person_id:
        sso = old
        sso.token_hash = _hash(token)
        sso.expires_at = now + ABSOLUTE_TIMEOUT
    else:
        if old is not None:
            notify_ended(end_session(old, clear_cookie=False, reason="replaced"))
        sso = SSOSession(
            token_hash=_hash(token),
            sid=secrets.token_urlsafe(24),
            person_id=person_id,
            created_at=now,
            expires_at=now + ABSOLUTE_TIMEOUT,
        )
        sess.add(sso)
    sso.acting_org_id = acting_org_id
    sso.auth_time = auth_time or now
    sso.acr = acr
    sso.amr = list(amr)
    sso.last_seen_at = now
    sess.flush()
    _set_cookie(COOKIE, token)
    g._oidc_sso = sso
    # A login left half-done in this browser (password given, code not) must not
    # complete later on top of this session.
    pending = current_flow()
    if pending is not None:
        finish_flow(pending)
    return sso


def upgrade_session(sso: SSOSession, *, acr: str, amr: list[str] | tuple[str, ...]) -> None:
    """Record a step-up (second factor) on a live session, with a new cookie value."""
    token = secrets.token_urlsafe(32)
    now = _now()
    sso.token_hash = _hash(token)
    sso.acr = acr
    sso.amr = list(amr)
    sso.auth_time = now
    sso.last_seen_at = now
    _session().flush()
    _set_cookie(COOKIE, token)


def set_acting_org(sso: SSOSession, org_id: int | None) -> None:
    """Record whom the person acts for (the caller has checked the agent link)."""
    sso.acting_org_id = org_id
    _session().flush()


def add_client(sso: SSOSession, client_id: str) -> None:
    """Record that ``client_id`` received tokens in this session (for back-channel logout)."""
    sess = _session()
    exists = sess.scalars(
        sa.select(SSOSessionClient.id).where(
            SSOSessionClient.session_id == sso.id, SSOSessionClient.client_id == client_id
        )
    ).first()
    if exists is None:
        sess.add(SSOSessionClient(session_id=sso.id, client_id=client_id, created_at=_now()))
        sess.flush()


def clients_of(sso: SSOSession, session: Session | None = None) -> list[str]:
    return list(
        (session or _session()).scalars(
            sa.select(SSOSessionClient.client_id)
            .where(SSOSessionClient.session_id == sso.id)
            .order_by(SSOSessionClient.id)
        )
    )


def end_session(
    sso: SSOSession,
    *,
    clear_cookie: bool = True,
    reason: str = "logout",
    session: Session | None = None,
) -> list[tuple[str, str]]:
    """End ``sso`` (deleted, not committed); returns the (client_id, sid) pairs to notify.

    Records ``session.ended`` in the audit log with ``reason`` ("logout", "replaced" when
    another person logs in on the browser, "password_changed").
    """
    sess = session or _session()
    pairs = [(client_id, sso.sid) for client_id in clients_of(sso, sess)]
    audit.record(
        sess,
        "session.ended",
        actor=f"person:{sso.person_id}",
        details={"reason": reason, "clients": len(pairs)},
    )
    sess.execute(sa.delete(SSOSessionClient).where(SSOSessionClient.session_id == sso.id))
    sess.execute(sa.delete(SSOSession).where(SSOSession.id == sso.id))
    if has_request_context():
        if clear_cookie and request.cookies.get(COOKIE):
            _set_cookie(COOKIE, None)
        if g.get("_oidc_sso") is sso:
            g._oidc_sso = None
    return pairs


def end_sessions_of(
    person_id: int,
    *,
    keep: SSOSession | None = None,
    reason: str = "password_changed",
    session: Session | None = None,
) -> list[tuple[str, str]]:
    """End every session of a person except ``keep`` (password change, operator action)."""
    sess = session or _session()
    others = sess.scalars(
        sa.select(SSOSession).where(
            SSOSession.person_id == person_id,
            SSOSession.id != (keep.id if keep is not None else -1),
        )
    ).all()
    pairs: list[tuple[str, str]] = []
    for sso in others:
        pairs += end_session(sso, clear_cookie=False, reason=reason, session=sess)
    return pairs


def count_sessions_of(person_id: int, session: Session | None = None) -> int:
    """How many session rows a person has (live or not yet purged)."""
    sess = session or _session()
    return int(
        sess.scalar(
            sa.select(sa.func.count(SSOSession.id)).where(SSOSession.person_id == person_id)
        )
        or 0
    )


def notify_ended(pairs: list[tuple[str, str]]) -> None:
    """Tell the registered listeners (back-channel logout) which clients lost a session."""
    if not pairs:
        return
    listeners: list[Callable[[list[tuple[str, str]]], Any]] = current_app.extensions.get(
        END_LISTENERS, []
    )
    for listener in listeners:
        listener(pairs)


def purge_expired(session: Session, now: int | None = None) -> int:
    """Delete sessions and login flows past their timeouts; returns how many sessions."""
    now = now or _now()
    dead = sa.or_(SSOSession.expires_at <= now, SSOSession.last_seen_at <= now - IDLE_TIMEOUT)
    ids = sa.select(SSOSession.id).where(dead)
    session.execute(sa.delete(SSOSessionClient).where(SSOSessionClient.session_id.in_(ids)))
    count = session.execute(sa.delete(SSOSession).where(dead)).rowcount
    session.execute(sa.delete(LoginFlow).where(LoginFlow.expires_at <= now))
    return int(count or 0)


# ---------------------------------------------------------------- logins awaiting a second factor


def start_flow(person_id: int) -> LoginFlow:
    """Remember that ``person_id`` gave the right password and owes a second factor."""
    sess = _session()
    old = current_flow()
    if old is not None:
        sess.delete(old)
    token = secrets.token_urlsafe(32)
    now = _now()
    flow = LoginFlow(
        token_hash=_hash(token), person_id=person_id, created_at=now, expires_at=now + FLOW_TIMEOUT
    )
    sess.add(flow)
    sess.flush()
    _set_cookie(FLOW_COOKIE, token)
    g._oidc_flow = flow
    return flow


def current_flow() -> LoginFlow | None:
    """The browser's pending login, if any and not expired."""
    if "_oidc_flow" in g:
        cached: LoginFlow | None = g._oidc_flow
        return cached
    token = request.cookies.get(FLOW_COOKIE)
    flow = None
    if token and len(token) <= 100:
        flow = (
            _session()
            .scalars(sa.select(LoginFlow).where(LoginFlow.token_hash == _hash(token)))
            .first()
        )
        if flow is not None and flow.expires_at <= _now():
            flow = None
    g._oidc_flow = flow
    return flow


def finish_flow(flow: LoginFlow) -> None:
    """Forget a pending login (completed or abandoned)."""
    _session().execute(sa.delete(LoginFlow).where(LoginFlow.id == flow.id))
    _set_cookie(FLOW_COOKIE, None)
    g._oidc_flow = None
