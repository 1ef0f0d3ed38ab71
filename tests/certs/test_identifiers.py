"""License identifiers: ISO/IEC 7064 MOD 37,36 and the GB/T 36904-style layout."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certs.identifiers import (
    InvalidIdentifier,
    LicenseIdentifier,
    mod37_36_check,
    mod37_36_valid,
    valid_type_code,
)

# Published examples of ISO/IEC 7064 MOD 37,36: the Global Release Identifier example
# "A1-2425G-ABC1234002-M" (GRid standard, IFPI), and vectors of independent
# implementations (the Go iso7064 package's tests).
VECTORS = [
    ("A12425GABC1234002", "M"),
    ("RABD", "A"),
    ("X0H", "X"),
    ("TBR", "1"),
    ("B7Q3SFTUSH2QN7BIXBPMNZAM", "I"),
]


@pytest.mark.parametrize(("data", "check"), VECTORS)
def test_mod37_36_vectors(data: str, check: str) -> None:
    assert mod37_36_check(data) == check
    assert mod37_36_valid(data + check)


def _clause_7_2(data: str) -> str:
    """ISO/IEC 7064 clause 7.2 written out step by step, to compare the table walk with."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    p = 36
    for char in data:
        s = (p + alphabet.index(char)) % 36 or 36
        p = (2 * s) % 37
    return alphabet[(37 - p) % 36]


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", max_size=60))
def test_mod37_36_table_walk_is_clause_7_2(data: str) -> None:
    assert mod37_36_check(data) == _clause_7_2(data)


def test_mod37_36_detects_single_substitutions_and_transpositions() -> None:
    data = "BIZLIC0191350100M000100Y430000000042" + "01"
    good = data + mod37_36_check(data)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for i in range(len(data)):
        for c in alphabet:
            if c != good[i]:
                assert not mod37_36_valid(good[:i] + c + good[i + 1 :])
        if good[i] != good[i + 1]:
            swapped = good[:i] + good[i + 1] + good[i] + good[i + 2 :]
            assert not mod37_36_valid(swapped)


def test_mod37_36_rejects_foreign_characters() -> None:
    for text in ("abc", "AB-C", "ＡＢ", "A\u0660"):
        with pytest.raises(ValueError, match="not in the MOD 37,36 alphabet"):
            mod37_36_check(text)
    assert not mod37_36_valid("A1-M")
    assert not mod37_36_valid("")


def test_identifier_round_trip() -> None:
    ident = LicenseIdentifier("BIZLIC01", "91350100M000100Y43", 42, 1)
    text = str(ident)
    assert text.startswith("BIZLIC01-91350100M000100Y43-0000000042-01-")
    assert LicenseIdentifier.parse(text) == ident
    assert mod37_36_valid(text.replace("-", ""))
    newer = ident.next_version()
    assert str(newer).startswith("BIZLIC01-91350100M000100Y43-0000000042-02-")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("BIZLIC01-91350100M000100Y43-0000000042-01", "layout"),
        ("bizlic01-91350100M000100Y43-0000000042-01-0", "layout"),
        ("BIZ-91350100M000100Y43-0000000042-01-0", "layout"),
    ],
)
def test_identifier_layout_errors(text: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        LicenseIdentifier.parse(text)
    assert info.value.reason == reason


def test_identifier_check_character_error() -> None:
    text = str(LicenseIdentifier("BIZLIC01", "91350100M000100Y43", 42, 1))
    wrong = text[:-1] + ("0" if text[-1] != "0" else "1")
    with pytest.raises(InvalidIdentifier) as info:
        LicenseIdentifier.parse(wrong)
    assert info.value.reason == "check_character"


def test_type_codes() -> None:
    assert valid_type_code("BIZLIC")
    assert valid_type_code("QUAL0000CERT")
    for bad in ("BIZ", "bizlic", "1BIZLIC", "BIZLIC-01", "ABCDEFGHIJKLM", "BIZLİC"):
        assert not valid_type_code(bad)
    with pytest.raises(InvalidIdentifier):
        LicenseIdentifier("BIZLIC", "91350100M000100Y43", 0, 1)
    with pytest.raises(InvalidIdentifier):
        LicenseIdentifier("BIZLIC", "91350100M000100Y43", 1, 100)
