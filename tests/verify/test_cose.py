"""RFC 9052 COSE_Sign1 as the format uses it: structure, header forms, Sig_structure."""

from __future__ import annotations

import cbor2
import pytest

from tests.verify.world import Vectors
from verify import cose
from verify.decode import decode
from verify.errors import MalformedLicense


@pytest.mark.parametrize("size", [0, 1, 23, 24, 255, 256, 65535, 65536])
def test_sig_structure_is_deterministic_cbor(size: int) -> None:
    protected, payload = cose.protected_header(b"12345678"), bytes(size)
    expected = cbor2.dumps(["Signature1", protected, b"", payload], canonical=True)
    assert cose.sig_structure(protected, payload) == expected


@pytest.mark.parametrize("size", [0, 1, 23, 24, 255, 256, 65535, 65536])
def test_sign1_bytes_is_deterministic_cbor(size: int) -> None:
    protected, payload, signature = cose.protected_header(b"12345678"), bytes(size), bytes(64)
    expected = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]), canonical=True)
    assert cose.sign1_bytes(protected, payload, signature) == expected


def test_protected_header_encoding() -> None:
    header = cose.protected_header(bytes.fromhex("0102030405060708"))
    assert header.hex() == "a2013a0001116f04480102030405060708"
    assert cbor2.loads(header) == {1: -70000, 4: bytes.fromhex("0102030405060708")}
    # The license header is written out directly; cbor2 agrees for any kid.
    for kid in (bytes(8), b"\xff" * 8, b"12345678"):
        expected = cbor2.dumps({1: -70000, 4: kid}, canonical=True)
        assert cose.protected_header(kid) == expected
    with_type = cose.protected_header(b"12345678", "application/x")
    assert cbor2.loads(with_type) == {1: -70000, 3: "application/x", 4: b"12345678"}


def _with_protected(vectors: Vectors, protected: bytes) -> bytes:
    license = decode(vectors.by_name("valid")["qr"])
    payload = license.claims.to_cbor()
    return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, license.signature]))


def test_other_valid_header_encodings_are_accepted(vectors: Vectors) -> None:
    # A decoder must not require deterministic encoding: keys in another order, a
    # longer-than-needed length head. The signature then differs, not the parse.
    kid = decode(vectors.by_name("valid")["qr"]).kid
    for protected in (
        bytes.fromhex("a204") + b"\x48" + kid + bytes.fromhex("013a0001116f"),
        bytes.fromhex("a2013a0001116f04") + b"\x58\x08" + kid,
    ):
        parsed = cose.parse_sign1(_with_protected(vectors, protected), error=MalformedLicense)
        assert parsed.kid == kid and parsed.protected == protected


@pytest.mark.parametrize(
    "protected_hex",
    [
        "a1013a0001116f",  # no kid
        "a2013a0001116f0447" + "00" * 7,  # 7-byte kid
        "a3013a0001116f044800000000000000000300",  # an extra parameter (content type)
        "a201260448" + "00" * 8,  # alg -7 (ES256)
        "a201f50448" + "00" * 8,  # alg true
        "a2013a0001116f0468" + "00" * 8,  # kid as text
        "80",  # not a map
    ],
)
def test_wrong_headers_are_malformed(vectors: Vectors, protected_hex: str) -> None:
    with pytest.raises(MalformedLicense):
        cose.parse_sign1(
            _with_protected(vectors, bytes.fromhex(protected_hex)), error=MalformedLicense
        )


@pytest.mark.parametrize(
    "parts",
    [
        ["p", {}, b"", bytes(64)],
        [b"\xa0", {1: 2}, b"", bytes(64)],
        [b"\xa0", [], b"", bytes(64)],
        [b"\xa0", {}, b"", bytes(63)],
        [b"\xa0", {}, "payload", bytes(64)],
        [b"\xa0", {}, b""],
    ],
)
def test_wrong_structures_are_malformed(parts: list[object]) -> None:
    with pytest.raises(MalformedLicense):
        cose.parse_sign1(cbor2.dumps(cbor2.CBORTag(18, parts)), error=MalformedLicense)
