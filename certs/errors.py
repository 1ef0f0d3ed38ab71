"""Refusals of the license service, each a class carrying its wire form.

RFC 9457 (Problem Details for HTTP APIs): every class names its HTTP ``status``, a
``slug`` that becomes the problem ``type`` URI (``/problems/<slug>``) and a fixed
English ``title``. ``detail`` is public text written for the caller (never an internal
exception message); ``extra`` holds machine-readable members such as ``pointer``.
The service layer raises these without knowing about Flask; ``certs.api`` turns them
into ``authority.problems.Problem`` responses.
"""

from __future__ import annotations

from typing import Any


class CertsError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidRequest(CertsError):
    status = 400
    slug = "invalid-request"
    title = "The request body is not valid"


class UnknownDepartment(CertsError):
    status = 404
    slug = "unknown-department"
    title = "No such department"


class InvalidDepartment(CertsError):
    status = 422
    slug = "invalid-department"
    title = "The department's data is not valid"


class DepartmentExists(CertsError):
    status = 409
    slug = "department-exists"
    title = "A department with this credit code exists"


class UnknownType(CertsError):
    status = 404
    slug = "unknown-license-type"
    title = "No such license type"


class InvalidType(CertsError):
    status = 422
    slug = "invalid-license-type"
    title = "The license type definition is not valid"


class TypeExists(CertsError):
    status = 409
    slug = "license-type-exists"
    title = "A license type with this code exists"


class TypeNotOwned(CertsError):
    status = 403
    slug = "type-not-owned"
    title = "The license type belongs to another department"


class NotDepartmentClient(CertsError):
    status = 403
    slug = "not-a-department-client"
    title = "The client is not bound to a department"


class SchemaViolation(CertsError):
    status = 422
    slug = "schema-violation"
    title = "A field does not match the license type's schema"


class InvalidHolder(CertsError):
    status = 422
    slug = "invalid-holder"
    title = "The holder's number is not valid"


class IdempotencyMismatch(CertsError):
    status = 422
    slug = "idempotency-key-reused"
    title = "The Idempotency-Key was used with a different request"


class UnknownLicense(CertsError):
    status = 404
    slug = "unknown-license"
    title = "No such license"


class LicenseNotOwned(CertsError):
    status = 403
    slug = "license-not-owned"
    title = "The license was issued by another department"


class InvalidTransition(CertsError):
    status = 409
    slug = "invalid-status-change"
    title = "The license's status does not allow this change"


class NoSigningKey(CertsError):
    status = 409
    slug = "no-signing-key"
    title = "The department has no usable signing key"


class NotInitialised(CertsError):
    status = 503
    slug = "not-initialised"
    title = "The authority has no root key yet"
