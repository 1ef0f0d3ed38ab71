"""Time-based one-time passwords (RFC 6238) and one-time recovery codes.

Tables only in this first step; the logic follows.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from authority.db import Base


class RecoveryCode(Base):
    """One of a person's ten one-time recovery codes, stored as a keyed hash."""

    __tablename__ = "recovery_codes"
    __table_args__ = (sa.UniqueConstraint("person_id", "code_hash"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False
    )
    code_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    used_at: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
