r"""Validating a license's fields against its type's JSON Schema (Draft 2020-12).

Two libraries share the work:

- ``jsonschema-rs`` (Rust) gives the verdict on the common path: fields it accepts are
  accepted without running ``jsonschema``. Format validation is off, as in ``jsonschema``
  without a format checker (``format`` is an annotation), and it never fetches a remote
  ``$ref``. It evaluates ``pattern`` and ``multipleOf`` by calling ``jsonschema``'s own
  keyword functions: it follows ECMA-262, where ``\d``, ``\w``, ``\s`` and ``$`` differ
  from Python's ``re``, and finds 19.99 a multiple of 0.01 where ``jsonschema`` does not.
  A schema it cannot compile, or one using ``patternProperties``, ``dependencies`` or
  another ``$schema`` dialect (which the two read differently), is validated by
  ``jsonschema`` alone; so are fields holding what JSON text cannot (NaN, infinities,
  tuples, non-string keys).
- ``jsonschema`` (pure Python) writes every refusal: message, ``pointer`` and
  ``schema_keyword``.

Why two: on the batch-issuance hot path ``jsonschema`` alone cost 40-80 µs per license,
``jsonschema-rs`` 2-5 µs (docs/licenses.md, "Performance").

When jsonschema-rs refuses fields that ``jsonschema`` accepts, the refusal stands (fail
closed, logged). The opposite disagreement cannot be seen without running ``jsonschema``:
the rules above rule out the known cases, and tests/certs/test_field_validation.py
compares the two libraries on generated fields.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import jsonschema_rs
from jsonschema import Draft202012Validator

from certs.errors import SchemaViolation
from certs.models import LicenseType

log = logging.getLogger("authority.certs.field_validation")


#: The dialect both libraries implement; a schema naming another one is left to Python.
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

#: Keywords jsonschema-rs applies but ``jsonschema``'s 2020-12 validator reads otherwise:
#: ``patternProperties`` matches property names with ECMA-262 regular expressions,
#: ``dependencies`` (Draft 7) is ignored by ``jsonschema`` in 2020-12.
_PYTHON_ONLY_KEYWORDS = frozenset({"patternProperties", "dependencies"})

#: What a JSON text can hold besides floats, lists and objects.
_JSON_LEAVES = frozenset({str, int, bool, type(None)})

#: Only its ``is_type`` is used: the type rules of ``jsonschema`` (bool is no number).
_PY_TYPES = Draft202012Validator({})


class _PythonKeyword:
    """A keyword jsonschema-rs evaluates by calling ``jsonschema``'s own function for it
    (``Draft202012Validator.VALIDATORS``), so both libraries judge it identically."""

    keyword: ClassVar[str]

    def __init__(self, parent_schema: dict[str, Any], value: Any, schema_path: Any) -> None:
        self._check = Draft202012Validator.VALIDATORS[self.keyword]
        self._value = value
        self._schema = parent_schema

    def validate(self, instance: Any) -> None:
        for error in self._check(_PY_TYPES, self._value, instance, self._schema):
            raise ValueError(error.message)


class _Pattern(_PythonKeyword):
    # ``re.search`` semantics: jsonschema-rs follows ECMA-262 (``\d``, ``\w``, ``\s`` ASCII
    # or differently Unicode, ``$`` not before a final newline).
    keyword = "pattern"


class _MultipleOf(_PythonKeyword):
    # jsonschema-rs accepts 19.99 as a multiple of 0.01; ``jsonschema``'s float test does not.
    keyword = "multipleOf"


_PYTHON_KEYWORDS: dict[str, type[_PythonKeyword]] = {"pattern": _Pattern, "multipleOf": _MultipleOf}


@dataclass(frozen=True, slots=True)
class _FieldValidator:
    """One schema's validators: ``python`` always, ``fast`` unless the schema is left to
    Python alone (``python_only`` then says why)."""

    python: Draft202012Validator
    fast: jsonschema_rs.Validator | None
    python_only: str | None = None


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every object in a JSON document (a schema's subschemas among them)."""
    pending = [node]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            yield node
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


def _python_only_reason(schema: Any) -> str | None:
    """Why the schema must be validated by ``jsonschema`` alone, if it must.

    Looks at every object of the document, not only at subschemas: a property named
    ``dependencies`` costs speed, never correctness.
    """
    for node in _walk(schema):
        found = _PYTHON_ONLY_KEYWORDS.intersection(node)
        if found:
            return f"uses {min(found)}"
        dialect = node.get("$schema")
        if dialect is not None and dialect != DRAFT_2020_12:
            return f"names the dialect {dialect!r}"
    return None


@functools.lru_cache(maxsize=256)
def _compile(schema_json: str) -> _FieldValidator:
    # Keyed by the schema text, so a cached validator can never belong to another schema.
    schema = json.loads(schema_json)
    python = Draft202012Validator(schema)
    reason = _python_only_reason(schema)
    if reason is None:
        try:
            fast = jsonschema_rs.Draft202012Validator(
                schema,
                validate_formats=False,
                offline=True,
                keywords=_PYTHON_KEYWORDS,
            )
        except Exception as exc:  # e.g. a regular expression ECMA-262 does not accept
            reason = f"jsonschema-rs cannot compile it: {str(exc).splitlines()[0]}"
        else:
            return _FieldValidator(python, fast)
    log.info("field schema validated by jsonschema alone: %s", reason)
    return _FieldValidator(python, None, reason)


#: Where :func:`_field_validator` memoises an entry's validators, on the instance.
_MEMO = "_certs_field_validator"


def _field_validator(entry: LicenseType) -> _FieldValidator:
    """The validators of ``entry``'s schema.

    The text key (``json.dumps`` with sorted keys, ~13 µs) is computed once per
    LicenseType instance and schema object: a type version's schema is never changed
    (a change adds a version), and when the attribute is loaded or set again it is a new
    object, so the identity check recomputes the key. Not keyed on (id, version): ids
    repeat across databases and unsaved instances have none.
    """
    schema = entry.fields_schema
    memo = entry.__dict__.get(_MEMO)
    if memo is not None and memo[0] is schema:
        return memo[1]
    compiled = _compile(json.dumps(schema, sort_keys=True))
    entry.__dict__[_MEMO] = (schema, compiled)
    return compiled


def _plain_json(fields: dict[str, Any]) -> bool:
    """Whether ``fields`` holds only what JSON text can (string keys, finite numbers,
    lists): jsonschema-rs reads anything else differently from ``jsonschema`` (NaN as
    neither number nor null, a tuple as an array)."""
    pending: list[Any] = [fields]
    while pending:
        node = pending.pop()
        if type(node) is dict:
            if not all(type(key) is str for key in node):
                return False
            values = node.values()
        else:
            values = node
        for value in values:
            kind = type(value)
            if kind in _JSON_LEAVES:
                continue
            if kind is float:
                if not math.isfinite(value):
                    return False
            elif kind is dict or kind is list:
                pending.append(value)
            else:
                return False
    return True


def validate_fields(entry: LicenseType, fields: Any) -> dict[str, Any]:
    """Check ``fields`` against the type's schema; the refusal names the failing field.

    jsonschema-rs gives the verdict; a refusal is written by ``jsonschema`` (module
    docstring), and stands even if ``jsonschema`` finds nothing wrong.
    """
    if not isinstance(fields, dict):
        raise SchemaViolation("fields must be a JSON object", pointer="/fields")
    validators = _field_validator(entry)
    fast = validators.fast
    if fast is not None and _plain_json(fields):
        try:
            if fast.is_valid(fields):
                return fields
        except Exception:  # a value it cannot take (e.g. a lone surrogate): Python judges
            fast = None
    else:
        fast = None
    validator = validators.python
    if fast is None and validator.is_valid(fields):
        return fields
    error = next(iter(sorted(validator.iter_errors(fields), key=lambda e: list(e.path))), None)
    if error is not None:
        path = "".join(f"/{p}" for p in error.absolute_path)
        if error.validator == "required" and isinstance(error.validator_value, list):
            missing = [n for n in error.validator_value if n not in (error.instance or {})]
            if missing:
                path += f"/{missing[0]}"
        pointer = "/fields" + path
        raise SchemaViolation(
            f"{pointer}: {error.message}",
            pointer=pointer,
            schema_keyword=error.validator,
            type_code=entry.code,
            type_version=entry.version,
        )
    if fast is not None:
        raise _disagreement(entry, fast, fields)
    return fields


def _disagreement(
    entry: LicenseType, fast: jsonschema_rs.Validator, fields: dict[str, Any]
) -> SchemaViolation:
    """The refusal when jsonschema-rs refuses what ``jsonschema`` accepts: fail closed,
    in jsonschema-rs's words."""
    found = next(fast.iter_errors(fields), None)
    if found is None:
        pointer, message, keyword = "/fields", "the fields do not match the schema", None
    else:
        pointer = "/fields" + "".join(f"/{p}" for p in found.instance_path)
        message, keyword = found.message, found.kind.name
    log.warning(
        "field validators disagree on %s v%s at %s (%s): refused",
        entry.code,
        entry.version,
        pointer,
        keyword,
    )
    return SchemaViolation(
        f"{pointer}: {message} (refused: the field validators disagree)",
        pointer=pointer,
        schema_keyword=keyword,
        type_code=entry.code,
        type_version=entry.version,
    )
