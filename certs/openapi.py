"""The OpenAPI 3.1 document of the license API (https://spec.openapis.org/oas/v3.1.0).

Written by hand as data, so that it says exactly what the views do; a test checks it
against the views' routes and validates every schema in it as JSON Schema 2020-12
(OpenAPI 3.1's schema dialect).
"""

from __future__ import annotations

from typing import Any

from certs.status import REASONS

_PROBLEM = {"$ref": "#/components/responses/Problem"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_ID_PARAM = {
    "name": "identifier",
    "in": "path",
    "required": True,
    "description": "License identifier (docs/licenses.md, 'Identifiers')",
    "schema": {
        "type": "string",
        "pattern": "^[A-Z][A-Z0-9]{5,11}-[0-9A-Z]{18}-[0-9]{10}-[0-9]{2}-[0-9A-Z]$",
    },
}
_ISSUE_SECURITY = [{"clientCredentials": ["licenses:issue"]}]
_ADMIN_SECURITY = [{"clientCredentials": ["catalogue:admin"]}]
_ERRORS = {"400": _PROBLEM, "401": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM, "422": _PROBLEM}


def _status_op(op_id: str, summary: str, body: dict[str, Any] | None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "tags": ["status"],
        "security": _ISSUE_SECURITY,
        "parameters": [_ID_PARAM],
        "responses": {"200": _json(_ref("Status"), "The new status"), "409": _PROBLEM, **_ERRORS},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def document() -> dict[str, Any]:
    """The OpenAPI document served at /api/v1/openapi.json."""
    reason = {
        "type": "object",
        "required": ["reason"],
        "properties": {"reason": {"enum": list(REASONS)}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Authority e-license API",
            "version": "1.0.0",
            "description": (
                "Issue, read and change the status of SM2-signed e-licenses; read the "
                "catalogue. Errors are RFC 9457 problem details. See docs/licenses.md."
            ),
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/licenses": {
                "post": {
                    "operationId": "issueLicense",
                    "summary": "Issue a license of one of the caller's department's types",
                    "tags": ["licenses"],
                    "security": _ISSUE_SECURITY,
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "A retry with the same key and body: the same license",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("IssueRequest")}},
                    },
                    "responses": {
                        "201": _json(_ref("License"), "The license (also for a replayed request)"),
                        **_ERRORS,
                    },
                }
            },
            "/licenses/batch": {
                "post": {
                    "operationId": "issueLicenses",
                    "summary": "Issue many licenses; each item succeeds or fails on its own",
                    "description": "Also served at /licenses:batch.",
                    "tags": ["licenses"],
                    "security": _ISSUE_SECURITY,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("BatchRequest")}},
                    },
                    "responses": {"200": _json(_ref("BatchResult"), "Per-item results"), **_ERRORS},
                }
            },
            "/licenses/{identifier}": {
                "get": {
                    "operationId": "getLicense",
                    "summary": "Read a license issued by the caller's department",
                    "tags": ["licenses"],
                    "security": _ISSUE_SECURITY,
                    "parameters": [_ID_PARAM],
                    "responses": {"200": _json(_ref("License"), "The license"), **_ERRORS},
                }
            },
            "/licenses/{identifier}/status": {
                "get": {
                    "operationId": "getLicenseStatus",
                    "summary": "Online status of a license (public, no personal data)",
                    "tags": ["status"],
                    "security": [],
                    "parameters": [_ID_PARAM],
                    "responses": {"200": _json(_ref("Status"), "The status"), "404": _PROBLEM},
                }
            },
            "/licenses/{identifier}/suspend": {
                "post": _status_op("suspendLicense", "Suspend a valid license", reason)
            },
            "/licenses/{identifier}/reinstate": {
                "post": _status_op("reinstateLicense", "Reinstate a suspended license", None)
            },
            "/licenses/{identifier}/revoke": {
                "post": _status_op("revokeLicense", "Revoke a license (final)", reason)
            },
            "/licenses/{identifier}/supersede": {
                "post": {
                    **_status_op(
                        "supersedeLicense",
                        "Issue version n+1 with new fields and revoke version n",
                        _ref("SupersedeRequest"),
                    ),
                    "responses": {
                        "201": _json(_ref("License"), "The new version"),
                        "409": _PROBLEM,
                        **_ERRORS,
                    },
                }
            },
            "/catalogue/types": {
                "get": {
                    "operationId": "listTypes",
                    "summary": "The catalogue: latest version of every license type",
                    "tags": ["catalogue"],
                    "security": [],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "types": {"type": "array", "items": _ref("LicenseType")}
                                },
                            },
                            "The catalogue",
                        )
                    },
                },
                "post": {
                    "operationId": "addType",
                    "summary": "Add a license type (operator)",
                    "tags": ["catalogue"],
                    "security": _ADMIN_SECURITY,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("NewLicenseType")}},
                    },
                    "responses": {
                        "201": _json(_ref("LicenseType"), "Version 1"),
                        "409": _PROBLEM,
                        **_ERRORS,
                    },
                },
            },
            "/catalogue/types/{code}": {
                "get": {
                    "operationId": "showType",
                    "summary": "One license type, latest version, with its version list",
                    "tags": ["catalogue"],
                    "security": [],
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": _json(_ref("LicenseType"), "The type"), "404": _PROBLEM},
                }
            },
            "/catalogue/types/{code}/schema": {
                "put": {
                    "operationId": "updateSchema",
                    "summary": "Change a type's field schema: creates version n+1 (operator)",
                    "tags": ["catalogue"],
                    "security": _ADMIN_SECURITY,
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["schema"],
                                    "properties": {
                                        "schema": {"type": "object"},
                                        "validity_days": {
                                            "type": ["integer", "null"],
                                            "minimum": 1,
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {"201": _json(_ref("LicenseType"), "The new version"), **_ERRORS},
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "clientCredentials": {
                    "type": "oauth2",
                    "description": "Department systems: client bound to a department",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "/oauth/token",
                            "scopes": {
                                "licenses:issue": "Issue and change the department's licenses",
                                "catalogue:admin": "Manage the catalogue",
                            },
                        }
                    },
                }
            },
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem details",
                    "content": {"application/problem+json": {"schema": _ref("Problem")}},
                }
            },
            "schemas": _schemas(),
        },
    }


def _schemas() -> dict[str, Any]:
    ts = {"type": "string", "format": "date-time"}
    ts_or_null = {"type": ["string", "null"], "format": "date-time"}
    return {
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string", "format": "uri-reference"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "pointer": {"type": "string", "description": "JSON pointer of the failing member"},
                "reason": {"type": "string", "description": "Why a holder number is invalid"},
            },
        },
        "IssueRequest": {
            "type": "object",
            "required": ["type", "holder", "fields"],
            "properties": {
                "type": {"type": "string", "description": "Catalogue code"},
                "holder": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {
                        "id": {"type": "string", "description": "Citizen ID number or credit code"},
                        "name": {"type": "string", "minLength": 1, "maxLength": 128},
                    },
                },
                "fields": {"type": "object", "description": "Validated against the type's schema"},
            },
        },
        "BatchRequest": {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1000,
                    "items": {
                        "allOf": [
                            {"$ref": "#/components/schemas/IssueRequest"},
                            {
                                "properties": {
                                    "idempotency_key": {"type": "string", "maxLength": 255}
                                }
                            },
                        ]
                    },
                }
            },
        },
        "BatchResult": {
            "type": "object",
            "properties": {
                "issued": {"type": "integer"},
                "failed": {"type": "integer"},
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index", "status"],
                        "properties": {
                            "index": {"type": "integer"},
                            "status": {"type": "integer"},
                            "license": {"$ref": "#/components/schemas/License"},
                            "problem": {"$ref": "#/components/schemas/Problem"},
                        },
                    },
                },
            },
        },
        "SupersedeRequest": {
            "type": "object",
            "properties": {
                "fields": {"type": "object"},
                "holder_name": {"type": "string", "minLength": 1, "maxLength": 128},
            },
        },
        "License": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "type": {"type": "string"},
                "type_version": {"type": "integer"},
                "issuer": {"type": "string"},
                "holder": {
                    "type": "object",
                    "properties": {
                        "kind": {"enum": ["person", "organisation"]},
                        "id_masked": {"type": "string"},
                        "name": {"type": "string"},
                    },
                },
                "fields": {"type": "object"},
                "issued_at": ts,
                "not_before": ts,
                "expires_at": ts_or_null,
                "status": {"enum": ["valid", "suspended", "revoked"]},
                "status_reason": {"type": ["string", "null"]},
                "superseded_by": {"type": ["string", "null"]},
                "kid": {"type": "string"},
                "status_index": {"type": "integer"},
                "qr_text": {
                    "type": "string",
                    "description": "The signed QR text (docs/license-format.md)",
                },
                "links": {
                    "type": "object",
                    "properties": {
                        "self": {"type": "string"},
                        "status": {"type": "string"},
                        "qr_png": {"type": "string"},
                        "qr_svg": {"type": "string"},
                    },
                },
            },
        },
        "Status": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "type": {"type": "string"},
                "status": {"enum": ["valid", "suspended", "revoked"]},
                "reason": {"type": ["string", "null"]},
                "changed_at": ts_or_null,
                "not_before": ts,
                "expires_at": ts_or_null,
                "expired": {"type": "boolean"},
                "superseded_by": {"type": ["string", "null"]},
                "checked_at": ts,
            },
        },
        "NewLicenseType": {
            "type": "object",
            "required": ["code", "name_zh", "name_en", "department", "holder_kind", "schema"],
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9]{5,11}$"},
                "name_zh": {"type": "string"},
                "name_en": {"type": "string"},
                "department": {"type": "string", "description": "Owning department's credit code"},
                "holder_kind": {"enum": ["person", "organisation"]},
                "schema": {"type": "object", "description": "JSON Schema 2020-12 of the fields"},
                "validity_days": {"type": ["integer", "null"], "minimum": 1},
            },
        },
        "LicenseType": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "version": {"type": "integer"},
                "name_zh": {"type": "string"},
                "name_en": {"type": "string"},
                "department": {"type": "string"},
                "holder_kind": {"enum": ["person", "organisation"]},
                "schema": {"type": "object"},
                "validity_days": {"type": ["integer", "null"]},
                "created_at": ts,
                "versions": {"type": "array", "items": {"type": "object"}},
            },
        },
    }
