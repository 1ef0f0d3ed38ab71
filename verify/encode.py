"""The reference encoder: claims → CBOR → COSE_Sign1 → zlib if shorter → Base45 → prefix.

docs/license-format.md, section "Encoding", is normative.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

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
    return encode_many([claims], key, kid)[0]


def encode_many(claims: Sequence[LicenseClaims], key: SM2PrivateKey, kid: bytes) -> list[str]:
    """:func:`encode` for many licenses under one key, in three passes: every payload,
    then every signature, then every QR text.

    The signatures are made one after the other with nothing in between, as in a
    signing benchmark: interleaved with the Python work of each license, an SM2
    signature took half as long again (OpenSSL's code and tables fell out of the CPU
    caches in between; docs/licenses.md, "Performance"). Raises ValueError as
    :func:`encode` does, before anything is signed if a claim breaks a limit.
    """
    messages = cose.sign1_many([c.to_cbor() for c in claims], key, kid)
    return [_qr_text(message) for message in messages]


def _qr_text(message: bytes) -> str:
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
