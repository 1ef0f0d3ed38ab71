"""Reading a license's QR text: prefix → Base45 → bounded zlib → COSE_Sign1 → claims.

docs/license-format.md, section "Decoding", is normative. Every failure raises
MalformedLicense with a specific reason; nothing else escapes :func:`decode`.
"""

from __future__ import annotations

from verify import cose
from verify.claims import LicenseClaims
from verify.errors import MalformedLicense
from verify.inflate import InflateError, inflate
from verify.license import MAX_COSE, MAX_TEXT, PREFIX_PLAIN, PREFIX_ZLIB, License
from verify.rfc9285 import b45decode

# Scanners and copy-paste add line ends; a space is part of the Base45 alphabet, so
# only these are trimmed.
_TRIM = "\r\n\t"


def decode(text: str) -> License:
    """Parse QR text into a License (signature not yet checked); raise MalformedLicense."""
    try:
        return _decode(text)
    except MalformedLicense:
        raise
    except Exception:
        # Defence in depth: the steps above are written to raise MalformedLicense only;
        # should any library raise something else on hostile input, it is still malformed.
        raise MalformedLicense("the QR text could not be read") from None


def _decode(text: str) -> License:
    if type(text) is not str:
        raise MalformedLicense("the QR text must be a string")
    text = text.strip(_TRIM)
    if len(text) > MAX_TEXT:
        raise MalformedLicense("the QR text is longer than any QR code holds")
    if text.startswith(PREFIX_ZLIB):
        message = _inflate(b45decode(text[len(PREFIX_ZLIB) :]))
        compressed = True
    elif text.startswith(PREFIX_PLAIN):
        message = b45decode(text[len(PREFIX_PLAIN) :])
        compressed = False
    else:
        raise MalformedLicense("the QR text does not start with LC1: or LC1Z:")
    sign1 = cose.parse_sign1(message, error=MalformedLicense)
    return License(
        claims=LicenseClaims.from_cbor(sign1.payload),
        kid=sign1.kid,
        protected=sign1.protected,
        signature=sign1.signature,
        signed_bytes=sign1.to_be_signed,
        compressed=compressed,
    )


def _inflate(data: bytes) -> bytes:
    """RFC 1950 zlib stream → bytes, refusing more than MAX_COSE bytes of output."""
    try:
        return inflate(data, MAX_COSE)
    except InflateError as exc:
        raise MalformedLicense(str(exc)) from None
