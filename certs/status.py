"""License status: suspend, reinstate, revoke (final) and supersede.

Each change is written with the status of the license, audited, and bumps the trust
generation, so the next trust bundle (a new sequence) carries the signing key's updated
status list (verify.status: 0 valid, 1 suspended, 2 revoked).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from authority import audit
from certs import catalogue, field_validation, issuance, trust
from certs.errors import InvalidRequest, InvalidTransition, LicenseNotOwned, UnknownLicense
from certs.holders import Holder
from certs.issuance import NewLicense, Prepared
from certs.models import Department, License

VALID = "valid"
SUSPENDED = "suspended"
REVOKED = "revoked"

#: Reasons are codes, not free text, so that no personal data enters a status.
REASONS = (
    "holder_request",
    "under_investigation",
    "issued_in_error",
    "withdrawn",
    "fraud",
    "superseded",
    "other",
)


def get(session: Session, identifier: str, *, for_update: bool = False) -> License:
    stmt = sa.select(License).where(License.identifier == identifier)
    if for_update:
        stmt = stmt.with_for_update()
    found = session.scalar(stmt)
    if found is None:
        raise UnknownLicense(f"there is no license {identifier!r}", license=identifier)
    return found


def owned(
    session: Session, department: Department, identifier: str, *, for_update: bool = True
) -> License:
    lic = get(session, identifier, for_update=for_update)
    if lic.department_id != department.id:
        raise LicenseNotOwned(
            "only the issuing department may read or change this license", license=identifier
        )
    return lic


def _reason(reason: Any) -> str:
    if reason not in REASONS:
        raise InvalidRequest(
            f"reason must be one of {', '.join(REASONS)}", pointer="/reason", allowed=REASONS
        )
    return str(reason)


def _change(
    session: Session,
    lic: License,
    new: str,
    reason: str | None,
    *,
    actor: str | None,
    event: str,
) -> License:
    lic.status = new
    lic.status_reason = reason
    lic.status_changed_at = datetime.now(UTC)
    trust.changed(session)
    details: dict[str, Any] = {"status": new}
    if reason:
        details["reason"] = reason
    audit.record(session, event, actor=actor, subject=lic.identifier, details=details)
    session.flush()
    return lic


def suspend(
    session: Session, department: Department, identifier: str, reason: Any, *, actor: str | None
) -> License:
    lic = owned(session, department, identifier)
    if lic.status != VALID:
        raise InvalidTransition(
            f"a {lic.status} license cannot be suspended",
            license=identifier,
            license_status=lic.status,
        )
    return _change(session, lic, SUSPENDED, _reason(reason), actor=actor, event="license.suspended")


def reinstate(
    session: Session, department: Department, identifier: str, *, actor: str | None
) -> License:
    lic = owned(session, department, identifier)
    if lic.status != SUSPENDED:
        raise InvalidTransition(
            f"a {lic.status} license cannot be reinstated",
            license=identifier,
            license_status=lic.status,
        )
    return _change(session, lic, VALID, None, actor=actor, event="license.reinstated")


def revoke(
    session: Session, department: Department, identifier: str, reason: Any, *, actor: str | None
) -> License:
    lic = owned(session, department, identifier)
    if lic.status == REVOKED:
        raise InvalidTransition(
            "the license is already revoked (revocation is final)",
            license=identifier,
            license_status=lic.status,
        )
    return _change(session, lic, REVOKED, _reason(reason), actor=actor, event="license.revoked")


def supersede(
    session: Session, department: Department, identifier: str, body: Any, *, actor: str | None
) -> NewLicense:
    """Issue version n+1 with new fields (and optionally holder name); revoke version n.

    The new version is issued under the type's *current* schema version; the holder and
    the holder's salted digest are carried over (the number itself is never stored).
    """
    old = owned(session, department, identifier)
    if old.status == REVOKED:
        raise InvalidTransition(
            "a revoked license cannot be superseded", license=identifier, license_status=old.status
        )
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object", pointer="")
    entry = catalogue.current_type(session, old.type_code)
    fields = field_validation.validate_fields(entry, body.get("fields", old.fields))
    name = body.get("holder_name", old.holder_name)
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise InvalidRequest("holder_name must be 1-128 characters", pointer="/holder_name")
    prepared = Prepared(entry, Holder(old.holder_kind, ""), name.strip(), fields, None, "")
    (new,) = issuance.write(
        session,
        department,
        [prepared],
        client_id=actor,
        version=old.version + 1,
        serial=old.serial,
        audit_event="license.superseding_issued",
        holder_from=old,
    )
    old.superseded_by = new.identifier
    _change(session, old, REVOKED, "superseded", actor=actor, event="license.superseded")
    return new


def status_json(lic: License) -> dict[str, Any]:
    """The online status answer: no personal data."""
    now = datetime.now(UTC)
    expired = lic.expires_at is not None and lic.expires_at <= now
    return {
        "id": lic.identifier,
        "type": lic.type_code,
        "status": lic.status,
        "reason": lic.status_reason,
        "changed_at": lic.status_changed_at.isoformat() if lic.status_changed_at else None,
        "not_before": lic.not_before.isoformat(),
        "expires_at": lic.expires_at.isoformat() if lic.expires_at else None,
        "expired": expired,
        "superseded_by": lic.superseded_by,
        "checked_at": now.replace(microsecond=0).isoformat(),
    }
