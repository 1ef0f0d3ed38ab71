"""The license catalogue (同一事项、同一标准、同一编码): one code, one name, one owning
department, one field schema and one validity policy per license type.

Field schemas are JSON Schema Draft 2020-12 (https://json-schema.org/draft/2020-12),
checked against the meta-schema with ``jsonschema`` here; issued fields are validated
against them by :mod:`certs.field_validation`. Changing a schema adds a new version of
the type; licenses keep the version they were issued under, so issued data is never
rewritten.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy.orm import Session

from certs.errors import InvalidType, TypeExists, UnknownType
from certs.holders import HOLDER_KINDS
from certs.identifiers import valid_type_code
from certs.models import Department, LicenseType

#: Longest validity a type may declare (100 years).
MAX_VALIDITY_DAYS = 36_500

#: The schema annotation naming a field in English; ``title`` names it in Chinese.
#: JSON Schema has no per-language titles, and 2020-12 treats unknown keywords as
#: annotations, so a type can carry both without affecting validation.
TITLE_EN = "x-title-en"


def check_schema(schema: Any) -> dict[str, Any]:
    """Check that ``schema`` is a Draft 2020-12 schema describing a JSON object."""
    if not isinstance(schema, dict):
        raise InvalidType("the field schema must be a JSON object", pointer="/schema")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        pointer = "/schema" + "".join(f"/{p}" for p in exc.absolute_path)
        raise InvalidType(
            f"the field schema is not a valid JSON Schema (Draft 2020-12): {exc.message}",
            pointer=pointer,
        ) from None
    if schema.get("type") != "object":
        raise InvalidType('the field schema must have "type": "object"', pointer="/schema/type")
    return schema


def field_label(schema: Any, name: str, locale: str) -> str:
    """What pages call field ``name``: its ``title`` on Chinese pages, its ``x-title-en``
    on English ones, otherwise the field's own name (docs/licenses.md, "Catalogue")."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    spec = properties.get(name) if isinstance(properties, dict) else None
    label = spec.get("title" if locale == "zh-CN" else TITLE_EN) if isinstance(spec, dict) else None
    return label if isinstance(label, str) and label.strip() else name


def check_validity(validity_days: Any) -> int | None:
    if validity_days is None:
        return None
    if (
        not isinstance(validity_days, int)
        or isinstance(validity_days, bool)
        or not 1 <= validity_days <= MAX_VALIDITY_DAYS
    ):
        raise InvalidType(
            f"validity_days must be null (no expiry) or 1..{MAX_VALIDITY_DAYS}",
            pointer="/validity_days",
        )
    return validity_days


def current_type(session: Session, code: str) -> LicenseType:
    """The latest version of the type ``code``; raises :class:`UnknownType`."""
    found = session.scalars(
        sa.select(LicenseType)
        .where(LicenseType.code == code)
        .order_by(LicenseType.version.desc())
        .limit(1)
    ).first()
    if found is None:
        raise UnknownType(f"there is no license type with code {code!r}", type_code=code)
    return found


def list_types(session: Session) -> list[LicenseType]:
    """The latest version of every type, by code."""
    latest = (
        sa.select(LicenseType.code, sa.func.max(LicenseType.version).label("v"))
        .group_by(LicenseType.code)
        .subquery()
    )
    return list(
        session.scalars(
            sa.select(LicenseType)
            .join(
                latest,
                sa.and_(LicenseType.code == latest.c.code, LicenseType.version == latest.c.v),
            )
            .order_by(LicenseType.code)
        )
    )


def type_versions(session: Session, code: str) -> list[LicenseType]:
    return list(
        session.scalars(
            sa.select(LicenseType).where(LicenseType.code == code).order_by(LicenseType.version)
        )
    )


def department_type_codes(session: Session, department_id: int) -> list[str]:
    return sorted(
        set(
            session.scalars(
                sa.select(LicenseType.code).where(LicenseType.department_id == department_id)
            )
        )
    )


def add_type(
    session: Session,
    *,
    code: str,
    name_zh: str,
    name_en: str,
    department: Department,
    holder_kind: str,
    schema: Any,
    validity_days: Any = None,
) -> LicenseType:
    """Add a new type (version 1) to the catalogue, owned by ``department``.

    The department's signing key is certified (again) with the new code, so that it
    may sign licenses of this type (see :func:`certs.departments.recertify`).
    """
    from certs import departments

    if not isinstance(code, str) or not valid_type_code(code):
        raise InvalidType(
            "code must be 6-12 characters A-Z or 0-9, starting with a letter", pointer="/code"
        )
    for name, pointer in ((name_zh, "/name_zh"), (name_en, "/name_en")):
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidType("names must be 1-200 characters", pointer=pointer)
    if holder_kind not in HOLDER_KINDS:
        raise InvalidType(
            f"holder_kind must be one of {', '.join(HOLDER_KINDS)}", pointer="/holder_kind"
        )
    schema = check_schema(schema)
    validity = check_validity(validity_days)
    if session.scalar(sa.select(LicenseType.id).where(LicenseType.code == code).limit(1)):
        raise TypeExists(f"the code {code!r} is already in the catalogue", type_code=code)
    entry = LicenseType(
        code=code,
        version=1,
        name_zh=name_zh.strip(),
        name_en=name_en.strip(),
        department_id=department.id,
        holder_kind=holder_kind,
        fields_schema=schema,
        validity_days=validity,
    )
    session.add(entry)
    session.flush()
    departments.recertify(session, department)
    return entry


def update_schema(
    session: Session, code: str, schema: Any, *, validity_days: Any = ...
) -> LicenseType:
    """Add version n+1 of ``code`` with a new schema (and optionally validity)."""
    latest = current_type(session, code)
    schema = check_schema(schema)
    validity = latest.validity_days if validity_days is ... else check_validity(validity_days)
    entry = LicenseType(
        code=latest.code,
        version=latest.version + 1,
        name_zh=latest.name_zh,
        name_en=latest.name_en,
        department_id=latest.department_id,
        holder_kind=latest.holder_kind,
        fields_schema=schema,
        validity_days=validity,
    )
    session.add(entry)
    session.flush()
    return entry


def type_json(entry: LicenseType) -> dict[str, Any]:
    """The public description of a type version."""
    return {
        "code": entry.code,
        "version": entry.version,
        "name_zh": entry.name_zh,
        "name_en": entry.name_en,
        "department": entry.department.credit_code,
        "holder_kind": entry.holder_kind,
        "schema": entry.fields_schema,
        "validity_days": entry.validity_days,
        "created_at": entry.created_at.isoformat() if entry.created_at else None,
    }
