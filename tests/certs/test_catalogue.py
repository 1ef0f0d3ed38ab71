"""The catalogue: codes, names, schemas (Draft 2020-12), validity, versions; CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from certs.catalogue import check_schema
from certs.errors import InvalidType, SchemaViolation, TypeExists, UnknownType
from certs.field_validation import validate_fields
from certs.models import LicenseType
from tests.certs.conftest import DEPT_CODE, PERSON_SCHEMA, count


def entry(schema: dict[str, Any]) -> LicenseType:
    return LicenseType(code="QUALCERT", version=1, fields_schema=schema)


def test_schema_must_be_a_valid_2020_12_object_schema() -> None:
    assert check_schema(PERSON_SCHEMA) is PERSON_SCHEMA
    with pytest.raises(InvalidType) as info:
        check_schema({"type": "object", "properties": {"a": {"type": "no-such-type"}}})
    assert info.value.extra["pointer"].startswith("/schema/properties/a")
    with pytest.raises(InvalidType):
        check_schema({"type": "array"})
    with pytest.raises(InvalidType):
        check_schema([])


def test_field_validation_names_the_failing_field() -> None:
    e = entry(PERSON_SCHEMA)
    assert validate_fields(e, {"qualification": "电工", "level": 2})
    with pytest.raises(SchemaViolation) as info:
        validate_fields(e, {"qualification": "电工", "level": 9})
    assert info.value.extra["pointer"] == "/fields/level"
    with pytest.raises(SchemaViolation) as info:
        validate_fields(e, {"level": 1})
    assert info.value.extra["pointer"] == "/fields/qualification"
    assert info.value.extra["schema_keyword"] == "required"
    with pytest.raises(SchemaViolation) as info:
        validate_fields(e, "not an object")
    assert info.value.extra["pointer"] == "/fields"


def test_add_list_and_version(app: Any, make_department: Any, make_type: Any) -> None:
    from authority import db
    from certs import catalogue, departments

    make_department()
    make_type("QUALCERT")
    with app.app_context(), db.session_scope(app) as session:
        dept = departments.get(session, DEPT_CODE)
        # The department's key was certified again for the new code.
        assert "QUALCERT" in departments.current_certificate(session, dept).license_types
        with pytest.raises(TypeExists):
            catalogue.add_type(
                session,
                code="QUALCERT",
                name_zh="x",
                name_en="x",
                department=dept,
                holder_kind="person",
                schema=PERSON_SCHEMA,
            )
        for bad_code in ("Q1", "qualcert", "QUAL-CERT"):
            with pytest.raises(InvalidType) as info:
                catalogue.add_type(
                    session,
                    code=bad_code,
                    name_zh="x",
                    name_en="x",
                    department=dept,
                    holder_kind="person",
                    schema=PERSON_SCHEMA,
                )
            assert info.value.extra["pointer"] == "/code"
        with pytest.raises(InvalidType) as info:
            catalogue.add_type(
                session,
                code="QUALCERT2",
                name_zh="x",
                name_en="x",
                department=dept,
                holder_kind="person",
                schema=PERSON_SCHEMA,
                validity_days=0,
            )
        assert info.value.extra["pointer"] == "/validity_days"
        newer = dict(PERSON_SCHEMA, required=["qualification"])
        v2 = catalogue.update_schema(session, "QUALCERT", newer)
        assert v2.version == 2 and v2.validity_days == 365
        assert catalogue.current_type(session, "QUALCERT").version == 2
        assert [t.version for t in catalogue.type_versions(session, "QUALCERT")] == [1, 2]
        assert [t.code for t in catalogue.list_types(session)] == ["QUALCERT"]
        with pytest.raises(UnknownType):
            catalogue.current_type(session, "NOSUCH01")
    assert count(app, LicenseType) == 2


def test_cli(app: Any, runner: Any, make_department: Any, tmp_path: Any) -> None:
    make_department()
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(PERSON_SCHEMA))
    result = runner.invoke(
        args=[
            "catalogue", "add", "--code", "QUALCERT", "--name-zh", "职业资格证书",
            "--name-en", "Qualification certificate", "--department", DEPT_CODE,
            "--holder-kind", "person", "--schema", str(schema), "--validity-days", "none",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "added QUALCERT version 1" in result.output
    result = runner.invoke(args=["catalogue", "list"])
    assert "QUALCERT\tv1" in result.output and "no expiry" in result.output
    schema.write_text(json.dumps({"type": "object", "properties": {"x": {"type": "string"}}}))
    result = runner.invoke(args=["catalogue", "update-schema", "QUALCERT", str(schema)])
    assert result.exit_code == 0 and "version 2" in result.output
    result = runner.invoke(args=["catalogue", "show", "QUALCERT", "--version", "1"])
    shown = json.loads(result.output)
    assert shown["version"] == 1 and shown["versions"] == [1, 2]
    assert shown["schema"] == PERSON_SCHEMA
    schema.write_text('{"type": "object", "properties": {"x": {"type": 5}}}')
    result = runner.invoke(args=["catalogue", "update-schema", "QUALCERT", str(schema)])
    assert result.exit_code != 0 and "Draft 2020-12" in result.output
    assert count(app, LicenseType) == 2
