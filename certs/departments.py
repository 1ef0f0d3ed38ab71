"""Departments and their signing keys, certified by the provincial root.

Each department has one or more SM2 keys in the key store (purpose
``department:<credit code>``). The provincial root (purpose ``root``) certifies a key
for the department's license-type codes (GM/T 0015-2012 profile, keys.x509); a new
certificate is issued for the same key whenever the department gains a type. Rotation
certifies a new key; older certificates stay in the trust bundle while a license they
signed can still be valid. A compromise report records ``compromised_at`` on every
certificate of that key, so verifiers reject licenses signed after that instant.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from authority import audit
from authority.keystore import keystore
from authority.models import StoredKey
from certs import trust
from certs.errors import (
    DepartmentExists,
    InvalidDepartment,
    NoSigningKey,
    NotInitialised,
    UnknownDepartment,
)
from certs.models import Department, SigningCertificate
from keys import validators
from keys.sm2 import SM2PrivateKey
from keys.x509 import Certificate, issue_signing_certificate

ROOT_PURPOSE = "root"
REGION_RE = re.compile(r"^[1-9][0-9]{5}$")
#: Lifetime of a department signing certificate (capped by the root's).
CERTIFICATE_DAYS = 3650


def purpose(credit_code: str) -> str:
    return f"department:{credit_code}"


def root(session: Session) -> tuple[SM2PrivateKey, Certificate]:
    """The provincial root's private key and certificate (created by ``authority init``)."""
    store = keystore(session)
    try:
        stored = store.active(ROOT_PURPOSE)
    except LookupError:
        raise NotInitialised("run `authority init` to create the provincial root") from None
    if not stored.certificate_pem:
        raise NotInitialised("the provincial root key has no certificate")
    key = store.private_key(stored)
    assert isinstance(key, SM2PrivateKey)
    pem = stored.certificate_pem
    return key, Certificate.from_pem(pem if isinstance(pem, bytes) else pem.encode())


def get(session: Session, credit_code: str) -> Department:
    found = session.scalar(sa.select(Department).where(Department.credit_code == credit_code))
    if found is None:
        raise UnknownDepartment(
            f"there is no department with credit code {credit_code!r}", department=credit_code
        )
    return found


def list_departments(session: Session) -> list[Department]:
    return list(session.scalars(sa.select(Department).order_by(Department.credit_code)))


def add(
    session: Session, *, name: str, credit_code: str, region_code: str, actor: str | None = None
) -> Department:
    """Register a department and create and certify its first signing key."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidDepartment("name must be 1-200 characters", pointer="/name")
    try:
        code = validators.validate_credit_code(credit_code)
    except ValueError as exc:
        raise InvalidDepartment(
            "credit_code is not a valid unified social credit code: "
            + (getattr(exc, "message_en", None) or "invalid"),
            pointer="/credit_code",
            reason=getattr(exc, "reason", "invalid"),
        ) from None
    if not isinstance(region_code, str) or not REGION_RE.match(region_code):
        raise InvalidDepartment(
            "region_code must be a 6-digit administrative division code (GB/T 2260)",
            pointer="/region_code",
        )
    if session.scalar(sa.select(Department.id).where(Department.credit_code == code)):
        raise DepartmentExists(f"department {code} exists", department=code)
    dept = Department(name=name.strip(), credit_code=code, region_code=region_code)
    session.add(dept)
    session.flush()
    # The key is certified when the department gets its first license type: a
    # signing certificate must name at least one type code.
    keystore(session).create(purpose(code), "SM2")
    audit.record(session, "department.added", actor=actor, subject=code)
    return dept


def certify(session: Session, dept: Department, stored: StoredKey) -> SigningCertificate:
    """Have the root certify ``stored`` (a key store row) for the department's types."""
    from certs.catalogue import department_type_codes

    root_key, root_cert = root(session)
    private = keystore(session).private_key(stored)
    assert isinstance(private, SM2PrivateKey)
    now = datetime.now(UTC).replace(microsecond=0)
    not_after = min(now + timedelta(days=CERTIFICATE_DAYS), root_cert.not_after)
    types = department_type_codes(session, dept.id)
    cert = issue_signing_certificate(
        root_key,
        root_cert,
        private.public_key(),
        common_name=f"{dept.name} license signing",
        organisation=dept.name,
        credit_code=dept.credit_code,
        license_types=types,
        not_before=now - timedelta(minutes=5),
        not_after=not_after,
    )
    pem = cert.pem()
    stored_kid = str(stored.kid)
    # The key store row keeps its latest certificate for operators; we keep all of them.
    keystore(session).set_certificate(stored, pem)
    session.execute(
        sa.update(SigningCertificate)
        .where(SigningCertificate.department_id == dept.id)
        .values(current=False)
    )
    row = SigningCertificate(
        kid=cert.kid.hex(),
        department_id=dept.id,
        stored_key_kid=stored_kid,
        certificate_pem=pem.decode() if isinstance(pem, bytes) else pem,
        license_types=types,
        next_status_index=0,
        current=True,
    )
    session.add(row)
    session.flush()
    trust.changed(session)
    return row


def recertify(session: Session, dept: Department) -> SigningCertificate | None:
    """Certify the department's active key for its current type list (None: no types yet)."""
    from certs.catalogue import department_type_codes

    if not department_type_codes(session, dept.id):
        return None
    stored = keystore(session).active(purpose(dept.credit_code))
    return certify(session, dept, stored)


def current_certificate(
    session: Session, dept: Department, *, required: bool = True
) -> SigningCertificate | None:
    found = session.scalar(
        sa.select(SigningCertificate).where(
            SigningCertificate.department_id == dept.id,
            SigningCertificate.current.is_(True),
            SigningCertificate.compromised_at.is_(None),
        )
    )
    if found is None and required:
        raise NoSigningKey(
            f"department {dept.credit_code} has no usable signing key; rotate its key",
            department=dept.credit_code,
        )
    return found


def signing_key(session: Session, row: SigningCertificate) -> SM2PrivateKey:
    """The private key of a signing certificate, unsealed from the key store."""
    store = keystore(session)
    dept = session.get(Department, row.department_id)
    assert dept is not None
    # The certificate's own key, by its kid (one row), if it is still the department's
    # and published (not compromised, not withdrawn).
    try:
        stored = store.get(row.stored_key_kid)
    except LookupError:
        stored = None
    if stored is not None and stored.purpose == purpose(dept.credit_code) and stored.published:
        key = store.private_key(stored)
        assert isinstance(key, SM2PrivateKey)
        return key
    raise NoSigningKey(
        f"department {dept.credit_code} has no usable signing key; rotate its key",
        department=dept.credit_code,
    )


def rotate(
    session: Session, credit_code: str, *, actor: str | None = None
) -> SigningCertificate | None:
    """Create and certify a new key; the old one stops signing but stays published."""
    dept = get(session, credit_code)
    now = datetime.now(UTC)
    old_kids = {c.stored_key_kid for c in dept.certificates if c.retired_at is None}
    stored = keystore(session).rotate(purpose(dept.credit_code))
    for cert in dept.certificates:
        if cert.stored_key_kid in old_kids and cert.stored_key_kid != str(stored.kid):
            cert.retired_at = now
            cert.current = False
    row = recertify(session, dept)
    audit.record(
        session,
        "department.key_rotated",
        actor=actor,
        subject=dept.credit_code,
        details={"key": str(stored.kid), "kid": row.kid if row else None},
    )
    trust.changed(session)
    return row


def report_compromised(
    session: Session,
    credit_code: str,
    kid: str,
    at: datetime,
    *,
    actor: str | None = None,
) -> list[SigningCertificate]:
    """Record that a department key was compromised at ``at``.

    ``kid`` is the wire-format kid of any certificate of that key (or the key store's
    kid). Every certificate of the key gets ``compromised_at``; if it was the key in
    use, a new key is certified so the department can keep issuing.
    """
    if at.tzinfo is None:
        raise InvalidDepartment("the compromise time must include a time zone", pointer="/at")
    dept = get(session, credit_code)
    match = [c for c in dept.certificates if kid in (c.kid, c.stored_key_kid)]
    if not match:
        raise NoSigningKey(f"department {credit_code} has no key {kid!r}", kid=kid)
    stored_kid = match[0].stored_key_kid
    affected = [c for c in dept.certificates if c.stored_key_kid == stored_kid]
    was_current = any(c.current for c in affected)
    for cert in affected:
        cert.compromised_at = at.astimezone(UTC)
        cert.current = False
        cert.retired_at = cert.retired_at or datetime.now(UTC)
    keystore(session).mark_compromised(stored_kid, at)
    session.flush()
    if was_current:
        keystore(session).create(purpose(dept.credit_code), "SM2")
        recertify(session, dept)
    trust.changed(session)
    audit.record(
        session,
        "department.key_compromised",
        actor=actor,
        subject=dept.credit_code,
        details={"kid": match[0].kid, "compromised_at": at.astimezone(UTC).isoformat()},
    )
    return affected


def department_json(dept: Department) -> dict[str, object]:
    return {
        "name": dept.name,
        "credit_code": dept.credit_code,
        "region_code": dept.region_code,
        "keys": [
            {
                "kid": c.kid,
                "stored_key": c.stored_key_kid,
                "license_types": c.license_types,
                "current": c.current,
                "created_at": c.created_at.isoformat() if c.created_at else None,
                "retired_at": c.retired_at.isoformat() if c.retired_at else None,
                "compromised_at": c.compromised_at.isoformat() if c.compromised_at else None,
            }
            for c in dept.certificates
        ],
    }
