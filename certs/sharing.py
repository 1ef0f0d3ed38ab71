"""Sharing with consent (互认共享): a portal reads a person's licenses with their token.

``GET /api/v1/me/licenses`` and ``GET /api/v1/me/licenses/<id>`` need a Bearer access
token with scope ``licenses:read`` (RFC 6750; validated by ``oidc.api.require_oauth``)
that was issued *for a person* through the authorization code flow, i.e. with the
person's consent to that scope. ``TokenInfo.holder_ids`` names whose licenses the
token may read: the person's ID number and, when the person acts for an organisation,
its credit code.

A client-credentials token has no person, hence no holder ids: it is refused (403
problem ``consent-required``) even if it carries the scope, so no department reads
another holder's licenses without that holder's consent. A license of someone else is
a 404, indistinguishable from one that does not exist. Every license returned is
audited as ``license.shared`` (client id and license id) in the same transaction.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify

from authority import audit, db
from authority.problems import Problem, problem_type
from certs.holders import holder_index
from certs.models import License
from oidc.api import current_token, require_oauth

api = Blueprint("certs_sharing", __name__, url_prefix="/api/v1")

READ_SCOPE = "licenses:read"


class ConsentRequired(Problem):
    status = 403
    title = "The token carries no holder's consent"
    type = problem_type("consent-required")


class SharedLicenseNotFound(Problem):
    status = 404
    title = "No such license"
    type = problem_type("unknown-license")


def _indexes() -> list[str]:
    token = current_token()
    if not token.holder_ids:
        raise ConsentRequired(
            detail="licenses are shared only with a token the holder consented to "
            "(authorization code flow with scope licenses:read); a client-credentials "
            "token cannot read holders' licenses"
        )
    return sorted({holder_index(h) for h in token.holder_ids})


def shared_json(lic: License) -> dict[str, Any]:
    """A license as a portal with the holder's consent sees it."""
    base = current_app.extensions["authority.settings"].issuer.rstrip("/")
    entry = lic.license_type
    return {
        "id": lic.identifier,
        "type": lic.type_code,
        "type_version": entry.version,
        "type_name": {"zh-CN": entry.name_zh, "en": entry.name_en},
        "issuer": {"credit_code": lic.department.credit_code, "name": lic.department.name},
        "holder": {
            "kind": lic.holder_kind,
            "name": lic.holder_name,
            "id_masked": lic.holder_id_masked,
        },
        "fields": lic.fields,
        "issued_at": lic.issued_at.isoformat(),
        "not_before": lic.not_before.isoformat(),
        "expires_at": lic.expires_at.isoformat() if lic.expires_at else None,
        "status": lic.status,
        "superseded_by": lic.superseded_by,
        "qr_text": lic.qr_text,
        "links": {
            "status": f"{base}/api/v1/licenses/{lic.identifier}/status",
            "qr_png": f"{base}/licenses/{lic.identifier}/qr.png",
            "qr_svg": f"{base}/licenses/{lic.identifier}/qr.svg",
        },
    }


def _audit(licenses: list[License]) -> None:
    session = db.session()
    client_id = current_token().client_id
    for lic in licenses:
        audit.record(
            session,
            "license.shared",
            actor=client_id,
            subject=lic.identifier,
            details={"client_id": client_id, "license": lic.identifier},
        )
    session.commit()


@api.get("/me/licenses")
@require_oauth(READ_SCOPE)
def list_licenses() -> Response:
    indexes = _indexes()
    licenses = list(
        db.session().scalars(
            sa.select(License)
            .where(License.holder_index.in_(indexes))
            .order_by(License.issued_at.desc(), License.id.desc())
        )
    )
    body = {"licenses": [shared_json(lic) for lic in licenses]}
    _audit(licenses)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@api.get("/me/licenses/<identifier>")
@require_oauth(READ_SCOPE)
def show_license(identifier: str) -> Response:
    indexes = _indexes()
    lic = db.session().scalar(
        sa.select(License).where(
            License.identifier == identifier, License.holder_index.in_(indexes)
        )
    )
    if lic is None:
        raise SharedLicenseNotFound(detail=f"there is no license {identifier!r} of this holder")
    body = shared_json(lic)
    _audit([lic])
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
