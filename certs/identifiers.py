"""License identifiers in the national structure (GB/T 36904-2018 style) and ISO 7064.

GB/T 36904-2018 (电子证照 标识规范) builds a license identifier from the license type
code, the issuing body's unified social credit code, a serial number, a version and a
check character. We write it as five hyphen-separated parts::

    BIZLIC01-91350100M000100Y43-0000000042-01-7
    ^type     ^issuer credit code  ^serial  ^ver ^check

- type: the catalogue code, 6–12 characters ``[A-Z0-9]``, starting with a letter;
- issuer: the department's 18-character unified social credit code (GB 32100-2015);
- serial: 10 decimal digits, allocated per (type, issuer) without duplicates;
- version: 2 decimal digits, 01 for a first issue, +1 for each superseding version;
- check: ISO/IEC 7064:2003 MOD 37,36 (hybrid system, clause 7.2) computed over the
  other four parts concatenated without hyphens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The alphabet of ISO/IEC 7064 MOD 37,36: the digits, then the 26 Latin capitals.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MOD = len(ALPHABET)  # 36

_ISSUER_RE = re.compile(r"[0-9A-Z]{18}")
TYPE_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]{5,11}$")
IDENTIFIER_RE = re.compile(
    r"^(?P<type>[A-Z][A-Z0-9]{5,11})-(?P<issuer>[0-9A-Z]{18})-(?P<serial>[0-9]{10})"
    r"-(?P<version>[0-9]{2})-(?P<check>[0-9A-Z])$"
)
MAX_SERIAL = 10**10 - 1
MAX_VERSION = 99


class InvalidIdentifier(ValueError):
    """A license identifier that does not follow the layout or fails its check character."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# The check is a walk through the 37 values of P, one step per character: this table
# holds, for each P and character value, the next P (so the loop does one lookup).
_INVALID = 0xFF
_VALUES = bytes(ALPHABET.find(chr(b)) if chr(b) in ALPHABET else _INVALID for b in range(256))
_NEXT = tuple(
    2 * ((p + v) % _MOD or _MOD) % (_MOD + 1) for p in range(_MOD + 1) for v in range(_MOD)
)


def mod37_36_check(data: str) -> str:
    """The ISO/IEC 7064 MOD 37,36 check character for ``data`` (characters 0-9, A-Z).

    Hybrid system with M = 36 (ISO/IEC 7064:2003, clause 7.2): starting from P = M,
    for each character S = (P + value) mod M (0 becomes M) and P = 2·S mod (M + 1);
    the check character makes the final S equal to 1.
    """
    values = data.encode("utf-8").translate(_VALUES)  # non-ASCII bytes are all invalid
    if _INVALID in values:
        char = next(c for c in data if c not in ALPHABET)
        raise ValueError(f"character {char!r} is not in the MOD 37,36 alphabet")
    p = _MOD
    for value in values:
        p = _NEXT[p * _MOD + value]
    return ALPHABET[(_MOD + 1 - p) % _MOD]


def mod37_36_valid(data_with_check: str) -> bool:
    """Whether the last character of ``data_with_check`` is its correct check character."""
    if len(data_with_check) < 2:
        return False
    try:
        return mod37_36_check(data_with_check[:-1]) == data_with_check[-1]
    except ValueError:
        return False


def valid_type_code(code: str) -> bool:
    """Whether ``code`` is a well-formed catalogue type code."""
    return bool(TYPE_CODE_RE.match(code))


@dataclass(frozen=True)
class LicenseIdentifier:
    """The parts of a license identifier; ``str()`` gives its canonical text."""

    type_code: str
    issuer: str
    serial: int
    version: int

    def __post_init__(self) -> None:
        if not valid_type_code(self.type_code):
            raise InvalidIdentifier("type_code")
        if not _ISSUER_RE.fullmatch(self.issuer):
            raise InvalidIdentifier("issuer")
        if not 1 <= self.serial <= MAX_SERIAL:
            raise InvalidIdentifier("serial")
        if not 1 <= self.version <= MAX_VERSION:
            raise InvalidIdentifier("version")

    @property
    def body(self) -> str:
        return f"{self.type_code}{self.issuer}{self.serial:010d}{self.version:02d}"

    @property
    def check(self) -> str:
        return mod37_36_check(self.body)

    def __str__(self) -> str:
        return f"{self.type_code}-{self.issuer}-{self.serial:010d}-{self.version:02d}-{self.check}"

    def next_version(self) -> LicenseIdentifier:
        """The identifier of the superseding version (same serial, version + 1)."""
        return LicenseIdentifier(self.type_code, self.issuer, self.serial, self.version + 1)

    @classmethod
    def parse(cls, text: str) -> LicenseIdentifier:
        """Parse and check an identifier; raises :class:`InvalidIdentifier` with a reason."""
        match = IDENTIFIER_RE.match(text)
        if match is None:
            raise InvalidIdentifier("layout")
        ident = cls(match["type"], match["issuer"], int(match["serial"]), int(match["version"]))
        if ident.check != match["check"]:
            raise InvalidIdentifier("check_character")
        return ident
