"""The audit log: append-only, each entry chained to the previous one with SM3.

GB/T 32905-2016 (SM3) hash chain::

    hash[n] = SM3(bytes(prev_hash[n]) ‖ canonical(entry[n]))      prev_hash[1] = 32 zero bytes

``canonical(entry)`` is the UTF-8 encoding of compact JSON with sorted keys of
``{"seq", "time", "event", "actor", "subject", "details"}``, ``time`` written as
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, microseconds). docs/audit-log.md has the details
and an example. :func:`record` appends inside the caller's transaction, so an event
is logged exactly when the change it describes commits. On PostgreSQL, writers are
serialised with a transaction-scoped advisory lock so that concurrent appends never
fork the chain; on every database ``prev_hash`` is unique, so a fork cannot commit.

Never pass secrets or raw ID numbers in ``actor``, ``subject`` or ``details``: use
``keys.validators.mask_id_number`` or an opaque id.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from authority.db import utcnow
from authority.models import AuditEntry
from keys.sm3 import sm3

GENESIS_HASH = "0" * 64
#: Key for pg_advisory_xact_lock: the ASCII bytes of "AUDITLOG" read as an integer.
ADVISORY_LOCK_KEY = int.from_bytes(b"AUDITLOG", "big") & 0x7FFF_FFFF_FFFF_FFFF
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
MAX_FIELD = 255


class AuditError(ValueError):
    """An audit entry was refused before writing (bad event name, unserialisable details)."""


def format_time(value: dt.datetime) -> str:
    """The canonical time text: UTC with microseconds and a trailing Z."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 text (not \\u escapes)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def canonical_entry(
    *,
    seq: int,
    time: dt.datetime,
    event: str,
    actor: str | None,
    subject: str | None,
    details: dict[str, Any],
) -> bytes:
    """The bytes that the chain hashes for one entry."""
    body = {
        "seq": seq,
        "time": format_time(time),
        "event": event,
        "actor": actor,
        "subject": subject,
        "details": details,
    }
    return canonical_json(body).encode("utf-8")


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """SM3(prev_hash bytes ‖ canonical entry), as 64 lowercase hex digits."""
    return sm3(bytes.fromhex(prev_hash) + canonical).hex()


def entry_hash(entry: Any) -> str:
    """Recompute an entry's hash from its stored fields (an AuditEntry or a row)."""
    canonical = canonical_entry(
        seq=entry.seq,
        time=entry.created_at,
        event=entry.event,
        actor=entry.actor,
        subject=entry.subject,
        details=json.loads(entry.details),
    )
    return chain_hash(entry.prev_hash, canonical)


_HEAD = sa.select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
#: PostgreSQL: take the chain's advisory lock, then read the head, in one round trip
#: (migration authority_0002). The lock is held until the caller's transaction ends,
#: so the head we read stays the head until our entry commits or rolls back.
_LOCKED_HEAD = sa.text("SELECT seq, hash FROM audit_log_locked_head(:key)").bindparams(
    key=ADVISORY_LOCK_KEY
)


def _locked_head(session: Session) -> tuple[int, str]:
    """The (seq, hash) the next entry follows, with the chain locked on PostgreSQL.

    Elsewhere (SQLite, development only) the unique ``prev_hash`` keeps the chain from
    forking: a second writer that read the same head fails at INSERT.
    """
    query = _LOCKED_HEAD if session.get_bind().dialect.name == "postgresql" else _HEAD
    head = session.execute(query).first()
    return (head.seq, head.hash) if head else (0, GENESIS_HASH)


@dataclass(frozen=True)
class Event:
    """One event to append: see :func:`record` for the fields."""

    event: str
    actor: str | None = None
    subject: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def record(
    session: Session,
    event: str,
    *,
    actor: str | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an event to the audit log inside ``session``'s transaction.

    ``event`` is a dotted name ("login.success", "license.issued"); ``actor`` who did
    it, ``subject`` what it was done to, ``details`` a JSON object. Nothing is
    committed here: the entry commits or rolls back with the caller's change. The
    caller's pending ORM changes are flushed first (their ids may be in ``details``);
    the entry itself is written with one Core INSERT and returned detached.
    """
    (entry,) = record_many(session, [Event(event, actor, subject, dict(details or {}))])
    return entry


def record_many(session: Session, events: list[Event]) -> list[AuditEntry]:
    """Append ``events`` in order, chained one after the other: one lock, one head read
    and one INSERT for all of them. Every event is checked before anything is written."""
    texts = [_checked_details(e) for e in events]
    if not events:
        return []
    session.flush()
    last_seq, prev_hash = _locked_head(session)
    rows: list[dict[str, Any]] = []
    for e, details_text in zip(events, texts, strict=True):
        created_at = utcnow()
        last_seq += 1
        canonical = canonical_entry(
            seq=last_seq,
            time=created_at,
            event=e.event,
            actor=e.actor,
            subject=e.subject,
            details=e.details,
        )
        row = {
            "seq": last_seq,
            "created_at": created_at,
            "event": e.event,
            "actor": e.actor,
            "subject": e.subject,
            "details": details_text,
            "prev_hash": prev_hash,
            "hash": chain_hash(prev_hash, canonical),
        }
        prev_hash = row["hash"]
        rows.append(row)
    session.execute(sa.insert(AuditEntry.__table__), rows)
    return [AuditEntry(**row) for row in rows]


def _checked_details(e: Event) -> str:
    """The canonical text of ``e``'s details, after checking every field (AuditError)."""
    if not isinstance(e.event, str) or not EVENT_NAME.match(e.event) or len(e.event) > 100:
        raise AuditError(f"audit event must be a dotted lower-case name, not {e.event!r}")
    for name, value in (("actor", e.actor), ("subject", e.subject)):
        if value is not None and (not isinstance(value, str) or len(value) > MAX_FIELD):
            raise AuditError(f"audit {name} must be a string of at most {MAX_FIELD} characters")
    try:
        return canonical_json(e.details)
    except (TypeError, ValueError) as exc:
        raise AuditError(f"audit details must be plain JSON: {exc}") from None


# ---------------------------------------------------------------- events recorded late

#: Functions that append events their package recorded late (from an outbox), each
#: ``fn(session) -> int`` (how many it appended). Readers of the log run them first.
_LATE_SOURCES: dict[str, Callable[[Session], int]] = {}


def register_late_source(fn: Callable[[Session], int]) -> Callable[[Session], int]:
    """Register an outbox drain (usable as a decorator; registering twice is harmless)."""
    _LATE_SOURCES[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def append_late_events(session: Session) -> int:
    """Append every event still waiting in a package's outbox; how many were appended."""
    return sum(fn(session) for fn in _LATE_SOURCES.values())


@dataclass(frozen=True)
class ChainReport:
    """The result of :func:`verify_chain`."""

    checked: int
    head_hash: str | None
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def verify_chain(session: Session) -> ChainReport:
    """Walk the log in order and check every link; stop at the first broken entry.

    Detects an edited entry (its hash no longer matches), a deleted or inserted entry
    (gap in ``seq`` or ``prev_hash`` not the previous hash) and an altered hash.
    Removing entries from the end leaves a valid shorter chain: compare ``head_hash``
    with one recorded earlier (docs/audit-log.md).
    """
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for entry in _entries_in_order(session):
        if entry.seq != expected_seq:
            return ChainReport(
                checked, prev_hash, entry.seq, f"expected entry {expected_seq}, found {entry.seq}"
            )
        if entry.prev_hash != prev_hash:
            return ChainReport(
                checked, prev_hash, entry.seq, "prev_hash does not match the previous entry"
            )
        try:
            recomputed = entry_hash(entry)
        except (ValueError, TypeError):
            return ChainReport(checked, prev_hash, entry.seq, "details are not valid JSON")
        if recomputed != entry.hash:
            return ChainReport(
                checked, prev_hash, entry.seq, "content does not match its hash (entry altered)"
            )
        prev_hash, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
    return ChainReport(checked, prev_hash if checked else None)


def append_only_guard(session: Session) -> str | None:
    """State of the PostgreSQL trigger that refuses UPDATE/DELETE on audit_log.

    "enabled", "disabled" (someone ran ALTER TABLE ... DISABLE TRIGGER) or "missing";
    None on databases without the trigger (SQLite, development only).
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    state = session.execute(
        sa.text(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_log_append_only' "
            "AND tgrelid = 'audit_log'::regclass"
        )
    ).scalar()
    if state is None:
        return "missing"
    return "disabled" if state == "D" else "enabled"


def _entries_in_order(session: Session) -> Iterator[Any]:
    # Plain rows (not ORM objects) in batches: memory stays flat for long logs and the
    # caller's session keeps no identity-map copies.
    table = AuditEntry.__table__
    last = 0
    while True:
        batch = session.execute(
            sa.select(table).where(table.c.seq > last).order_by(table.c.seq).limit(1000)
        ).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].seq


def recent(session: Session, *, limit: int = 20, event: str | None = None) -> list[AuditEntry]:
    """The latest entries, newest first; ``event`` filters by name or dotted prefix ("login")."""
    query = sa.select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if event:
        query = query.where(
            sa.or_(AuditEntry.event == event, AuditEntry.event.startswith(event + "."))
        )
    return list(session.execute(query).scalars())
