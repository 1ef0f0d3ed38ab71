"""Failed-login throttling with exponential back-off, per account and per client IP.

Guards against online password guessing (NIST SP 800-63B clause 5.2.2, rate limiting;
OWASP Authentication Cheat Sheet). Policy (docs/accounts.md):

- an account is locked after 5 failures in a row: 1 minute, then each further failure
  doubles the lock (2, 4, 8... minutes) up to 1 hour; a successful login resets it;
- a client address is locked after 20 failures in the same way (many citizens can share
  one address behind NAT, hence the higher threshold); success does not reset it, so
  that an attacker cannot clear it by logging into an account of their own;
- counters start again after 24 hours without a failure;
- while locked, the password is not even checked, and attempts are not counted (so a
  lock cannot be extended indefinitely by someone else).

Counters live in the database (``login_throttles``) and are updated with one atomic
upsert, so every worker and node sees the same count. Keys are keyed SM3 hashes
(:func:`authority.pii.blind_index`), never a raw ID number or IP address.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from authority import pii
from authority.db import Base


class LoginThrottle(Base):
    """Failure counter for one account or one client address."""

    __tablename__ = "login_throttles"
    __table_args__ = (sa.UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    #: "account" or "ip".
    scope: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    #: A keyed hash of what is counted (never a raw ID number or address).
    key: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    failures: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_failure_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    locked_until: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)


# ---------------------------------------------------------------- policy

#: Failures of one account before it is locked, and of one client address.
ACCOUNT_THRESHOLD = 5
IP_THRESHOLD = 20
#: First lock duration; each further failure after a lock doubles it, up to the cap.
BASE_LOCK_SECONDS = 60
MAX_LOCK_SECONDS = 3600
#: A counter with no failure for this long starts again from zero.
FORGET_AFTER_SECONDS = 24 * 3600

THRESHOLDS = {"account": ACCOUNT_THRESHOLD, "ip": IP_THRESHOLD}


@dataclass(frozen=True)
class ThrottleKey:
    """What a failure is counted against: one account, or one client address."""

    scope: str
    key: str


def account_key(person_id: int | None, login: str) -> ThrottleKey:
    """The counter of an account; an unknown login gets its own counter, so that
    unknown and known logins lock the same way (no account enumeration)."""
    value = f"person:{person_id}" if person_id is not None else f"login:{login}"
    return ThrottleKey("account", pii.blind_index(value, field="throttle"))


def ip_key(address: str | None) -> ThrottleKey:
    return ThrottleKey("ip", pii.blind_index(address or "unknown", field="throttle"))


def lock_seconds(failures: int, threshold: int) -> int:
    """How long the ``failures``-th failure locks for (0 below the threshold)."""
    if failures < threshold:
        return 0
    return min(BASE_LOCK_SECONDS * 2 ** min(failures - threshold, 20), MAX_LOCK_SECONDS)


def locked_until(session: Session, keys: list[ThrottleKey], now: int) -> int | None:
    """The latest time until which any of ``keys`` is locked, or None if none is."""
    latest: int | None = None
    for k in keys:
        row = session.scalars(
            sa.select(LoginThrottle).where(
                LoginThrottle.scope == k.scope, LoginThrottle.key == k.key
            )
        ).first()
        if row is not None and row.locked_until is not None and row.locked_until > now:
            latest = max(latest or 0, row.locked_until)
    return latest


def record_failure(session: Session, key: ThrottleKey, now: int) -> int | None:
    """Count one failure (atomically, safe across workers); returns the new lock end."""
    table = LoginThrottle.__table__
    dialect = session.get_bind().dialect.name
    insert_fn = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert_fn(table).values(
        scope=key.scope, key=key.key, failures=1, last_failure_at=now, locked_until=None
    )
    stale = table.c.last_failure_at < now - FORGET_AFTER_SECONDS
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.scope, table.c.key],
        set_={
            "failures": sa.case((stale, 1), else_=table.c.failures + 1),
            "last_failure_at": now,
        },
    ).returning(table.c.failures)
    failures = session.execute(stmt).scalar_one()
    seconds = lock_seconds(failures, THRESHOLDS[key.scope])
    if not seconds:
        return None
    until = now + seconds
    session.execute(
        sa.update(LoginThrottle)
        .where(LoginThrottle.scope == key.scope, LoginThrottle.key == key.key)
        .values(locked_until=until)
    )
    return until


def reset(session: Session, key: ThrottleKey) -> None:
    """Forget the failures of ``key`` (after a successful login, or by an operator)."""
    session.execute(
        sa.delete(LoginThrottle).where(
            LoginThrottle.scope == key.scope, LoginThrottle.key == key.key
        )
    )


def purge_stale(session: Session, now: int) -> int:
    """Delete counters that no longer lock and would be forgotten anyway; returns how many.

    Failed logins with made-up identifiers each leave a row; this keeps the table small.
    """
    result = session.execute(
        sa.delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < now - FORGET_AFTER_SECONDS,
            sa.or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
        )
    )
    return int(result.rowcount or 0)
