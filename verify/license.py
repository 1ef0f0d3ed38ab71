"""A decoded license and the constants of its QR text (docs/license-format.md)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from verify.claims import LicenseClaims, holder_digest

#: Version prefix of a license whose COSE_Sign1 bytes are Base45-encoded as they are.
PREFIX_PLAIN = "LC1:"
#: Version prefix of a license whose COSE_Sign1 bytes were zlib-compressed first.
PREFIX_ZLIB = "LC1Z:"

#: Longest QR text accepted: the alphanumeric capacity of the largest QR code
#: (version 40, error correction L, ISO/IEC 18004:2015 table 7).
MAX_TEXT = 4296
#: Largest COSE_Sign1 accepted after decompression (the zip-bomb guard).
MAX_COSE = 64 * 1024


@dataclass(frozen=True)
class License:
    """A license as read from its QR text, not yet verified.

    ``signed_bytes`` is the COSE Sig_structure the SM2 signature covers; ``protected``
    the serialized protected header; ``compressed`` whether the text used zlib.
    """

    claims: LicenseClaims
    kid: bytes
    protected: bytes
    signature: bytes
    signed_bytes: bytes
    compressed: bool

    def matches_holder(self, id_number: str) -> bool:
        """Whether ``id_number`` (read from the holder's card) is the one the license names."""
        expected = self.claims.holder_id_digest
        return hmac.compare_digest(holder_digest(id_number, self.claims.holder_id_salt), expected)
