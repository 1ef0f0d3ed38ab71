"""Failed-login throttling with exponential back-off, per account and per client IP.

Tables only in this first step; the logic follows.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

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
