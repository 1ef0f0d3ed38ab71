"""The reference encoder: claims → CBOR → COSE_Sign1 → zlib if shorter → Base45 → prefix.

docs/license-format.md, section "Encoding", is normative.
"""

from __future__ import annotations

import zlib

from keys.sm2 import SM2PrivateKey
from verify import cose
from verify.claims import LicenseClaims
from verify.license import MAX_COSE, MAX_TEXT, PREFIX_PLAIN, PREFIX_ZLIB
from verify.rfc9285 import b45encode, b45length


def encode(claims: LicenseClaims, key: SM2PrivateKey, kid: bytes) -> str:
    """Sign ``claims`` with ``key`` (whose certificate has key id ``kid``) → the QR text.

    Raises ValueError if the claims break the format's limits or the result would not
    fit the largest QR code.
    """
    message = cose.sign1(claims.to_cbor(), key, kid)
    if len(message) > MAX_COSE:
        raise ValueError("license is larger than the format allows")
    packed = zlib.compress(message, 9)
    # Compression only when it makes the QR text shorter (ties stay uncompressed). The
    # Base45 length follows from the byte length, so only the chosen form is encoded.
    if len(PREFIX_ZLIB) + b45length(len(packed)) < len(PREFIX_PLAIN) + b45length(len(message)):
        text = PREFIX_ZLIB + b45encode(packed)
    else:
        text = PREFIX_PLAIN + b45encode(message)
    if len(text) > MAX_TEXT:
        raise ValueError("license does not fit the largest QR code")
    return text
