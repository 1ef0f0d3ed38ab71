"""Server-side single sign-on sessions (OpenID Connect Core 1.0, clause 3.1.2.1 ``auth_time``,
``acr`` and ``amr``; OpenID Connect Back-Channel Logout 1.0, clause 2.1 ``sid``).

Tables only in this first step; the logic follows.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from authority.db import Base


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
