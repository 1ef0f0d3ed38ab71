"""OpenID Connect Back-Channel Logout 1.0 — the provider's side (the sender).

https://openid.net/specs/openid-connect-backchannel-1_0.html

When an SSO session ends (RP-initiated logout, another person logging in on the same
browser, a password change ending the person's other sessions), every client that
took part in the session and registered a ``backchannel_logout_uri`` receives a
*logout token* (§2.4): a JWT signed with the provider's key for the client's
``id_token_signed_response_alg`` (:func:`oidc.jwks.sign_jwt`), header ``typ``
``logout+jwt`` (§2.4, JWT BCP RFC 8725 §3.11), claims ``iss``, ``aud``, ``iat``,
``exp`` (two minutes), ``jti``, ``events`` with the back-channel logout event, ``sid``
(always: we advertise ``backchannel_logout_session_supported``) and ``sub`` (the
subject *that client* knows, pairwise or public), and never ``nonce`` (§2.4). It is
POSTed as the form field ``logout_token`` (§2.5).

Delivery never blocks the person (§2.8 lets the OP choose how hard to try):

- Tokens are signed inside the request (they need the key store); the HTTP calls run
  in a small per-app thread pool after the session's end is committed.
- Each call has a 2-second timeout; failures (timeouts, connection errors, 5xx) are
  retried, at most 3 attempts in all and never beyond a 10-second deadline per
  delivery. A 4xx answer is final: the client refused the token, retrying will not
  change its mind. Redirects are not followed (§2.8: the RP answers 200 or 400).
- Every outcome is recorded in the audit log (``oidc.backchannel_logout.delivered`` or
  ``.failed`` with the number of attempts and the reason), and failures are logged;
  the token itself is never logged. The pending calls are the only thing held in
  process memory; losing them (a worker killed mid-delivery) loses a notification,
  never the logout itself: the session is gone from the database and the session's
  tokens are revoked in the same transaction.

Refresh tokens (§2.7): tokens issued within the ended session are revoked with it
(access and refresh token of every family started in the session), except those
granted ``offline_access``, which by definition outlive the login (we do not offer
that scope today; the exception keeps the rule right if it is added).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import requests
import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from authority import audit, db
from oidc import clients, jwks, subjects, tokens

log = logging.getLogger(__name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_TYPE = "logout+jwt"  # noqa: S105 - a media type, not a secret
#: Lifetime of a logout token (§2.4 recommends a short one), seconds.
TOKEN_TTL = 120
#: Timeout of one HTTP call (connect and each read), seconds.
ATTEMPT_TIMEOUT = 2.0
#: Attempts per delivery, the first one included.
MAX_ATTEMPTS = 3
#: Pause before the second and third attempt, seconds.
BACKOFF = (0.5, 1.0)
#: No attempt starts later than this after the session ended, seconds.
DEADLINE = 10.0
#: Threads per app (worker process) sending logout tokens.
POOL_SIZE = 4
#: Deliveries waiting or running per app; beyond this a delivery fails at once
#: (recorded as ``queue_full``) instead of piling up in memory.
MAX_PENDING = 256
EXTENSION_KEY = "oidc.backchannel"
#: Tries to append an outcome to the audit log (concurrent appends may collide).
AUDIT_ATTEMPTS = 5


@dataclass(frozen=True)
class Delivery:
    """One logout token for one client's back-channel logout URI."""

    client_id: str
    uri: str
    #: The signed logout token; a credential for the RP, so never logged.
    logout_token: str


# ------------------------------------------------------------------ building logout tokens


def _person_for_sid(session: Session, sid: str) -> int | None:
    """The person a session id belonged to (the session row itself may be gone).

    Every client of a session received an authorization code carrying its ``sid``.
    """
    return session.scalar(
        sa.select(tokens.AuthorizationCode.person_id)
        .where(tokens.AuthorizationCode.sid == sid)
        .limit(1)
    )


def logout_token(
    session: Session, client: clients.Client, sid: str, person_id: int | None, issuer: str
) -> str:
    """The signed logout token for ``client`` about session ``sid`` (§2.4)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client.client_id,
        "iat": now,
        "exp": now + TOKEN_TTL,
        "jti": secrets.token_urlsafe(24),
        "events": {EVENT: {}},
        "sid": sid,
    }
    if person_id is not None:
        claims["sub"] = subjects.subject_for(session, client, person_id)
    return jwks.sign_jwt(session, claims, client.id_token_alg, typ=TOKEN_TYPE)


def prepare(session: Session, pairs: Iterable[tuple[str, str]], issuer: str) -> list[Delivery]:
    """The deliveries for the (client_id, sid) pairs of ended sessions.

    Clients without a ``backchannel_logout_uri`` (or deleted, or disabled) are skipped.
    A token that cannot be built is logged and skipped: it must not undo the logout.
    """
    out: list[Delivery] = []
    people: dict[str, int | None] = {}
    for client_id, sid in pairs:
        client = clients.find(session, client_id)
        uri = client.client_metadata.get("backchannel_logout_uri") if client else None
        if client is None or not uri:
            continue
        if sid not in people:
            people[sid] = _person_for_sid(session, sid)
        try:
            token = logout_token(session, client, sid, people[sid], issuer)
        except Exception:
            log.exception("could not build a logout token for client %s", client_id)
            continue
        out.append(Delivery(client_id=client_id, uri=str(uri), logout_token=token))
    return out


def _live_tokens(session: Session, sids: list[str]) -> bool:
    """Whether any unrevoked token was issued within these sessions."""
    found = session.scalar(
        sa.select(tokens.Token.id)
        .where(tokens.Token.sid.in_(sids), tokens.Token.revoked_at.is_(None))
        .limit(1)
    )
    return found is not None


def revoke_session_tokens(session: Session, sid: str, *, actor: str | None = None) -> int:
    """Revoke the tokens issued within session ``sid`` (§2.7); returns how many.

    Tokens granted ``offline_access`` are kept: they are meant to outlive the login.
    """
    condition = sa.and_(tokens.Token.sid == sid, ~tokens.Token.scope.like("%offline_access%"))
    return tokens.revoke_where(session, condition, reason="logout", actor=actor)


# ------------------------------------------------------------------ sending


def send(delivery: Delivery, deadline: float) -> tuple[bool, int, str]:
    """POST one logout token (§2.5) with bounded retries; (delivered, attempts, outcome).

    ``deadline`` is a ``time.monotonic()`` value after which no attempt starts.
    """
    attempts = 0
    outcome = "deadline"
    while attempts < MAX_ATTEMPTS:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if attempts:
            pause = BACKOFF[min(attempts, len(BACKOFF)) - 1]
            time.sleep(min(pause, remaining))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
        attempts += 1
        timeout = min(ATTEMPT_TIMEOUT, remaining)
        try:
            response = requests.post(
                delivery.uri,
                data={"logout_token": delivery.logout_token},
                headers={"Cache-Control": "no-store"},
                timeout=(timeout, timeout),
                allow_redirects=False,
            )
        except requests.Timeout:
            outcome = "timeout"
            continue
        except requests.RequestException:
            outcome = "connection_error"
            continue
        status = response.status_code
        response.close()
        if status in (200, 204):
            return True, attempts, f"http_{status}"
        outcome = f"http_{status}"
        if 300 <= status < 500:
            # The client refused the token (or redirected, which §2.8 does not allow):
            # sending the same token again cannot succeed.
            break
    return False, attempts, outcome


def _deliver(app: Flask, delivery: Delivery, deadline: float) -> None:
    delivered, attempts, outcome = send(delivery, deadline)
    _record(app, delivery, delivered=delivered, attempts=attempts, outcome=outcome)


def _record(
    app: Flask, delivery: Delivery, *, delivered: bool, attempts: int, outcome: str
) -> None:
    if not delivered:
        log.warning(
            "back-channel logout to client %s failed after %d attempt(s): %s",
            delivery.client_id,
            attempts,
            outcome,
        )
    event = "oidc.backchannel_logout." + ("delivered" if delivered else "failed")
    details = {"uri": delivery.uri, "attempts": attempts, "outcome": outcome}
    for attempt in range(AUDIT_ATTEMPTS):
        try:
            with app.app_context(), db.session_scope(app) as session:
                audit.record(
                    session, event, actor="oidc", subject=delivery.client_id, details=details
                )
            return
        except sa.exc.DBAPIError:
            # Two outcomes appended at once fork the audit chain on SQLite (no advisory
            # lock there); the unique prev_hash refuses one of them, which tries again.
            time.sleep(0.05 * (attempt + 1))
    log.error("could not record the back-channel logout outcome for %s", delivery.client_id)


def _revoke(app: Flask, sids: list[str]) -> None:
    for attempt in range(AUDIT_ATTEMPTS):
        try:
            with app.app_context(), db.session_scope(app) as session:
                for sid in sids:
                    revoke_session_tokens(session, sid, actor="oidc:logout")
            return
        except sa.exc.DBAPIError:
            time.sleep(0.05 * (attempt + 1))
    log.error("could not revoke the tokens of %d ended session(s)", len(sids))


class Dispatcher:
    """The per-app thread pool that sends logout tokens after the response."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="backchannel")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def _submit(self, fn: Any, *args: Any) -> bool:
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                return False
            future = self._pool.submit(fn, self.app, *args)
            self._pending.add(future)
        future.add_done_callback(self._done)
        return True

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def revoke(self, sids: list[str]) -> None:
        if not self._submit(_revoke, sids):
            log.error(
                "back-channel queue full: tokens of %d ended session(s) not revoked", len(sids)
            )

    def deliver(self, deliveries: list[Delivery]) -> None:
        deadline = time.monotonic() + DEADLINE
        for delivery in deliveries:
            if not self._submit(_deliver, delivery, deadline):
                _record(self.app, delivery, delivered=False, attempts=0, outcome="queue_full")

    def wait(self, timeout: float = DEADLINE + ATTEMPT_TIMEOUT + 2) -> bool:
        """Wait until nothing is pending (tests, orderly shutdown); False on timeout."""
        end = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = set(self._pending)
            if not pending:
                return True
            remaining = end - time.monotonic()
            if remaining <= 0:
                return False
            wait(pending, timeout=remaining)


_create_lock = threading.Lock()


def dispatcher(app: Flask | None = None) -> Dispatcher:
    """The app's dispatcher, created on first use (after a worker has forked)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    found: Dispatcher | None = app.extensions.get(EXTENSION_KEY)
    if found is None:
        with _create_lock:
            found = app.extensions.get(EXTENSION_KEY)
            if found is None:
                found = Dispatcher(app)
                app.extensions[EXTENSION_KEY] = found
    return found


def notify(pairs: list[tuple[str, str]]) -> None:
    """Session-end listener (``oidc.sessions.END_LISTENERS``): log the clients out.

    Called inside the request that ended the sessions, before or after its commit.
    Tokens are signed here; revocation (idempotent: RP-initiated logout has already
    revoked in its own transaction) and the HTTP calls run in the pool.
    """
    if not pairs:
        return
    from oidc.provider import issuer

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    pool = dispatcher(app)
    session = db.session()
    sids = sorted({sid for _, sid in pairs})
    try:
        if _live_tokens(session, sids):
            pool.revoke(sids)
        deliveries = prepare(session, pairs, issuer())
    except Exception:
        log.exception("could not prepare back-channel logout tokens")
        return
    pool.deliver(deliveries)


def setup_backchannel(app: Flask) -> None:
    """Register :func:`notify` as a session-end listener of ``app``."""
    from oidc.sessions import END_LISTENERS

    listeners: list[Any] = app.extensions.setdefault(END_LISTENERS, [])
    if notify not in listeners:
        listeners.append(notify)
