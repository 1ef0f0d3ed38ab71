"""SM3 hash (GB/T 32905-2016) and HMAC-SM3 (RFC 2104 / GB/T 15852.2 with SM3).

Both through pyca/cryptography, which implements SM3 in its bundled OpenSSL.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac

__all__ = ["DIGEST_SIZE", "hmac_sm3", "sm3"]

DIGEST_SIZE = 32


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of ``data`` (GB/T 32905-2016 clause 5)."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """The 32-byte HMAC-SM3 of ``data`` under ``key`` (RFC 2104 construction)."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()
