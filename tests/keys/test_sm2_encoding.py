"""DER <-> raw signature conversions of keys/sm2.py (SM2Signature, GM/T 0009-2012)."""

from __future__ import annotations

import pytest
from asn1crypto.algos import DSASignature
from hypothesis import given
from hypothesis import strategies as st

from keys import sm2
from keys.errors import InvalidSignature
from keys.sm2 import N, der_to_raw, raw_to_der

scalars = st.integers(min_value=1, max_value=N - 1)


def raw(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@given(scalars, scalars)
def test_round_trip_and_independent_der(r: int, s: int) -> None:
    der = raw_to_der(raw(r, s))
    # asn1crypto is the independent DER encoder.
    assert der == DSASignature({"r": r, "s": s}).dump()
    assert der_to_raw(der) == raw(r, s)


@pytest.mark.parametrize(
    ("r", "s"),
    [
        (1, 1),  # both one byte
        (0x7F, 0x80),  # 0x80 needs a leading zero in DER
        (0x00FF << 240, 0x01),  # r with a leading zero byte in raw form
        (0x0000_00AB << 200, 0x0000_7FFF << 200),  # several leading zero bytes
        (N - 1, N - 1),  # the largest values: 33-byte INTEGERs
        (1 << 255, (1 << 255) - 1),  # high bit set / clear at 32 bytes
    ],
)
def test_crafted_values_with_leading_zeros(r: int, s: int) -> None:
    der = raw_to_der(raw(r, s))
    assert der == DSASignature({"r": r, "s": s}).dump()
    back = der_to_raw(der)
    assert len(back) == 64
    assert back == raw(r, s)


def test_short_integers_come_back_padded() -> None:
    der = bytes.fromhex("3006020101020102")
    assert der_to_raw(der) == raw(1, 2)


@pytest.mark.parametrize(
    ("der", "reason"),
    [
        ("", "SEQUENCE expected"),
        ("3100020101020101"[:16], "SEQUENCE expected"),
        ("3106020101020101", "SEQUENCE expected"),  # SET tag
        ("300702010102010100", "trailing data"),  # trailing byte inside the SEQUENCE
        ("3006020101020101" + "00", "SEQUENCE length"),  # trailing byte after it
        ("308106020101020101", "SEQUENCE length"),  # long-form length (BER, not DER)
        ("300702020001020101", "non-minimal"),  # r = 00 01
        ("3006020181020101", "negative"),  # r = -127
        ("3006020100020101", "out of range"),  # r = 0
        ("3006020101020100", "out of range"),  # s = 0
        ("3005020101020101", "SEQUENCE length"),  # length disagrees with the data
        ("3006020101020201", "truncated"),
        ("300603010102010101"[:16], "INTEGER expected"),
        ("30080201000201010000", "non-minimal|trailing|SEQUENCE length"),
    ],
)
def test_malformed_der_is_rejected(der: str, reason: str) -> None:
    with pytest.raises(InvalidSignature, match=reason):
        der_to_raw(bytes.fromhex(der))


def test_r_or_s_at_or_above_n_is_rejected() -> None:
    for r, s in [(N, 1), (1, N), (N + 1, 1), ((1 << 256) - 1, 1)]:
        with pytest.raises(InvalidSignature, match="out of range"):
            raw_to_der(raw(r, s))
        der = DSASignature({"r": r, "s": s}).dump()
        with pytest.raises(InvalidSignature, match=r"out of range|INTEGER length"):
            der_to_raw(der)


@pytest.mark.parametrize("length", [0, 32, 63, 65, 128])
def test_raw_must_be_64_bytes(length: int) -> None:
    with pytest.raises(InvalidSignature, match="64 bytes"):
        raw_to_der(b"\x01" * length)


@given(st.binary(max_size=80))
def test_garbage_never_crashes(data: bytes) -> None:
    try:
        out = der_to_raw(data)
    except InvalidSignature:
        return
    assert raw_to_der(out) == data  # only canonical DER is ever accepted


def test_signatures_from_the_api_have_canonical_der() -> None:
    key = sm2.SM2PrivateKey.generate()
    for _ in range(50):
        der = key.sign(b"m")
        assert raw_to_der(der_to_raw(der)) == der
