"""Citizen ID numbers (GB 11643-1999) and unified social credit codes (GB 32100-2015)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys.validators import (
    CREDIT_CODE_ALPHABET,
    CREDIT_CODE_PROVINCES,
    ID_NUMBER_PROVINCES,
    REGISTRATION_AUTHORITIES,
    InvalidCreditCode,
    InvalidIdNumber,
    birth_date_from_id_number,
    credit_code_check_char,
    id_number_check_char,
    mask_id_number,
    organisation_code_check_char,
    validate_credit_code,
    validate_id_number,
)

VECTORS = Path(__file__).parent.parent / "vectors" / "identifiers"
TODAY = dt.date(2026, 1, 1)


def load(name: str) -> list[tuple[str, str]]:
    """Parse a vector file: '<expected> <value>' lines, '#' comments."""
    rows = []
    for line in (VECTORS / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            expected, value = line.split()
            rows.append((expected, value))
    return rows


ID_VECTORS = load("id_numbers.txt")
CREDIT_VECTORS = load("credit_codes.txt")


def test_vector_files_cover_every_reason() -> None:
    assert {e for e, _ in ID_VECTORS} == {
        "valid",
        "length",
        "charset",
        "region",
        "birth_date",
        "check_digit",
    }
    assert {e for e, _ in CREDIT_VECTORS} == {
        "valid",
        "length",
        "charset",
        "registration_authority",
        "organisation_type",
        "region",
        "organisation_code",
        "check_digit",
    }


@pytest.mark.parametrize(("expected", "value"), ID_VECTORS)
def test_id_number_vectors(expected: str, value: str) -> None:
    if expected == "valid":
        assert validate_id_number(value, today=TODAY) == value
    else:
        with pytest.raises(InvalidIdNumber) as info:
            validate_id_number(value, today=TODAY)
        assert info.value.reason == expected


@pytest.mark.parametrize(("expected", "value"), CREDIT_VECTORS)
def test_credit_code_vectors(expected: str, value: str) -> None:
    if expected == "valid":
        assert validate_credit_code(value) == value
    else:
        with pytest.raises(InvalidCreditCode) as info:
            validate_credit_code(value)
        assert info.value.reason == expected


def test_id_number_normalisation() -> None:
    assert validate_id_number("11010519491231002x") == "11010519491231002X"
    assert validate_id_number("  11010519491231002X\n") == "11010519491231002X"
    # Full-width digits, as some input methods type them.
    assert validate_id_number("１１０１０５１９４９１２３１００２Ｘ") == "11010519491231002X"


def test_id_number_birth_date_bounds() -> None:
    first17 = "11010520251231001"
    number = first17 + id_number_check_char(first17)
    assert validate_id_number(number, today=dt.date(2025, 12, 31)) == number
    with pytest.raises(InvalidIdNumber) as info:
        validate_id_number(number, today=dt.date(2025, 12, 30))
    assert info.value.reason == "birth_date"
    first17 = "11010519000101001"
    earliest = first17 + id_number_check_char(first17)
    assert validate_id_number(earliest) == earliest
    assert birth_date_from_id_number(earliest) == dt.date(1900, 1, 1)


def test_id_number_default_today_rejects_the_future() -> None:
    year = dt.date.today().year + 1
    first17 = f"110105{year}0101001"
    with pytest.raises(InvalidIdNumber) as info:
        validate_id_number(first17 + id_number_check_char(first17))
    assert info.value.reason == "birth_date"


def test_credit_code_normalisation() -> None:
    assert validate_credit_code("91340600ma2pbm9hxd") == "91340600MA2PBM9HXD"
    assert validate_credit_code(" 91110000600037341L ") == "91110000600037341L"


@pytest.mark.parametrize("value", [None, 11010519491231002, b"11010519491231002X"])
def test_non_text_is_rejected(value: object) -> None:
    with pytest.raises(InvalidIdNumber) as info:
        validate_id_number(value)  # type: ignore[arg-type]
    assert info.value.reason == "type"
    with pytest.raises(InvalidCreditCode) as info2:
        validate_credit_code(value)  # type: ignore[arg-type]
    assert info2.value.reason == "type"


def test_errors_are_value_errors_with_bilingual_text_and_no_personal_data() -> None:
    number = "110105194912310021"
    with pytest.raises(ValueError) as info:
        validate_id_number(number)
    error = info.value
    assert isinstance(error, InvalidIdNumber)
    assert error.reason == "check_digit"
    assert "校验码" in error.message_zh
    assert "check character" in error.message_en
    assert str(error) == error.message_en
    assert number not in str(error) + error.message_zh + repr(error)

    with pytest.raises(ValueError) as info2:
        validate_credit_code("91110000600037341N")
    assert isinstance(info2.value, InvalidCreditCode)
    assert "统一社会信用代码" in info2.value.message_zh
    assert info2.value.message_en.startswith("The unified social credit code ")


def test_every_reason_has_specific_messages() -> None:
    for cls in (InvalidIdNumber, InvalidCreditCode):
        for reason in cls.messages:
            error = cls(reason)
            assert "不正确" in error.message_zh or len(error.message_zh) > 10
            assert error.message_en.endswith(".")


def test_mask_id_number() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("11010519491231002x") == "110105********002X"
    # Malformed input is masked completely rather than partially revealed.
    assert mask_id_number("1101051949123100") == "*" * 16
    assert mask_id_number("") == ""


def test_check_char_helpers_reject_bad_input() -> None:
    with pytest.raises(InvalidIdNumber):
        id_number_check_char("1234")
    with pytest.raises(InvalidIdNumber):
        id_number_check_char("1101051949123100A")
    with pytest.raises(InvalidCreditCode):
        credit_code_check_char("9111000060003734")
    with pytest.raises(InvalidCreditCode):
        credit_code_check_char("9111000060003734I")
    with pytest.raises(InvalidCreditCode):
        organisation_code_check_char("6000373")
    with pytest.raises(InvalidCreditCode):
        organisation_code_check_char("6000373-")


def test_check_chars_match_the_published_examples() -> None:
    assert id_number_check_char("11010519491231002") == "X"
    assert id_number_check_char("44052418800101001") == "4"  # GB 11643 Annex A, 2nd example
    assert credit_code_check_char("91110000600037341") == "L"
    assert organisation_code_check_char("60003734") == "1"


# --- property tests -------------------------------------------------------------------

birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(sorted(ID_NUMBER_PROVINCES)))
    county = draw(st.integers(0, 9999))
    born = draw(birth_dates)
    sequence = draw(st.integers(0, 999))
    first17 = f"{province}{county:04d}{born:%Y%m%d}{sequence:03d}"
    return first17 + id_number_check_char(first17)


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    authority = draw(st.sampled_from(sorted(REGISTRATION_AUTHORITIES)))
    org_type = draw(st.sampled_from(sorted(REGISTRATION_AUTHORITIES[authority][2])))
    region = draw(
        st.sampled_from(sorted(CREDIT_CODE_PROVINCES)).map(lambda p: f"{p}0000")
        | st.just("100000")
        | st.integers(110000, 659999).filter(lambda r: f"{r}"[:2] in CREDIT_CODE_PROVINCES).map(str)
    )
    org8 = draw(st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=8, max_size=8))
    first17 = f"{authority}{org_type}{region}{org8}{organisation_code_check_char(org8)}"
    return first17 + credit_code_check_char(first17)


@given(id_numbers())
def test_generated_id_numbers_are_valid(number: str) -> None:
    assert validate_id_number(number, today=TODAY) == number
    assert validate_id_number(number.lower(), today=TODAY) == number
    assert mask_id_number(number) == number[:6] + "********" + number[-4:]


@given(id_numbers(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_any_single_substitution_in_an_id_number_is_caught(
    number: str, position: int, replacement: str
) -> None:
    if number[position] == replacement:
        return
    changed = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(InvalidIdNumber):
        validate_id_number(changed, today=TODAY)


@given(id_numbers(), st.integers(0, 16))
def test_any_adjacent_transposition_in_an_id_number_is_caught(number: str, position: int) -> None:
    a, b = number[position], number[position + 1]
    if a == b:
        return
    swapped = number[:position] + b + a + number[position + 2 :]
    with pytest.raises(InvalidIdNumber):
        validate_id_number(swapped, today=TODAY)


@given(credit_codes())
def test_generated_credit_codes_are_valid(code: str) -> None:
    assert validate_credit_code(code) == code
    assert validate_credit_code(code.lower()) == code


@given(credit_codes(), st.integers(0, 17), st.sampled_from(CREDIT_CODE_ALPHABET))
def test_any_single_substitution_in_a_credit_code_is_caught(
    code: str, position: int, replacement: str
) -> None:
    if code[position] == replacement:
        return
    changed = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(InvalidCreditCode):
        validate_credit_code(changed)


@given(credit_codes(), st.integers(0, 16))
def test_any_adjacent_transposition_in_a_credit_code_is_caught(code: str, position: int) -> None:
    a, b = code[position], code[position + 1]
    if a == b:
        return
    swapped = code[:position] + b + a + code[position + 2 :]
    with pytest.raises(InvalidCreditCode):
        validate_credit_code(swapped)


@given(st.text(max_size=30))
def test_arbitrary_text_never_crashes(text: str) -> None:
    for validate, error in (
        (validate_id_number, InvalidIdNumber),
        (validate_credit_code, InvalidCreditCode),
    ):
        try:
            validate(text)
        except error as exc:
            assert exc.reason in type(exc).messages
