"""RFC 9285 Base45: the RFC's examples, refusals, and agreement with the base45 package."""

from __future__ import annotations

import base45
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.errors import MalformedLicense
from verify.rfc9285 import (
    ALPHABET,
    DIV45_QUOTIENT,
    DIV45_WORD,
    b45decode,
    b45encode,
    b45length,
)

# RFC 9285, sections 4.3 and 4.4.
RFC_EXAMPLES = [
    (b"AB", "BB8"),
    (b"Hello!!", "%69 VD92EX0"),
    (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"),
]


@pytest.mark.parametrize(("data", "text"), RFC_EXAMPLES)
def test_rfc_examples(data: bytes, text: str) -> None:
    assert b45encode(data) == text
    assert b45decode(text) == data


@pytest.mark.parametrize(
    "text",
    [
        "A",  # length 3n+1
        "GGW",  # RFC 9285 section 4.2: 65536 + ..., above 0xFFFF
        ":::",
        "::",  # final pair above 0xFF
        "abc",  # lower case is not in the alphabet
        "BB8\n",  # no silent stripping
        "BB\u00e9",
    ],
)
def test_invalid_text_is_refused(text: str) -> None:
    with pytest.raises(MalformedLicense):
        b45decode(text)


@given(st.binary(max_size=600))
def test_round_trip_and_independent_implementation(data: bytes) -> None:
    text = b45encode(data)
    assert text == base45.b45encode(data).decode()
    assert b45decode(text) == data


@given(st.text(alphabet=ALPHABET + "abc\n", max_size=60))
def test_decoder_agrees_with_package_on_any_text(text: str) -> None:
    try:
        expected: bytes | None = base45.b45decode(text)
    except ValueError:
        expected = None
    if "\n" in text:
        expected = None  # the package strips line ends; we refuse them
    try:
        got: bytes | None = b45decode(text)
    except MalformedLicense:
        got = None
    assert got == expected


@given(st.binary(max_size=600))
def test_b45length_is_the_encoded_length(data: bytes) -> None:
    assert b45length(len(data)) == len(b45encode(data))


def test_encoder_divisions_are_exact_over_their_whole_ranges() -> None:
    # b45encode divides every 16-bit word by 45, then the quotient by 45 again, as
    # multiply-and-shift on 32-bit lanes: exact for every value, products below 2**32.
    mul, shift = DIV45_WORD
    assert all(n // 45 == (n * mul) >> shift for n in range(65536))
    assert 65535 * mul < 2**32
    mul, shift = DIV45_QUOTIENT
    assert all(q // 45 == (q * mul) >> shift for q in range(65535 // 45 + 1))
    assert (65535 // 45) * mul < 2**32


def test_every_word_encodes_as_the_package_does() -> None:
    # All 65,536 byte pairs at once (lanes), then each pair on its own.
    data = b"".join(n.to_bytes(2, "big") for n in range(65536))
    assert b45encode(data) == base45.b45encode(data).decode()
    for n in range(0, 65536, 257):
        pair = n.to_bytes(2, "big")
        assert b45encode(pair) == base45.b45encode(pair).decode()
