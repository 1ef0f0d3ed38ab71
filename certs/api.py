"""The license REST API under ``/api/v1`` and the trust-bundle endpoints.

Department systems authenticate with OAuth 2.0 client credentials (RFC 6749 §4.4,
bearer tokens per RFC 6750, via ``oidc.api.require_oauth``); a client is bound to one
department (``TokenInfo.department``) and may only use that department's types and
licenses. Operators manage the catalogue with scope ``catalogue:admin``. Every refusal
is an RFC 9457 problem (``certs.errors``). The OpenAPI document is certs/openapi.py.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from authority import db
from authority.problems import Problem, problem_type
from certs import bundle, catalogue, departments, issuance, status
from certs.errors import CertsError, InvalidRequest, NotDepartmentClient
from certs.models import Department
from certs.openapi import document
from oidc.api import current_token, require_oauth

api = Blueprint("certs_api", __name__, url_prefix="/api/v1")
wellknown = Blueprint("certs_wellknown", __name__)

ISSUE_SCOPE = "licenses:issue"
CATALOGUE_SCOPE = "catalogue:admin"
BUNDLE_MEDIA_TYPE = "application/cbor"
BUNDLE_MAX_AGE = 300


def to_problem(exc: CertsError) -> Problem:
    return Problem(exc.status, exc.title, exc.detail, type=problem_type(exc.slug), **exc.extra)


@api.errorhandler(CertsError)
@wellknown.errorhandler(CertsError)
def _certs_error(exc: CertsError) -> Response:
    db.session().rollback()
    return to_problem(exc).to_response()


def _body() -> Any:
    body = request.get_json(silent=True)
    if body is None:
        raise InvalidRequest("the request body must be JSON (Content-Type: application/json)")
    return body


def _department() -> Department:
    token = current_token()
    if not token.department:
        raise NotDepartmentClient(
            "this client is not bound to a department; only department systems issue licenses"
        )
    try:
        return departments.get(db.session(), token.department)
    except CertsError:
        raise NotDepartmentClient(
            "the department this client is bound to is not registered"
        ) from None


def _license_response(lic: Any, status_code: int, *, replayed: bool = False) -> Response:
    response = jsonify(issuance.license_json(lic))
    response.status_code = status_code
    response.headers["Location"] = url_for(
        "certs_api.get_license", identifier=lic.identifier, _external=False
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@api.post("/licenses")
@require_oauth(ISSUE_SCOPE)
def create_license() -> Response:
    dept = _department()
    key = request.headers.get("Idempotency-Key")
    issued = issuance.issue(
        db.session(),
        dept,
        _body(),
        client_id=current_token().client_id,
        idempotency_key=key,
    )
    return _license_response(issued.license, 201, replayed=not issued.created)


@api.post("/licenses/batch")
@api.post("/licenses:batch")
@require_oauth(ISSUE_SCOPE)
def create_batch() -> Response:
    dept = _department()
    body = _body()
    items = body.get("items") if isinstance(body, dict) else None
    results = issuance.issue_batch(db.session(), dept, items, client_id=current_token().client_id)
    out: list[dict[str, Any]] = []
    base = issuance.api_base()
    for r in results:
        if r.issued is not None:
            out.append(
                {
                    "index": r.index,
                    "status": 201 if r.issued.created else 200,
                    "license": issuance.license_json(r.issued.license, base),
                }
            )
        else:
            assert r.error is not None
            out.append(
                {
                    "index": r.index,
                    "status": r.error.status,
                    "problem": to_problem(r.error).to_dict(),
                }
            )
    ok = sum(1 for r in results if r.issued is not None)
    return jsonify({"issued": ok, "failed": len(results) - ok, "results": out})


@api.get("/licenses/<identifier>")
@require_oauth(ISSUE_SCOPE)
def get_license(identifier: str) -> Response:
    lic = status.owned(db.session(), _department(), identifier, for_update=False)
    return jsonify(issuance.license_json(lic))


@api.get("/licenses/<identifier>/status")
def license_status(identifier: str) -> Response:
    """Online status: public, and without personal data."""
    lic = status.get(db.session(), identifier)
    response = jsonify(status.status_json(lic))
    response.headers["Cache-Control"] = "no-store"
    return response


def _status_change(identifier: str, action: str) -> Response:
    session = db.session()
    dept = _department()
    actor = current_token().client_id
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        body = {}
    if action == "supersede":
        new = status.supersede(session, dept, identifier, _body(), actor=actor)
        session.commit()
        return _license_response(new, 201)
    if action == "suspend":
        lic = status.suspend(session, dept, identifier, body.get("reason"), actor=actor)
    elif action == "reinstate":
        lic = status.reinstate(session, dept, identifier, actor=actor)
    else:
        lic = status.revoke(session, dept, identifier, body.get("reason"), actor=actor)
    session.commit()
    return jsonify(status.status_json(lic))


@api.post("/licenses/<identifier>/suspend")
@require_oauth(ISSUE_SCOPE)
def suspend_license(identifier: str) -> Response:
    return _status_change(identifier, "suspend")


@api.post("/licenses/<identifier>/reinstate")
@require_oauth(ISSUE_SCOPE)
def reinstate_license(identifier: str) -> Response:
    return _status_change(identifier, "reinstate")


@api.post("/licenses/<identifier>/revoke")
@require_oauth(ISSUE_SCOPE)
def revoke_license(identifier: str) -> Response:
    return _status_change(identifier, "revoke")


@api.post("/licenses/<identifier>/supersede")
@require_oauth(ISSUE_SCOPE)
def supersede_license(identifier: str) -> Response:
    return _status_change(identifier, "supersede")


# ---------------------------------------------------------------- catalogue


@api.get("/catalogue/types")
def list_types() -> Response:
    return jsonify({"types": [catalogue.type_json(t) for t in catalogue.list_types(db.session())]})


@api.get("/catalogue/types/<code>")
def show_type(code: str) -> Response:
    session = db.session()
    latest = catalogue.current_type(session, code)
    body = catalogue.type_json(latest)
    body["versions"] = [
        {"version": v.version, "created_at": v.created_at.isoformat()}
        for v in catalogue.type_versions(session, code)
    ]
    return jsonify(body)


@api.post("/catalogue/types")
@require_oauth(CATALOGUE_SCOPE)
def add_type() -> Response:
    session = db.session()
    body = _body()
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    dept_code = body.get("department")
    if not isinstance(dept_code, str):
        raise InvalidRequest("department (a credit code) is required", pointer="/department")
    entry = catalogue.add_type(
        session,
        code=body.get("code"),  # type: ignore[arg-type]
        name_zh=body.get("name_zh"),  # type: ignore[arg-type]
        name_en=body.get("name_en"),  # type: ignore[arg-type]
        department=departments.get(session, dept_code),
        holder_kind=body.get("holder_kind"),  # type: ignore[arg-type]
        schema=body.get("schema"),
        validity_days=body.get("validity_days"),
    )
    _audit_catalogue(session, "catalogue.type_added", entry)
    session.commit()
    response = jsonify(catalogue.type_json(entry))
    response.status_code = 201
    response.headers["Location"] = url_for("certs_api.show_type", code=entry.code)
    return response


@api.put("/catalogue/types/<code>/schema")
@require_oauth(CATALOGUE_SCOPE)
def update_schema(code: str) -> Response:
    session = db.session()
    body = _body()
    if not isinstance(body, dict) or "schema" not in body:
        raise InvalidRequest("schema is required", pointer="/schema")
    kwargs: dict[str, Any] = {}
    if "validity_days" in body:
        kwargs["validity_days"] = body["validity_days"]
    entry = catalogue.update_schema(session, code, body["schema"], **kwargs)
    _audit_catalogue(session, "catalogue.schema_updated", entry)
    session.commit()
    response = jsonify(catalogue.type_json(entry))
    response.status_code = 201
    return response


def _audit_catalogue(session: Any, event: str, entry: Any) -> None:
    from authority import audit

    audit.record(
        session,
        event,
        actor=current_token().client_id,
        subject=entry.code,
        details={"version": entry.version},
    )


@api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())


# ---------------------------------------------------------------- trust bundle


def _bundle_headers(response: Response, etag: str) -> Response:
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={BUNDLE_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@wellknown.get("/.well-known/trust-bundle")
def trust_bundle() -> Response:
    record = bundle.current(db.session())
    tag = bundle.etag(record)
    if request.if_none_match.contains(tag):
        return _bundle_headers(Response(status=304), tag)
    response = Response(record.data, mimetype=BUNDLE_MEDIA_TYPE)
    response.headers["Content-Disposition"] = 'attachment; filename="trust-bundle.cbor"'
    return _bundle_headers(response, tag)


@wellknown.get("/.well-known/trust-bundle.json")
def trust_bundle_json() -> Response:
    record = bundle.current(db.session())
    tag = bundle.etag(record) + "-json"
    if request.if_none_match.contains(tag):
        return _bundle_headers(Response(status=304), tag)
    body = dict(record.summary)
    body["etag"] = bundle.etag(record)
    body["sha256"] = record.sha256
    body["media_type"] = BUNDLE_MEDIA_TYPE
    return _bundle_headers(jsonify(body), tag)
