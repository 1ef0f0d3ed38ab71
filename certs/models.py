"""Tables of the e-license service: catalogue, departments, signing certificates,
licenses, idempotency records, counters and published trust bundles.

Private keys live in the shell's key store (``stored_keys``, purpose
``department:<credit code>``); this package keeps, per department key, the
certificates the provincial root issued for it (``signing_certificates``). The key
store's row is referred to by its ``kid`` text rather than a foreign key, so that the
two Alembic branches stay independent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authority.db import Base


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Department(Base):
    """A government department that owns license types and signs licenses."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_code: Mapped[str] = mapped_column(sa.String(18), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    region_code: Mapped[str] = mapped_column(sa.String(6))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    certificates: Mapped[list[SigningCertificate]] = relationship(
        back_populates="department", order_by="SigningCertificate.id"
    )


class LicenseType(Base):
    """One version of a catalogue entry; a schema change adds a row with version + 1."""

    __tablename__ = "license_types"
    __table_args__ = (sa.UniqueConstraint("code", "version", name="uq_license_types_code_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(12), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    name_zh: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str] = mapped_column(sa.String(200))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id"))
    #: "person" (citizen ID number) or "organisation" (unified social credit code).
    holder_kind: Mapped[str] = mapped_column(sa.String(12))
    #: JSON Schema (Draft 2020-12) of the license's fields.
    fields_schema: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    #: Validity in days from issuance; None means the license does not expire.
    validity_days: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    department: Mapped[Department] = relationship()


class SigningCertificate(Base):
    """A certificate from the provincial root for one department key and its type codes.

    ``kid`` is the wire-format key id (first 8 bytes of SM3 over the certificate's DER,
    hex); status-list indexes are allocated per certificate through
    ``next_status_index``. ``stored_key_kid`` names the key store row.
    """

    __tablename__ = "signing_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(sa.String(16), unique=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id"), index=True)
    stored_key_kid: Mapped[str] = mapped_column(sa.String(64), index=True)
    certificate_pem: Mapped[str] = mapped_column(sa.Text)
    license_types: Mapped[list[str]] = mapped_column(sa.JSON)
    next_status_index: Mapped[int] = mapped_column(sa.Integer, default=0)
    #: The certificate used for new licenses of its department (one per department).
    current: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Set when the key was rotated away (the certificate stays published while needed).
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Set when the key was reported compromised: licenses signed later stop verifying.
    compromised_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    department: Mapped[Department] = relationship(back_populates="certificates")


class SerialCounter(Base):
    """The last serial allocated per (type code, issuing department)."""

    __tablename__ = "license_serials"

    type_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id"), primary_key=True)
    last_serial: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class License(Base):
    """An issued license. Its fields and type version are never rewritten."""

    __tablename__ = "licenses"
    __table_args__ = (
        # Also the index for look-ups by signing_kid (its leading column).
        sa.UniqueConstraint("signing_kid", "status_index", name="uq_licenses_kid_status_index"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(sa.String(64), unique=True)
    type_code: Mapped[str] = mapped_column(sa.String(12))
    license_type_id: Mapped[int] = mapped_column(sa.ForeignKey("license_types.id"))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id"), index=True)
    serial: Mapped[int] = mapped_column(sa.BigInteger)
    version: Mapped[int] = mapped_column(sa.Integer)
    holder_kind: Mapped[str] = mapped_column(sa.String(12))
    #: Keyed SM3 blind index of the holder's number (look-up without storing it in clear).
    holder_index: Mapped[str] = mapped_column(sa.String(64), index=True)
    holder_id_masked: Mapped[str] = mapped_column(sa.String(32))
    holder_id_salt: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    holder_id_digest: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    holder_name: Mapped[str] = mapped_column(sa.String(200))
    fields: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    signing_kid: Mapped[str] = mapped_column(sa.String(16))
    status_index: Mapped[int] = mapped_column(sa.Integer)
    #: "valid", "suspended" or "revoked" (final).
    status: Mapped[str] = mapped_column(sa.String(12), default="valid")
    status_reason: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    superseded_by: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    qr_text: Mapped[str] = mapped_column(sa.Text)
    client_id: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)

    license_type: Mapped[LicenseType] = relationship()
    department: Mapped[Department] = relationship()


class IdempotencyRecord(Base):
    """A client's ``Idempotency-Key`` and the license its first request created."""

    __tablename__ = "license_idempotency"
    __table_args__ = (
        sa.UniqueConstraint("client_id", "key", name="uq_license_idempotency_client_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(128))
    key: Mapped[str] = mapped_column(sa.String(255))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    license_identifier: Mapped[str] = mapped_column(sa.ForeignKey("licenses.identifier"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrustState(Base):
    """One row: a generation number bumped by every change that a bundle must show."""

    __tablename__ = "trust_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(sa.Integer, default=0)


class TrustBundleRecord(Base):
    """A built and signed trust bundle, kept so that every worker serves the same bytes."""

    __tablename__ = "trust_bundles"

    sequence: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(sa.Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_update: Mapped[datetime] = mapped_column(UTCDateTime())
    sha256: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


__all__ = [
    "Department",
    "IdempotencyRecord",
    "License",
    "LicenseType",
    "SerialCounter",
    "SigningCertificate",
    "TrustBundleRecord",
    "TrustState",
]

# The reminder tables (certs-web) live in their own module; importing them here keeps
# this module the one that declares every table of the package (authority.migrate).
from certs.reminder_models import ReminderSubscription, SentReminder  # noqa: E402

__all__ += ["ReminderSubscription", "SentReminder"]
