"""Field validation: jsonschema-rs gives the verdict, Python ``jsonschema`` the refusal.

The differential tests check, on generated fields, that ``validate_fields`` accepts
exactly what ``Draft202012Validator(schema).is_valid`` accepts, and refuses with the
message, pointer and keyword of the Python-only implementation it replaced.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from bench.harness import QUALIFICATION_SCHEMA as BENCH_QUALIFICATION_SCHEMA
from certs import field_validation
from certs.catalogue import check_schema
from certs.demo import BUSINESS_SCHEMA, QUALIFICATION_SCHEMA
from certs.errors import SchemaViolation
from certs.field_validation import validate_fields
from certs.models import LicenseType


def entry(schema: dict[str, Any], version: int = 1) -> LicenseType:
    return LicenseType(code="QUALCERT", version=version, fields_schema=schema)


def reference(schema: dict[str, Any], fields: dict[str, Any]) -> tuple[str, str, Any] | None:
    """``validate_fields`` as it was with ``jsonschema`` alone: None, or the refusal's
    (message, pointer, schema keyword). It validated against the schema's sorted-key
    text, which sets the order of errors at the same path."""
    validator = Draft202012Validator(json.loads(json.dumps(schema, sort_keys=True)))
    if validator.is_valid(fields):
        return None
    error = next(iter(sorted(validator.iter_errors(fields), key=lambda e: list(e.path))))
    path = "".join(f"/{p}" for p in error.absolute_path)
    if error.validator == "required" and isinstance(error.validator_value, list):
        missing = [n for n in error.validator_value if n not in (error.instance or {})]
        if missing:
            path += f"/{missing[0]}"
    pointer = "/fields" + path
    return f"{pointer}: {error.message}", pointer, error.validator


def outcome(schema: dict[str, Any], fields: dict[str, Any]) -> tuple[str, str, Any] | None:
    try:
        validate_fields(entry(schema), fields)
    except SchemaViolation as exc:
        return exc.detail, exc.extra["pointer"], exc.extra["schema_keyword"]
    return None


# -- schemas --------------------------------------------------------------------------

OBJ = {"type": "object"}

ENUM_PATTERN = {
    **OBJ,
    "required": ["code"],
    "properties": {
        "grade": {"enum": ["初级", "中级", "高级", 1, None]},
        "code": {"type": "string", "pattern": r"^[A-Z]{2}\d{6}$"},
        "name": {"type": "string", "pattern": r"^\w+$"},
        "postcode": {"pattern": r"^\d{6}$"},
        "no_space": {"type": "string", "pattern": r"^\S*$"},
    },
}
NUMBERS = {
    **OBJ,
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
        "count": {"type": "integer", "minimum": -5, "exclusiveMaximum": 10},
        "price": {"type": "number", "multipleOf": 0.01},
        "step": {"type": "integer", "multipleOf": 3},
        "flag": {"type": "boolean"},
        "big": {"type": "integer", "minimum": -(2**64), "maximum": 9007199254740993},
        "ratio": {"type": "number", "minimum": 0.1, "maximum": 1e20},
    },
}
CJK_STRINGS = {
    **OBJ,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 4},
        "memo": {"type": ["string", "null"], "maxLength": 3},
        "short": {"type": "string", "maxLength": 1},
        "two": {"type": "string", "maxLength": 2.0},
    },
}
ARRAYS = {
    **OBJ,
    "properties": {
        "tags": {
            "type": "array",
            "items": {"type": "string", "maxLength": 5},
            "minItems": 1,
            "maxItems": 3,
            "uniqueItems": True,
        },
        "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
        "ones": {"type": "array", "contains": {"const": 1}, "maxContains": 1},
    },
}
NESTED = {
    **OBJ,
    "properties": {
        "address": {
            "type": "object",
            "required": ["city"],
            "additionalProperties": False,
            "properties": {
                "city": {"type": "string", "minLength": 1},
                "zip": {"type": "string", "pattern": "^[0-9]{6}$"},
                "geo": {"type": "object", "properties": {"lat": {"type": "number"}}},
            },
        }
    },
}
COMBINATORS = {
    **OBJ,
    "dependentRequired": {"a": ["b"]},
    "properties": {
        "id": {
            "anyOf": [
                {"type": "string", "pattern": r"^\d{17}[\dX]$"},
                {"type": "integer", "minimum": 0},
            ]
        },
        "kind": {"oneOf": [{"type": "integer", "multipleOf": 2}, {"multipleOf": 3}]},
        "not_digits": {"not": {"pattern": r"^\d+$"}},
        "cond": {
            "if": {"type": "string", "pattern": "^A"},
            "then": {"minLength": 3},
            "else": {"maxLength": 2},
        },
        "all": {"allOf": [{"type": "string"}, {"pattern": "b$"}, {"maxLength": 4}]},
    },
}
DEFS_REF = {
    **OBJ,
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "level": {"type": "integer", "minimum": 1, "maximum": 5},
        "text": {"type": "string", "maxLength": 10},
        "name": {"$ref": "#/$defs/text", "minLength": 1},
    },
    "properties": {
        "level": {"$ref": "#/$defs/level"},
        "name": {"$ref": "#/$defs/name"},
        "levels": {"type": "array", "items": {"$ref": "#/$defs/level"}, "maxItems": 2},
    },
    "unevaluatedProperties": False,
}
FORMATS = {
    **OBJ,
    "properties": {
        "date": {"type": "string", "format": "date"},
        "email": {"format": "email"},
        "uri": {"format": "uri"},
        "ip": {"format": "ipv4"},
    },
}
CONSTS = {
    **OBJ,
    "properties": {
        "yes": {"const": True},
        "one": {"const": 1},
        "zero": {"enum": [0, False]},
        "list": {"const": [1, "a"]},
        "obj": {"const": {"a": 1}},
        "names": {"propertyNames": {"pattern": r"^\w+$"}},
    },
}
# Left to Python alone (``field_validation._python_only_reason``).
PATTERN_PROPERTIES = {
    **OBJ,
    "patternProperties": {r"^x_\w+$": {"type": "integer"}},
    "additionalProperties": {"type": "string"},
}
DEPENDENCIES = {**OBJ, "properties": {"a": {}, "b": {}}, "dependencies": {"a": ["b"]}}
DRAFT_7 = {**OBJ, "$schema": "http://json-schema.org/draft-07/schema#", "maxProperties": 2}

SCHEMAS = {
    "demo-business": BUSINESS_SCHEMA,
    "demo-qualification": QUALIFICATION_SCHEMA,
    "bench-qualification": BENCH_QUALIFICATION_SCHEMA,
    "enum-pattern": ENUM_PATTERN,
    "numbers": NUMBERS,
    "cjk-strings": CJK_STRINGS,
    "arrays": ARRAYS,
    "nested": NESTED,
    "combinators": COMBINATORS,
    "defs-ref": DEFS_REF,
    "formats": FORMATS,
    "consts": CONSTS,
    "pattern-properties": PATTERN_PROPERTIES,
    "dependencies": DEPENDENCIES,
    "draft-7": DRAFT_7,
}
PYTHON_ONLY = {"pattern-properties", "dependencies", "draft-7"}

#: Valid fields per schema: the generated ones start from these.
EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "demo-business": [
        {
            "legal_representative": "张三",
            "registered_capital": 5_000_000,
            "established": "2020-06-18",
            "business_scope": "软件开发；信息技术咨询服务",
            "address": "北京市朝阳区示例路1号",
        }
    ],
    "demo-qualification": [{"qualification": "电工", "level": 3, "issuing_body": "鉴定中心"}],
    "bench-qualification": [{"qualification": "电工", "level": 1}],
    "enum-pattern": [
        {"code": "AB123456", "grade": "初级", "name": "张三", "postcode": "350000"},
        {"code": "ZZ000000", "grade": None, "no_space": "电工"},
    ],
    "numbers": [
        {"score": 0.5, "count": 9, "price": 0.5, "step": 9, "flag": False, "big": 2**53},
        {"score": 100, "count": -5, "step": -3.0, "big": -(2**64), "ratio": 0.1},
    ],
    "cjk-strings": [{"name": "张三", "memo": None, "short": "电"}, {"name": "欧阳修文"}],
    "arrays": [{"tags": ["电工", "a"], "pair": [1, "x", None], "ones": [1, 2]}],
    "nested": [{"address": {"city": "福州", "zip": "350000", "geo": {"lat": 26.07}}}],
    "combinators": [
        {"id": "11010519900307451X", "kind": 4, "not_digits": "abc", "cond": "Abc"},
        {"id": 7, "kind": 9, "cond": "x", "a": 1, "b": 2, "all": "ab"},
    ],
    "defs-ref": [{"level": 2, "name": "张三", "levels": [1, 5]}],
    "formats": [{"date": "2020-06-18", "email": "a@b.cn"}, {"date": "2020-13-45", "ip": "x"}],
    "consts": [{"yes": True, "one": 1.0, "zero": 0, "list": [1, "a"], "obj": {"a": 1}}],
    "pattern-properties": [{"x_a": 1, "name": "张三"}],
    "dependencies": [{"a": 1, "b": 2}],
    "draft-7": [{"a": 1}],
}


def property_names(schema: Any) -> list[str]:
    names: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                names.update(node["properties"])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return sorted(names)


# -- values ---------------------------------------------------------------------------

ALPHABET = "AZabz09_- .电工张三福州" + "０１２３" + "٣" + "\n\u3000\x1c\ufeff😀"
SPECIAL_STRINGS = [
    "",
    "AB123456",
    "AB123456\n",
    "350000",
    "３５００００",
    "350000\n",
    "11010519900307451X",
    "2020-06-18",
    "2020-13-45",
    "not an email",
    "A",
    "Abc",
    "ab",
    "电工",
    "欧阳修文公",
    "😀😀",
    "\ud800",
]
NUMBERS_OF_NOTE = [
    0, 1, 3, 5, 6, 9, 10, 100, 101, -5, -6, 2**53, 2**53 + 1, 2**63, 2**64,
    9007199254740993, 9007199254740994, -(2**64), -(2**64) - 1,
    0.0, -0.0, 0.1, 0.3, 0.5, 1.0, 1.5, 5.0, 5.5, 9.0, 19.99, 100.0, 100.5, 1e20,
    1e308, 9007199254740992.0, float("nan"), float("inf"),
]  # fmt: skip

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-7, 12),
    st.integers(),
    st.sampled_from(NUMBERS_OF_NOTE),
    st.floats(),
    st.text(ALPHABET, max_size=8),
    st.sampled_from(SPECIAL_STRINGS),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "lat", "city", "zip"]), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def fields_for(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A valid example with some fields replaced, added or removed."""
    keys = [*property_names(SCHEMAS[name]), "extra", "x_a", "x_名", "a", "b"]
    fields = dict(draw(st.sampled_from(EXAMPLES[name])))
    for key in draw(st.lists(st.sampled_from(keys), max_size=3)):
        if draw(st.integers(0, 4)) == 0:
            fields.pop(key, None)
        else:
            fields[key] = draw(VALUES)
    return fields


DIFFERENTIAL = settings(
    max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schemas_are_valid_and_examples_accepted(name: str) -> None:
    schema = SCHEMAS[name]
    check_schema(schema)
    assert (field_validation._field_validator(entry(schema)).fast is None) == (name in PYTHON_ONLY)
    for fields in EXAMPLES[name]:
        assert Draft202012Validator(schema).is_valid(fields)
        assert validate_fields(entry(schema), fields) is fields


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_verdict_and_refusal_match_python_jsonschema(name: str) -> None:
    schema = SCHEMAS[name]

    @DIFFERENTIAL
    @given(fields_for(name))
    def check(fields: dict[str, Any]) -> None:
        assert outcome(schema, fields) == reference(schema, fields)

    check()


@pytest.mark.parametrize(
    ("schema", "fields"),
    [
        # ECMA-262 regular expressions (jsonschema-rs) against Python's re (jsonschema):
        ({"pattern": r"^\d{6}$"}, "３５００００"),  # \d: Unicode digits in Python
        ({"pattern": r"^\d{6}$"}, "350000\n"),  # $: also before a final newline in Python
        ({"pattern": r"^\w+$"}, "张三"),
        ({"not": {"pattern": r"^\d+$"}}, "１２３"),  # Python refuses, ECMA would accept
        ({"pattern": r"^\S+$"}, "a\ufeff"),
        ({"pattern": r"\s"}, "\x1c"),
        ({"pattern": r"^\d+\Z"}, "123\n"),  # \Z: no such escape in ECMA-262
        ({"propertyNames": False, "type": "object"}, {}),
        # Float arithmetic: jsonschema finds 19.99 no multiple of 0.01, jsonschema-rs does.
        ({"multipleOf": 0.01}, 19.99),
        ({"multipleOf": 0.1}, 0.3),
        ({"multipleOf": 1e-300}, 1e300),
        ({"multipleOf": 3}, 1e300),
        # Values JSON text cannot hold: jsonschema-rs reads NaN as neither number nor null.
        ({"not": {"type": "number"}}, float("nan")),
        ({"type": "number"}, float("inf")),
        ({"type": "array"}, (1, 2)),
        ({"type": "object"}, {1: 2}),
        ({"type": "string", "maxLength": 1}, "\ud800"),
        # jsonschema-rs applies Draft 7's "dependencies" in 2020-12, jsonschema does not.
        ({"dependencies": {"a": ["b"]}}, {"a": 1}),
    ],
)
def test_known_disagreements_follow_python(schema: dict[str, Any], fields: Any) -> None:
    full = {"type": "object", "properties": {"f": schema}}
    check_schema(full)
    assert outcome(full, {"f": fields}) == reference(full, {"f": fields})


def test_the_fast_path_decides_without_python(monkeypatch: pytest.MonkeyPatch) -> None:
    e = entry(ENUM_PATTERN)

    class PythonConsulted(Exception):
        pass

    def consulted(*args: Any, **kwargs: Any) -> Any:
        raise PythonConsulted

    monkeypatch.setattr(Draft202012Validator, "is_valid", consulted)
    monkeypatch.setattr(Draft202012Validator, "iter_errors", consulted)
    fields = {"code": "AB123456", "grade": "中级", "name": "张三", "postcode": "３５００００"}
    assert validate_fields(e, fields) is fields
    # A refusal is written by jsonschema.
    with pytest.raises(PythonConsulted):
        validate_fields(e, {"code": "AB12345"})
    # So are fields jsonschema-rs cannot read.
    with pytest.raises(PythonConsulted):
        validate_fields(e, {"code": "AB123456", "grade": float("nan")})


def test_a_schema_jsonschema_rs_cannot_compile_is_validated_by_python() -> None:
    # jsonschema resolves a $ref when it reaches it; jsonschema-rs refuses a dangling
    # one when it compiles the schema.
    schema = {
        "type": "object",
        "properties": {
            "level": {"type": "integer", "maximum": 5},
            "old": {"$ref": "#/$defs/retired"},
        },
    }
    check_schema(schema)
    with pytest.raises(ValueError):
        jsonschema_rs.Draft202012Validator(schema)
    e = entry(schema)
    compiled = field_validation._field_validator(e)
    assert compiled.fast is None and "cannot compile" in (compiled.python_only or "")
    assert validate_fields(e, {"level": 3})
    with pytest.raises(SchemaViolation) as info:
        validate_fields(e, {"level": 9})
    assert info.value.extra["pointer"] == "/fields/level"
    assert info.value.extra["schema_keyword"] == "maximum"


def test_a_disagreement_is_refused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    e = entry(QUALIFICATION_SCHEMA)
    real = field_validation._field_validator(e)
    stricter = dict(QUALIFICATION_SCHEMA, properties={"level": {"maximum": 3}})
    fake = field_validation._FieldValidator(
        real.python, jsonschema_rs.Draft202012Validator(stricter)
    )
    monkeypatch.setattr(field_validation, "_field_validator", lambda entry: fake)
    fields = {"qualification": "电工", "level": 4}
    assert Draft202012Validator(QUALIFICATION_SCHEMA).is_valid(fields)
    with (
        caplog.at_level(logging.WARNING, "authority.certs.field_validation"),
        pytest.raises(SchemaViolation) as info,
    ):
        validate_fields(e, fields)
    assert info.value.extra["pointer"] == "/fields/level"
    assert info.value.extra["schema_keyword"] == "maximum"
    assert info.value.extra["type_code"] == "QUALCERT"
    assert info.value.detail.startswith("/fields/level: 4 is greater than the maximum of 3")
    assert "disagree" in info.value.detail
    assert "disagree" in caplog.text
    # Python's refusal, when it has one, is the one given.
    with pytest.raises(SchemaViolation) as info:
        validate_fields(e, {"qualification": "电工", "level": 9})
    assert info.value.detail == "/fields/level: 9 is greater than the maximum of 5"

    class Silent:
        def is_valid(self, fields: Any) -> bool:
            return False

        def iter_errors(self, fields: Any) -> Any:
            return iter(())

    silent = field_validation._FieldValidator(real.python, Silent())  # type: ignore[arg-type]
    monkeypatch.setattr(field_validation, "_field_validator", lambda entry: silent)
    with pytest.raises(SchemaViolation) as info:
        validate_fields(e, {"qualification": "电工", "level": 2})
    assert info.value.extra["pointer"] == "/fields"


def test_validators_follow_the_schema_never_the_instance_or_version() -> None:
    e = entry(QUALIFICATION_SCHEMA)
    first = field_validation._field_validator(e)
    assert field_validation._field_validator(e) is first
    # Same code and version, another schema (unsaved instances, another database).
    other = entry({"type": "object", "properties": {"level": {"type": "string"}}})
    assert field_validation._field_validator(other) is not first
    assert validate_fields(other, {"level": "三"})
    with pytest.raises(SchemaViolation):
        validate_fields(e, {"qualification": "电工", "level": "三"})
    # A schema set (or loaded) again is a new object: the memo does not survive it.
    e.fields_schema = {"type": "object", "properties": {"level": {"type": "string"}}}
    assert validate_fields(e, {"level": "三"})
    # Equal schemas share one compiled validator.
    assert field_validation._field_validator(entry(dict(QUALIFICATION_SCHEMA))) is first
