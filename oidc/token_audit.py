"""Token issuance reaches the audit chain from the token rows: a transactional outbox.

The token endpoint writes the token row and, in the same statement, a row of
``oidc_token_audit_outbox`` (:class:`oidc.tokens.TokenAuditOutbox`); it never takes
the audit chain's lock. :func:`seal_pending` then appends one chained
``oidc.token.issued`` entry per outbox row, oldest first, and deletes those rows, in
one transaction: one lock, one head read and one INSERT for many tokens. Because the
outbox row commits with the token, no issued token can miss its entry: a process that
dies before sealing leaves its rows, and the next sealer (any worker, ``authority
audit verify|list``, or a revocation) chains them. The entry's time is when it was
chained; ``details.issued_at`` is the issuance time.

Who seals (``AUTHORITY_OIDC_ISSUANCE_AUDIT``):

- ``background`` (default): one daemon thread per process, started after the first
  token the process issues (so after gunicorn forks), woken after every token and
  at least every :data:`IDLE_SECONDS`; it drains the whole outbox, its own rows and any
  left by other processes (``FOR UPDATE SKIP LOCKED``, so sealers never wait for each
  other's rows). It rests :data:`REST_SECONDS` between rounds, so entries lag issuance
  by up to about that under load, and one transaction chains many tokens.
- ``inline`` (the default when AUTHORITY_ENV=testing): the token request seals right
  after its own commit, in a second transaction, so tests see the entry at once.

docs/oidc.md ("Audit", "Performance") explains why: the chain's lock in the token
request cost a third of the token endpoint's throughput.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from authority import audit, db
from oidc.config import oidc_settings
from oidc.tokens import TokenAuditOutbox

log = logging.getLogger("oidc.token_audit")

#: Rows chained per transaction.
BATCH = 500
#: A sealer thread with nothing to do still looks every this many seconds (rows left
#: by a process that stopped before sealing them).
IDLE_SECONDS = 2.0
#: After a round, the thread rests this long so that rows accumulate: under load one
#: transaction chains hundreds of tokens. Shorter rests cost the request threads more
#: than the work itself (each round competes with them for the GIL): with 0.05 s the
#: token endpoint served 600–940 req/s, with 0.5 s 1,050 (docs/oidc.md, Performance).
REST_SECONDS = 0.5
EXTENSION_KEY = "oidc.token_audit"

_OUTBOX = TokenAuditOutbox.__table__
_PENDING = (
    sa.select(_OUTBOX).order_by(_OUTBOX.c.token_id).limit(BATCH).with_for_update(skip_locked=True)
)


@audit.register_late_source
def seal_pending(session: Session) -> int:
    """Chain the issuance entries waiting in the outbox (in ``session``'s transaction,
    oldest first, in batches) and empty it; how many were chained."""
    total = 0
    while True:
        rows = session.execute(_PENDING).all()
        if not rows:
            return total
        audit.record_many(
            session,
            [
                audit.Event(
                    "oidc.token.issued",
                    actor=r.client_id,
                    subject=f"person:{r.person_id}" if r.person_id else None,
                    details={
                        "token_id": r.token_id,
                        "grant_type": r.grant_type,
                        "scope": r.scope,
                        "family": r.family,
                        "refresh": r.refresh,
                        "issued_at": r.issued_at,
                    },
                )
                for r in rows
            ],
        )
        session.execute(
            sa.delete(_OUTBOX).where(_OUTBOX.c.token_id.in_([r.token_id for r in rows]))
        )
        total += len(rows)
        if len(rows) < BATCH:
            return total


class Sealer:
    """The background sealer of one app in one process."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def notify(self) -> None:
        """A token was issued: make sure this process's thread runs, and wake it."""
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():  # first token here, or a forked child
                    threading.Thread(target=self._run, name="token-audit", daemon=True).start()
                    self._pid = os.getpid()
        self._wake.set()

    def stop(self) -> None:
        """End the thread after its current round (tests; a process exit ends it anyway)."""
        self._stop.set()
        self._wake.set()

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            self._wake.wait(IDLE_SECONDS)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.seal()
                failing = False
            except Exception:
                # Rows stay in the outbox and the next round retries them; the thread
                # never dies. Logged once per run of failures (the database may be
                # down for a while); the rows hold digests, never a token.
                if not failing:
                    log.exception("chaining token audit entries failed; retrying")
                failing = True
            time.sleep(REST_SECONDS)

    def seal(self) -> int:
        """Chain the whole outbox now, in a transaction of its own; how many entries."""
        with self.app.app_context(), db.session_scope(self.app) as session:
            if session.get_bind().dialect.name == "postgresql":
                # Losing this transaction in a crash loses nothing: the outbox rows come
                # back with it and the next round chains them. So it need not wait for
                # the WAL flush. (Not in seal_pending: a revocation calls that inside its
                # own transaction, which must be durable.)
                session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
            return seal_pending(session)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = Sealer(app)


def after_token_commit() -> None:
    """Called by the token endpoint once its transaction has committed."""
    if oidc_settings().issuance_audit == "inline":
        with db.session_scope(current_app) as session:
            seal_pending(session)
        return
    sealer: Any = current_app.extensions[EXTENSION_KEY]
    sealer.notify()
