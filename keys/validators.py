"""Validators for the two national identifiers: citizen ID number and unified social credit code.

- GB 11643-1999, *Citizen identification number* (公民身份号码): clause 5.1 (structure:
  6-digit address code, 8-digit birth date, 3-digit sequence code, 1 check character),
  5.2 (address code per GB/T 2260), 5.3 (birth date per GB/T 7408), 5.4 (sequence code)
  and 5.5 (check character: ISO 7064:1983 MOD 11-2); Annex A gives example numbers.
- GB 32100-2015, *Coding rule of the unified social credit identifier for legal entities
  and other organizations* (法人和其他组织统一社会信用代码编码规则): five parts
  (registration-authority code, organisation-type code, 6-digit region code of the
  registering authority per GB/T 2260, 9-character subject identifier = the organisation
  code of GB 11714-1997 with its own check character, and one check character), the
  31-character set without I, O, S, V, Z, and the weighted MOD 31 check character
  (weights 3^(i-1) mod 31). The authority and type codes are the standard's table plus
  the codes assigned since by the national code authority.

Every failure raises a specific exception carrying a short ``reason`` code and a message
in Chinese and English. Exceptions never include the rejected value, because an ID number
is personal information and exception text tends to end up in logs.

See docs/identifiers.md for the decisions (which region codes, the birth-date window).
"""

from __future__ import annotations

import datetime as _dt
import operator
import unicodedata
from typing import ClassVar, Final

__all__ = [
    "CREDIT_CODE_ALPHABET",
    "InvalidCreditCode",
    "InvalidIdNumber",
    "InvalidIdentifier",
    "birth_date_from_id_number",
    "credit_code_check_char",
    "id_number_check_char",
    "mask_id_number",
    "organisation_code_check_char",
    "validate_credit_code",
    "validate_id_number",
]

# GB/T 2260 province-level codes (the first two digits of any address code). 71 is
# Taiwan; 81, 82 and 83 are the address codes used by the residence permits for Hong Kong,
# Macao and Taiwan residents (港澳台居民居住证, numbered under GB 11643 since 2018).
PROVINCE_NAMES: Final[dict[str, tuple[str, str]]] = {
    "11": ("北京市", "Beijing"),
    "12": ("天津市", "Tianjin"),
    "13": ("河北省", "Hebei"),
    "14": ("山西省", "Shanxi"),
    "15": ("内蒙古自治区", "Inner Mongolia"),
    "21": ("辽宁省", "Liaoning"),
    "22": ("吉林省", "Jilin"),
    "23": ("黑龙江省", "Heilongjiang"),
    "31": ("上海市", "Shanghai"),
    "32": ("江苏省", "Jiangsu"),
    "33": ("浙江省", "Zhejiang"),
    "34": ("安徽省", "Anhui"),
    "35": ("福建省", "Fujian"),
    "36": ("江西省", "Jiangxi"),
    "37": ("山东省", "Shandong"),
    "41": ("河南省", "Henan"),
    "42": ("湖北省", "Hubei"),
    "43": ("湖南省", "Hunan"),
    "44": ("广东省", "Guangdong"),
    "45": ("广西壮族自治区", "Guangxi"),
    "46": ("海南省", "Hainan"),
    "50": ("重庆市", "Chongqing"),
    "51": ("四川省", "Sichuan"),
    "52": ("贵州省", "Guizhou"),
    "53": ("云南省", "Yunnan"),
    "54": ("西藏自治区", "Tibet"),
    "61": ("陕西省", "Shaanxi"),
    "62": ("甘肃省", "Gansu"),
    "63": ("青海省", "Qinghai"),
    "64": ("宁夏回族自治区", "Ningxia"),
    "65": ("新疆维吾尔自治区", "Xinjiang"),
    "71": ("台湾省", "Taiwan"),
    "81": ("香港特别行政区", "Hong Kong"),
    "82": ("澳门特别行政区", "Macao"),
    "83": ("台湾居民居住证", "Taiwan residents' residence permit"),
}
ID_NUMBER_PROVINCES: Final[frozenset[str]] = frozenset(PROVINCE_NAMES)
# A registration authority always sits on the mainland; central-level authorities register
# under the national code 100000 (e.g. 12100000400000624D).
CREDIT_CODE_PROVINCES: Final[frozenset[str]] = frozenset(
    code for code in PROVINCE_NAMES if code < "70"
)
NATIONAL_REGION_CODE: Final = "100000"

EARLIEST_BIRTH_DATE: Final = _dt.date(1900, 1, 1)
# China has no daylight-saving time, so a fixed offset is exact.
_CHINA_TIME: Final = _dt.timezone(_dt.timedelta(hours=8), "Asia/Shanghai")

# GB 11643-1999 clause 5.5 (ISO 7064 MOD 11-2): W_i = 2^(i-1) mod 11, positions counted
# from the right with the check character at position 1.
_ID_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK_CHARS: Final = "10X98765432"  # index: weighted sum mod 11
_ID_ZERO_SUM: Final = ord("0") * sum(_ID_WEIGHTS)

# GB 32100-2015: digits and upper-case letters without I, O, S, V, Z.
CREDIT_CODE_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUES: Final = {c: i for i, c in enumerate(CREDIT_CODE_ALPHABET)}
# GB 32100-2015 check character: W_i = 3^(i-1) mod 31.
_CREDIT_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))

# GB 32100-2015 Table 1 with the codes added since (外交 2, 司法行政 3, 文化 4, 旅游 6,
# 宗教 7, 工会 8, 中央军委改革和编制办公室 A, 农业 N; 民政 4 = 基层群众性自治组织).
# Maps registration-authority code -> allowed organisation-type codes.
REGISTRATION_AUTHORITIES: Final[dict[str, tuple[str, str, frozenset[str]]]] = {
    "1": ("机构编制", "institutional staffing", frozenset("1239")),
    "2": ("外交", "foreign affairs", frozenset("19")),
    "3": ("司法行政", "judicial administration", frozenset("123459")),
    "4": ("文化", "culture", frozenset("19")),
    "5": ("民政", "civil affairs", frozenset("12349")),
    "6": ("旅游", "tourism", frozenset("129")),
    "7": ("宗教", "religious affairs", frozenset("129")),
    "8": ("工会", "trade unions", frozenset("19")),
    "9": ("工商（市场监管）", "market regulation", frozenset("123")),
    "A": ("中央军委改革和编制办公室", "CMC reform and staffing office", frozenset("19")),
    "N": ("农业", "agriculture", frozenset("1239")),
    "Y": ("其他", "other", frozenset("1")),
}

# GB 11714-1997: organisation-code check character, weights 3 7 9 10 5 8 4 2.
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)


class InvalidIdentifier(ValueError):
    """A national identifier failed validation; ``reason`` says which rule it broke."""

    kind_zh: ClassVar[str] = "标识"
    kind_en: ClassVar[str] = "identifier"
    messages: ClassVar[dict[str, tuple[str, str]]] = {}

    def __init__(self, reason: str) -> None:
        zh, en = self.messages.get(reason, ("格式不正确", "is not valid"))
        self.reason: str = reason
        self.message_zh: str = f"{self.kind_zh}{zh}"
        self.message_en: str = f"The {self.kind_en} {en}"
        super().__init__(self.message_en)


class InvalidIdNumber(InvalidIdentifier):
    """A citizen ID number (GB 11643-1999) is invalid."""

    kind_zh = "公民身份号码"
    kind_en = "citizen ID number"
    messages: ClassVar[dict[str, tuple[str, str]]] = {
        "type": ("必须是文本", "must be text."),
        "length": ("应为 18 位", "must have 18 characters."),
        "charset": (
            "前 17 位应为数字，最后一位应为数字或 X",
            "must be 17 digits followed by a digit or X.",
        ),
        "region": ("的地址码（前 6 位）不正确", "has an unknown address code (first 6 digits)."),
        "birth_date": (
            "中的出生日期（第 7–14 位）不是有效日期",
            "contains an impossible birth date (digits 7-14).",
        ),
        "check_digit": (
            "校验码（最后一位）不正确，请检查是否输错",
            "has a wrong check character (last one); please check for a typo.",
        ),
    }


class InvalidCreditCode(InvalidIdentifier):
    """A unified social credit code (GB 32100-2015) is invalid."""

    kind_zh = "统一社会信用代码"
    kind_en = "unified social credit code"
    messages: ClassVar[dict[str, tuple[str, str]]] = {
        "type": ("必须是文本", "must be text."),
        "length": ("应为 18 位", "must have 18 characters."),
        "charset": (
            "只能包含数字和除 I、O、S、V、Z 以外的大写字母",
            "may contain only digits and the capital letters other than I, O, S, V and Z.",
        ),
        "registration_authority": (
            "的登记管理部门代码（第 1 位）不存在",
            "has an unknown registration-authority code (1st character).",
        ),
        "organisation_type": (
            "的机构类别代码（第 2 位）与登记管理部门不符",
            "has an organisation-type code (2nd character) its registration authority "
            "does not use.",
        ),
        "region": (
            "的登记管理机关行政区划码（第 3–8 位）不正确",
            "has an unknown region code (characters 3-8).",
        ),
        "organisation_code": (
            "的主体标识码（第 9–17 位，组织机构代码）校验不通过",
            "has an invalid subject identifier (characters 9-17, the organisation code).",
        ),
        "check_digit": (
            "校验码（最后一位）不正确，请检查是否输错",
            "has a wrong check character (last one); please check for a typo.",
        ),
    }


def _normalise(value: object, error: type[InvalidIdentifier]) -> str:
    if not isinstance(value, str):
        raise error("type")
    # NFKC folds full-width digits and letters, which Chinese input methods produce.
    return unicodedata.normalize("NFKC", value).strip().upper()


def _china_today() -> _dt.date:
    return _dt.datetime.now(_CHINA_TIME).date()


def id_number_check_char(first17: str) -> str:
    """The GB 11643-1999 (ISO 7064 MOD 11-2) check character for 17 leading digits."""
    if len(first17) != 17:
        raise InvalidIdNumber("length")
    if not (first17.isascii() and first17.isdigit()):
        raise InvalidIdNumber("charset")
    # The digits' code points minus 48 are their values (all ASCII digits, checked above).
    total = sum(map(operator.mul, first17.encode("ascii"), _ID_WEIGHTS)) - _ID_ZERO_SUM
    return _ID_CHECK_CHARS[total % 11]


def validate_id_number(value: str, *, today: _dt.date | None = None) -> str:
    """Validate a citizen ID number and return it normalised (upper-case X, no spaces).

    ``today`` (default: today's date in China) bounds the birth date from above.
    Raises :class:`InvalidIdNumber` whose ``reason`` is one of ``type``, ``length``,
    ``charset``, ``region``, ``birth_date``, ``check_digit``, checked in that order.
    """
    number = _normalise(value, InvalidIdNumber)
    if len(number) != 18:
        raise InvalidIdNumber("length")
    body, check = number[:17], number[17]
    if not (body.isascii() and body.isdigit()) or check not in "0123456789X":
        raise InvalidIdNumber("charset")
    # Only the province is checked: an ID number keeps the county code in force when it
    # was issued, and thousands of codes have been retired since, so checking against the
    # current GB/T 2260 list would reject real people.
    if number[:2] not in ID_NUMBER_PROVINCES:
        raise InvalidIdNumber("region")
    try:
        born = _dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber("birth_date") from None
    if not EARLIEST_BIRTH_DATE <= born <= (today or _china_today()):
        raise InvalidIdNumber("birth_date")
    if id_number_check_char(body) != check:
        raise InvalidIdNumber("check_digit")
    return number


def birth_date_from_id_number(value: str) -> _dt.date:
    """The birth date encoded in a *valid* ID number (validates it first)."""
    number = validate_id_number(value)
    return _dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def mask_id_number(value: str) -> str:
    """Mask an ID number for display or logs: keep the first 6 and last 4 characters.

    ``"11010519491231002X"`` becomes ``"110105********002X"``. Anything that is not 18
    characters long is masked completely, so a malformed number never leaks either.
    """
    text = unicodedata.normalize("NFKC", value).strip().upper() if isinstance(value, str) else ""
    if len(text) != 18:
        return "*" * len(text)
    return text[:6] + "*" * 8 + text[14:]


def organisation_code_check_char(first8: str) -> str:
    """The GB 11714-1997 check character of an organisation code's first 8 characters."""
    if len(first8) != 8:
        raise InvalidCreditCode("length")
    total = 0
    for char, weight in zip(first8, _ORG_WEIGHTS, strict=True):
        if char.isascii() and char.isdigit():
            total += int(char) * weight
        elif char.isascii() and char.isupper():
            total += (ord(char) - ord("A") + 10) * weight
        else:
            raise InvalidCreditCode("charset")
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_code_check_char(first17: str) -> str:
    """The GB 32100-2015 (weighted MOD 31) check character for 17 characters."""
    if len(first17) != 17:
        raise InvalidCreditCode("length")
    try:
        total = sum(_CREDIT_VALUES[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    except KeyError:
        raise InvalidCreditCode("charset") from None
    return CREDIT_CODE_ALPHABET[-total % 31]


def validate_credit_code(value: str) -> str:
    """Validate a unified social credit code and return it normalised (upper case).

    Raises :class:`InvalidCreditCode` whose ``reason`` is one of ``type``, ``length``,
    ``charset``, ``registration_authority``, ``organisation_type``, ``region``,
    ``organisation_code``, ``check_digit``, checked in that order.
    """
    code = _normalise(value, InvalidCreditCode)
    if len(code) != 18:
        raise InvalidCreditCode("length")
    if any(c not in _CREDIT_VALUES for c in code):
        raise InvalidCreditCode("charset")
    authority = REGISTRATION_AUTHORITIES.get(code[0])
    if authority is None:
        raise InvalidCreditCode("registration_authority")
    if code[1] not in authority[2]:
        raise InvalidCreditCode("organisation_type")
    region = code[2:8]
    if not region.isdigit() or (
        region[:2] not in CREDIT_CODE_PROVINCES and region != NATIONAL_REGION_CODE
    ):
        raise InvalidCreditCode("region")
    # GB 32100-2015: characters 9-17 are an organisation code whose last character is its
    # own GB 11714 check character (a digit or X).
    if organisation_code_check_char(code[8:16]) != code[16]:
        raise InvalidCreditCode("organisation_code")
    if credit_code_check_char(code[:17]) != code[17]:
        raise InvalidCreditCode("check_digit")
    return code
