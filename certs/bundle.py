"""Assembling the trust bundle from the database (verify.bundle.build_bundle).

A bundle is built at most once per trust generation (certs.trust) and per refresh
interval, stored in ``trust_bundles`` with a strictly increasing ``sequence``, and
served as the same bytes by every worker. Contents: every department certificate that
may still be needed — the current ones, and older or compromised ones while a license
they signed has not expired — each with its ``compromised_at`` and its status list
(docs/trust-bundle.md).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from certs import departments, trust
from certs.issuance import published_status_size
from certs.models import Department, License, SigningCertificate, TrustBundleRecord
from keys.x509 import Certificate
from verify.bundle import BundleKey, build_bundle
from verify.status import LicenseStatus, StatusList

#: A bundle tells verifiers to fetch a new one after this long.
VALIDITY = timedelta(hours=24)
#: Even without changes, a bundle is rebuilt (new sequence, fresh issued_at) this often.
REFRESH = timedelta(hours=1)

_STATE = {"suspended": LicenseStatus.SUSPENDED, "revoked": LicenseStatus.REVOKED}


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def published_certificates(session: Session, now: datetime) -> list[SigningCertificate]:
    """Certificates a verifier may still need at ``now``."""
    live = (
        sa.select(License.signing_kid)
        .where(sa.or_(License.expires_at.is_(None), License.expires_at > now))
        .distinct()
    )
    return list(
        session.scalars(
            sa.select(SigningCertificate)
            .where(
                sa.or_(
                    sa.and_(
                        SigningCertificate.current.is_(True),
                        SigningCertificate.compromised_at.is_(None),
                    ),
                    SigningCertificate.kid.in_(live),
                )
            )
            .order_by(SigningCertificate.id)
        )
    )


def build(session: Session, *, sequence: int, generation: int, now: datetime) -> TrustBundleRecord:
    """Build and sign a bundle (not stored)."""
    root_key, root_cert = departments.root(session)
    now = now.replace(microsecond=0)
    certs = published_certificates(session, now)
    flagged: dict[str, list[tuple[int, str]]] = {c.kid: [] for c in certs}
    if certs:
        rows = session.execute(
            sa.select(License.signing_kid, License.status_index, License.status).where(
                License.status != "valid", License.signing_kid.in_(list(flagged))
            )
        )
        for kid, index, status in rows:
            flagged[kid].append((index, status))
    keys: list[BundleKey] = []
    summary_keys: list[dict[str, Any]] = []
    credit = {i: c for i, c in session.execute(sa.select(Department.id, Department.credit_code))}
    for row in certs:
        cert = Certificate.from_pem(row.certificate_pem.encode())
        status = StatusList(published_status_size(row.next_status_index))
        for index, state in flagged[row.kid]:
            status.set(index, _STATE[state])
        compromised = _epoch(row.compromised_at) if row.compromised_at else None
        keys.append(BundleKey(certificate=cert, compromised_at=compromised, status=status))
        summary_keys.append(
            {
                "kid": row.kid,
                "department": credit.get(row.department_id),
                "subject": cert.subject_cn,
                "license_types": list(cert.license_types),
                "not_before": cert.not_before.isoformat(),
                "not_after": cert.not_after.isoformat(),
                "compromised_at": row.compromised_at.isoformat() if row.compromised_at else None,
                "retired_at": row.retired_at.isoformat() if row.retired_at else None,
                "current": row.current,
                "status_list_size": len(status),
                "suspended": sum(1 for _, s in flagged[row.kid] if s == "suspended"),
                "revoked": sum(1 for _, s in flagged[row.kid] if s == "revoked"),
                "certificate_pem": row.certificate_pem,
            }
        )
    next_update = now + VALIDITY
    data = build_bundle(
        root_key,
        root_cert,
        keys,
        issued_at=_epoch(now),
        next_update=_epoch(next_update),
        sequence=sequence,
    )
    root_pem = root_cert.pem()
    summary = {
        "sequence": sequence,
        "issued_at": now.isoformat(),
        "next_update": next_update.isoformat(),
        "root": {
            "subject": root_cert.subject_cn,
            "fingerprint_sm3": root_cert.fingerprint().hex(),
            "certificate_pem": root_pem.decode() if isinstance(root_pem, bytes) else root_pem,
        },
        "keys": summary_keys,
    }
    return TrustBundleRecord(
        sequence=sequence,
        generation=generation,
        issued_at=now,
        next_update=next_update,
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        summary=summary,
    )


def latest(session: Session) -> TrustBundleRecord | None:
    return session.scalar(
        sa.select(TrustBundleRecord).order_by(TrustBundleRecord.sequence.desc()).limit(1)
    )


def current(session: Session, *, now: datetime | None = None) -> TrustBundleRecord:
    """The bundle to serve: the stored one if still current, else a new one (committed)."""
    now = now or datetime.now(UTC)
    gen = trust.generation(session)
    last = latest(session)
    if last is not None and last.generation == gen and now < last.issued_at + REFRESH:
        return last
    record = build(session, sequence=(last.sequence + 1) if last else 1, generation=gen, now=now)
    session.add(record)
    try:
        session.commit()
    except IntegrityError:
        # Another worker stored this sequence first: serve theirs.
        session.rollback()
        winner = latest(session)
        assert winner is not None
        return winner
    return record


def etag(record: TrustBundleRecord) -> str:
    """A strong validator: the sequence and the content hash."""
    return f"{record.sequence}-{record.sha256[:32]}"


def root_fingerprint(session: Session) -> str:
    """The SM3 fingerprint (hex) of the provincial root certificate, for pinning."""
    _, root_cert = departments.root(session)
    return root_cert.fingerprint().hex()
