"""License claims: the CBOR map inside a license's COSE_Sign1 payload.

The normative description, with the key numbers and every limit checked here, is
docs/license-format.md, section "Claims". The map uses small integer keys (one byte
each in CBOR) because the whole license has to fit a QR code read at arm's length.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from keys.sm3 import sm3
from verify import strict_cbor
from verify.errors import MalformedLicense

# Claim keys (docs/license-format.md, table "Claims").
ISSUER = 1
LICENSE_ID = 2
TYPE_CODE = 3
HOLDER_NAME = 4
HOLDER_ID_MASKED = 5
HOLDER_ID_DIGEST = 6
HOLDER_ID_SALT = 7
FIELDS = 8
IAT = 9
NBF = 10
EXP = 11
STATUS_INDEX = 12

_REQUIRED = frozenset(range(1, 13)) - {EXP}
_KNOWN = frozenset(range(1, 13))

# Limits (docs/license-format.md, "Limits"). Times are seconds since the Unix epoch;
# 2**40 is past the year 36000, so no legitimate value is refused.
MAX_TIME = 2**40
MAX_STATUS_INDEX = 2**32 - 1
MAX_FIELDS = 64
MAX_FIELD_NAME = 64
MAX_TEXT = 1024
MAX_LIST = 64
SALT_MIN, SALT_MAX = 8, 32
DIGEST_LEN = 32

# GB 32100-2015 unified social credit codes: 18 characters of this set. The check
# character is not recomputed here: the verifier compares the claim with the signing
# certificate's code, which is the check that matters.
_CREDIT_CODE = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{18}")
_TOKEN = re.compile(r"[\x21-\x7e]{1,64}")
_TYPE_CODE = re.compile(r"[\x21-\x7e]{1,32}")
_MASKED = re.compile(r"[0-9A-Z*]{1,32}")
# Characters that would let signed text lie on a window's screen: C0 and C1 controls,
# zero-width characters and bidirectional overrides (a name shown reversed). Field
# text may contain line feeds; names may not.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_UNSAFE_FIELD_TEXT = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


def holder_digest(id_number: str, salt: bytes) -> bytes:
    """SM3(salt ‖ UTF-8(ID number)) (GB/T 32905-2016), the number normalised first.

    Normalised as keys.validators does: Unicode NFKC (full-width digits from Chinese
    input methods), surrounding white space removed, upper case (a trailing ``x``).

    A window recomputes it from the physical card to check that the holder is the
    person in front of it (docs/license-format.md, "Holder check").
    """
    number = unicodedata.normalize("NFKC", id_number).strip().upper()
    digest: bytes = sm3(salt + number.encode("utf-8"))
    return digest


@dataclass(frozen=True)
class LicenseClaims:
    """The claims of one license, as signed. Times are integer Unix seconds (UTC)."""

    issuer: str
    license_id: str
    type_code: str
    holder_name: str
    holder_id_masked: str
    holder_id_digest: bytes
    holder_id_salt: bytes
    fields: dict[str, Any] = field(default_factory=dict)
    iat: int = 0
    nbf: int = 0
    exp: int | None = None
    status_index: int = 0

    def to_cbor(self) -> bytes:
        """The deterministic CBOR encoding of these claims (checked first: never sign junk)."""
        return strict_cbor.dumps(self.to_map())

    def to_map(self) -> dict[int, Any]:
        """The claims as the integer-keyed map that is encoded, checked against the limits."""
        claims: dict[int, Any] = {
            ISSUER: self.issuer,
            LICENSE_ID: self.license_id,
            TYPE_CODE: self.type_code,
            HOLDER_NAME: self.holder_name,
            HOLDER_ID_MASKED: self.holder_id_masked,
            HOLDER_ID_DIGEST: self.holder_id_digest,
            HOLDER_ID_SALT: self.holder_id_salt,
            FIELDS: self.fields,
            IAT: self.iat,
            NBF: self.nbf,
            STATUS_INDEX: self.status_index,
        }
        if self.exp is not None:
            claims[EXP] = self.exp
        claims_from_map(claims, error=ValueError)
        return claims

    @classmethod
    def from_cbor(cls, payload: bytes) -> LicenseClaims:
        """Parse and check the payload of a license; raise MalformedLicense."""
        value = strict_cbor.loads(payload, error=MalformedLicense, max_depth=4)
        return claims_from_map(value, error=MalformedLicense)


def _fail(error: type[Exception], message: str) -> Exception:
    return error(message)


def _text(value: Any, name: str, pattern: re.Pattern[str] | None, error: type[Exception]) -> str:
    if type(value) is not str:
        raise _fail(error, f"claim {name} must be a text string")
    if pattern is not None:
        if not pattern.fullmatch(value):
            raise _fail(error, f"claim {name} has characters or a length the format forbids")
    elif not value or len(value) > 128 or _UNSAFE.search(value) or value != value.strip():
        raise _fail(error, f"claim {name} must be 1 to 128 printable characters")
    return value


def _time(value: Any, name: str, error: type[Exception]) -> int:
    if type(value) is not int or not 0 <= value < MAX_TIME:
        raise _fail(error, f"claim {name} must be an unsigned integer number of seconds")
    return value


def _scalar(value: Any, error: type[Exception]) -> Any:
    kind = type(value)
    if value is None or kind is bool:
        return value
    if kind is int:
        if not -(2**63) <= value < 2**64:
            raise _fail(error, "a field's integer is out of range")
        return value
    if kind is float:
        if not math.isfinite(value):
            raise _fail(error, "a field's number is not finite")
        return value
    if kind is str:
        if len(value) > MAX_TEXT:
            raise _fail(error, "a field's text is too long")
        if _UNSAFE_FIELD_TEXT.search(value):
            raise _fail(error, "a field's text has control or bidirectional characters")
        return value
    raise _fail(error, "a field's value has a type the format forbids")


def _fields(value: Any, error: type[Exception]) -> dict[str, Any]:
    if type(value) is not dict:
        raise _fail(error, "claim fields must be a map")
    if len(value) > MAX_FIELDS:
        raise _fail(error, "claim fields has too many entries")
    out: dict[str, Any] = {}
    for name, item in value.items():
        if type(name) is not str or not 0 < len(name) <= MAX_FIELD_NAME or _UNSAFE.search(name):
            raise _fail(error, "a field name must be 1 to 64 printable characters")
        if type(item) in (list, tuple):
            if len(item) > MAX_LIST:
                raise _fail(error, "a field's list is too long")
            out[name] = [_scalar(x, error) for x in item]
        else:
            out[name] = _scalar(item, error)
    return out


def check_content(holder_name: Any, fields: Any) -> None:
    """Check the two claims an issuer takes from its caller, the holder's name and the
    fields, against the format's limits; raise ValueError naming the limit broken.

    Lets an issuer refuse a request before it allocates or signs anything. Encoding
    checks every claim again (:meth:`LicenseClaims.to_map`).
    """
    _text(holder_name, "holder_name", None, ValueError)
    _fields(fields, ValueError)


def claims_from_map(value: Any, *, error: type[Exception]) -> LicenseClaims:
    """Check a decoded claims map against docs/license-format.md and build LicenseClaims.

    ``error`` is raised with a specific reason (MalformedLicense when decoding,
    ValueError when an encoder is handed claims it must not sign).
    """
    if type(value) is not dict:
        raise _fail(error, "claims must be a CBOR map")
    keys = set(value)
    if not keys <= _KNOWN:
        raise _fail(error, "claims contain a key the format does not define")
    if not keys >= _REQUIRED:
        raise _fail(error, "claims lack a required key")
    digest = value[HOLDER_ID_DIGEST]
    salt = value[HOLDER_ID_SALT]
    if type(digest) is not bytes or len(digest) != DIGEST_LEN:
        raise _fail(error, "claim holder_id_digest must be 32 bytes")
    if type(salt) is not bytes or not SALT_MIN <= len(salt) <= SALT_MAX:
        raise _fail(error, "claim holder_id_salt must be 8 to 32 bytes")
    index = value[STATUS_INDEX]
    if type(index) is not int or not 0 <= index <= MAX_STATUS_INDEX:
        raise _fail(error, "claim status_index must be an unsigned 32-bit integer")
    nbf = _time(value[NBF], "nbf", error)
    exp = None
    if EXP in value:
        exp = _time(value[EXP], "exp", error)
        if exp <= nbf:
            raise _fail(error, "claim exp must be later than nbf")
    return LicenseClaims(
        issuer=_text(value[ISSUER], "issuer", _CREDIT_CODE, error),
        license_id=_text(value[LICENSE_ID], "license_id", _TOKEN, error),
        type_code=_text(value[TYPE_CODE], "type_code", _TYPE_CODE, error),
        holder_name=_text(value[HOLDER_NAME], "holder_name", None, error),
        holder_id_masked=_text(value[HOLDER_ID_MASKED], "holder_id_masked", _MASKED, error),
        holder_id_digest=digest,
        holder_id_salt=salt,
        fields=_fields(value[FIELDS], error),
        iat=_time(value[IAT], "iat", error),
        nbf=nbf,
        exp=exp,
        status_index=index,
    )
