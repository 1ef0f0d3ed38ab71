"""CBOR under the format's limits: tags, indefinite lengths, duplicates, depth, trailing bytes."""

from __future__ import annotations

import cbor2
import pytest

from verify import strict_cbor
from verify.errors import MalformedLicense

PAYLOADS = [b"\x00", b"\x40", b"\x60", b"\x80", b"\x82\x01\x02", b"\xa0", b"\x44\x01\x02\x03\x04"]


def _tag_head(tag: int) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(tag, None))[:-1]


@pytest.mark.parametrize("tag", [*range(0, 301), 1004, 1040, 55799, 2**32])
def test_every_tag_is_refused_inside_claims(tag: int) -> None:
    for payload in PAYLOADS:
        with pytest.raises(MalformedLicense):
            strict_cbor.loads(_tag_head(tag) + payload, error=MalformedLicense, max_depth=4)
        # Also nested in a map, where claims would carry it.
        nested = b"\xa1\x01" + _tag_head(tag) + payload
        with pytest.raises(MalformedLicense):
            strict_cbor.loads(nested, error=MalformedLicense, max_depth=4)


def test_only_cose_sign1_tag_allowed_with_cose() -> None:
    value = strict_cbor.loads(b"\xd2\x80", error=MalformedLicense, max_depth=2, cose=True)
    assert isinstance(value, cbor2.CBORTag) and value.tag == 18
    with pytest.raises(MalformedLicense):
        strict_cbor.loads(b"\xd1\x80", error=MalformedLicense, max_depth=2, cose=True)


@pytest.mark.parametrize(
    ("hex_data", "why"),
    [
        ("9f01ff", "indefinite-length array"),
        ("bf0101ff", "indefinite-length map"),
        ("5f4101ff", "indefinite-length byte string"),
        ("a201010102", "duplicate map key"),
        ("0000", "trailing bytes"),
        ("82", "truncated"),
        ("5a00010000", "byte string longer than the data"),
        ("1c", "reserved additional information"),
        ("ff", "lone break"),
        ("62c328", "invalid UTF-8"),
    ],
)
def test_ill_formed_or_out_of_profile(hex_data: str, why: str) -> None:
    with pytest.raises(MalformedLicense):
        strict_cbor.loads(bytes.fromhex(hex_data), error=MalformedLicense, max_depth=4)


def test_depth_limit() -> None:
    ok = b"\x81" * 4 + b"\x01"
    assert strict_cbor.loads(ok, error=MalformedLicense, max_depth=5) == [[[[1]]]]
    with pytest.raises(MalformedLicense):
        strict_cbor.loads(b"\x81" * 5000 + b"\x01", error=MalformedLicense, max_depth=5)


def test_huge_declared_lengths_do_not_allocate() -> None:
    for hex_data in ("9bffffffffffffffff", "bbffffffffffffffff", "5bffffffffffffffff"):
        with pytest.raises(MalformedLicense):
            strict_cbor.loads(bytes.fromhex(hex_data), error=MalformedLicense, max_depth=4)


def test_deterministic_encoding_sorts_keys() -> None:
    assert strict_cbor.dumps({10: 1, 2: 2, -1: 3}) == bytes.fromhex("a302020a012003")
