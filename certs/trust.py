"""The trust generation: a counter bumped in the same transaction as every change a
trust bundle must show (a status change, a new or compromised key), so that the next
bundle request builds a new bundle with a new sequence number."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from certs.models import TrustState


def changed(session: Session) -> None:
    """Bump the generation (an upsert, safe under concurrency on both backends)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(TrustState).values(id=1, generation=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[TrustState.id], set_={"generation": TrustState.generation + 1}
    )
    session.execute(stmt)


def generation(session: Session) -> int:
    return session.scalar(sa.select(TrustState.generation).where(TrustState.id == 1)) or 0
