"""License claims: round trip, strict types, limits, the holder digest."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cbor2
import pytest

from keys.sm3 import sm3
from tests.vectors.license.make_vectors import typical_claims
from verify.claims import LicenseClaims, holder_digest
from verify.errors import MalformedLicense


def test_round_trip_is_exact_and_deterministic() -> None:
    claims = typical_claims(1)
    data = claims.to_cbor()
    assert LicenseClaims.from_cbor(data) == claims
    assert claims.to_cbor() == data
    # Integer keys 1..12, sorted (RFC 8949 section 4.2.1).
    assert list(cbor2.loads(data)) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]


def test_exp_is_optional_and_absent_not_null() -> None:
    claims = typical_claims(1, exp=None)
    assert 11 not in cbor2.loads(claims.to_cbor())
    assert LicenseClaims.from_cbor(claims.to_cbor()).exp is None
    with_null = cbor2.loads(claims.to_cbor())
    with_null[11] = None
    with pytest.raises(MalformedLicense, match="exp"):
        LicenseClaims.from_cbor(cbor2.dumps(with_null))


def _with(key: int, value: Any) -> bytes:
    claims = cbor2.loads(typical_claims(1).to_cbor())
    claims[key] = value
    return cbor2.dumps(claims)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (1, "91440000MA0000000I"),  # 'I'/'O'/'S'/'V'/'Z' are not in the alphabet
        (1, "4401"),
        (1, b"914400001234567890"),
        (2, ""),
        (2, "with space"),
        (3, "x" * 33),
        (4, ""),
        (4, " padded"),
        (4, "line\nbreak"),
        (4, "\u202e三张"),  # right-to-left override
        (4, "张\u200b三"),  # zero-width space
        (8, {"k": "a\u2066b"}),
        (8, {"k": "bell\x07"}),
        (8, {"na\nme": "x"}),
        (5, "440106********123x"),
        (6, b"\x00" * 31),
        (7, b"\x00" * 7),
        (7, "salt"),
        (8, []),
        (8, {"k": {"nested": 1}}),
        (8, {"k": [[1]]}),
        (8, {1: "integer name"}),
        (8, {"k": float("nan")}),
        (8, {"k": "x" * 1025}),
        (8, {f"k{i}": i for i in range(65)}),
        (9, True),
        (9, -1),
        (9, 2**40),
        (9, 1.5),
        (10, "2026-01-01"),
        (11, 0),  # exp must be later than nbf
        (12, -1),
        (12, 2**32),
        (99, "unknown claim"),
    ],
)
def test_strict_types_and_limits(key: int, value: Any) -> None:
    with pytest.raises(MalformedLicense):
        LicenseClaims.from_cbor(_with(key, value))


@pytest.mark.parametrize("key", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12])
def test_required_claims(key: int) -> None:
    claims = cbor2.loads(typical_claims(1).to_cbor())
    del claims[key]
    with pytest.raises(MalformedLicense, match="required"):
        LicenseClaims.from_cbor(cbor2.dumps(claims))


def test_claims_must_be_a_map() -> None:
    with pytest.raises(MalformedLicense):
        LicenseClaims.from_cbor(cbor2.dumps([1, 2, 3]))


def test_allowed_field_values() -> None:
    fields = {
        "text": "文字",
        "int": -5,
        "float": 1.25,
        "bool": True,
        "none": None,
        "list": [1, "a"],
    }
    claims = typical_claims(1, fields=fields)
    assert LicenseClaims.from_cbor(claims.to_cbor()).fields == fields


def test_encoder_refuses_claims_it_must_not_sign() -> None:
    with pytest.raises(ValueError, match="holder_id_digest"):
        replace(typical_claims(1), holder_id_digest=b"short").to_cbor()
    with pytest.raises(ValueError, match="exp"):
        typical_claims(1, exp=1).to_cbor()


def test_holder_digest_is_salted_sm3_of_normalised_number() -> None:
    salt = bytes(range(16))
    number = "44010619900307123X"
    assert holder_digest(number, salt) == sm3(salt + number.encode())
    # Lower-case x, surrounding spaces and full-width digits (Chinese IMEs) all match.
    assert holder_digest(" 44010619900307123x ", salt) == holder_digest(number, salt)
    assert holder_digest("４４０１０６１９９００３０７１２３Ｘ", salt) == holder_digest(
        number, salt
    )
    assert holder_digest(number, bytes(16)) != holder_digest(number, salt)
