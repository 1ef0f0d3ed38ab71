"""Accounts: persons, organisations and the agents that link them.

- A person (自然人) is keyed by a citizen identity number (GB 11643-1999, validated by
  :func:`keys.validators.validate_id_number`). The number and the phone number are
  personal information: stored SM4-GCM encrypted with a keyed SM3 blind index for
  look-up (:mod:`oidc.pii`), never in clear text, never logged.
- An organisation (法人) is keyed by a unified social credit code (GB 32100-2015,
  :func:`keys.validators.validate_credit_code`); credit codes are public.
- An agent row lets a person act for an organisation, as its legal representative
  (法定代表人) or as an authorised agent (经办人).

Times are stored as integer seconds since the epoch (UTC) so that comparisons behave
the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authority.db import Base

#: Roles an agent may hold for an organisation.
ROLES = ("legal_representative", "authorised_agent")


class Person(Base):
    """A natural person who can log in."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    #: SM4-GCM ciphertext of the normalised ID number (see oidc.pii).
    id_number_cipher: Mapped[bytes] = mapped_column(sa.LargeBinary, nullable=False)
    #: Keyed SM3 blind index of the ID number (hex), for look-up at login.
    id_number_index: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    phone_cipher: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    phone_index: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, unique=True)
    phone_verified: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    #: argon2id PHC string; NULL means no password is set (cannot log in yet).
    password_hash: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    password_changed_at: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    #: Confirmed TOTP secret (SM4-GCM ciphertext); NULL when no second factor.
    totp_secret_cipher: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    #: A secret shown during enrolment, not yet confirmed by a code.
    totp_pending_cipher: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    totp_enabled_at: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    #: The last TOTP time step accepted, so that a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    disabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)

    agents: Mapped[list[Agent]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def has_totp(self) -> bool:
        return self.totp_secret_cipher is not None


class Organisation(Base):
    """A legal person (法人) or other organisation, keyed by its credit code."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(sa.String(18), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    created_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)

    agents: Mapped[list[Agent]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan", passive_deletes=True
    )


class Agent(Base):
    """A person's standing to act for an organisation."""

    __tablename__ = "agents"
    __table_args__ = (
        sa.UniqueConstraint("person_id", "organisation_id"),
        sa.CheckConstraint("role IN ('legal_representative', 'authorised_agent')", name="role"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    role: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    created_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)

    person: Mapped[Person] = relationship(back_populates="agents")
    organisation: Mapped[Organisation] = relationship(back_populates="agents")
