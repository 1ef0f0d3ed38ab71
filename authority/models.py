"""The shell's tables: the SM3-chained audit log and the key store.

Every package's tables are imported by :func:`authority.migrate.import_models`; this
module holds the ``authority`` branch's (migrations in authority/migrations/versions).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from authority.db import Base, UTCDateTime

KEY_STATUSES = ("active", "retired", "compromised")
KEY_ALGORITHMS = ("SM2", "RS256", "ES256")


class AuditEntry(Base):
    """One audit event. Append-only; ``hash`` = SM3(prev_hash ‖ canonical entry).

    See docs/audit-log.md for the canonical encoding. ``seq`` starts at 1 and has no
    gaps; ``prev_hash`` of the first entry is 64 zeros. ``prev_hash`` is unique, so two
    writers that both read the same head cannot both append (no fork, on any database).
    """

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    event: Mapped[str] = mapped_column(sa.String(100), nullable=False, index=True)
    actor: Mapped[str | None] = mapped_column(sa.String(255))
    subject: Mapped[str | None] = mapped_column(sa.String(255))
    #: Canonical JSON of the details object ("{}" when there are none).
    details: Mapped[str] = mapped_column(sa.Text, nullable=False)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)


class StoredKey(Base):
    """A signing key: public part in clear, private part sealed with SM4-GCM under the KEK.

    ``kid`` is the hex of the first 8 bytes of SM3 over the SubjectPublicKeyInfo DER.
    At most one key per purpose is ``active`` (a partial unique index enforces it, so
    two concurrent rotations cannot both win). A retired key stays published (JWKS,
    trust bundle) until ``unpublished_at`` is set by whoever knows that nothing it
    signed is still valid.
    """

    __tablename__ = "stored_keys"
    __table_args__ = (
        sa.CheckConstraint("status IN ('active', 'retired', 'compromised')", name="status"),
        sa.CheckConstraint("algorithm IN ('SM2', 'RS256', 'ES256')", name="algorithm"),
        sa.Index(
            "uq_stored_keys_active_purpose",
            "purpose",
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    purpose: Mapped[str] = mapped_column(sa.String(120), nullable=False, index=True)
    algorithm: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    public_pem: Mapped[str] = mapped_column(sa.Text, nullable=False)
    sealed_private: Mapped[bytes] = mapped_column(sa.LargeBinary, nullable=False)
    certificate_pem: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    compromised_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    unpublished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def published(self) -> bool:
        """Whether verifiers should still see this key's public part."""
        return self.status in ("active", "retired") and self.unpublished_at is None

    def __repr__(self) -> str:
        return f"StoredKey(kid={self.kid!r}, purpose={self.purpose!r}, status={self.status!r})"
