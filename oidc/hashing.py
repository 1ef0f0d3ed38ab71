"""Digests of bearer secrets (client secrets, tokens, codes) as stored in the database.

Every secret we hand out is 256 bits from :func:`secrets.token_urlsafe`, so a fast
digest is enough: there is nothing to brute-force, and a slow password hash would only
cost throughput. The digest is SM3 (GB/T 32905-2016) through OpenSSL's hashlib, kept
as lowercase hex; look-ups go by digest, so a comparison never touches the secret
itself, and the one place that compares two digests uses :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: Bytes of randomness in every secret we issue (RFC 9700 §4.1: unguessable).
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh 256-bit secret, URL-safe Base64 without padding (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    """SM3 of the secret's UTF-8 bytes, as 64 hex digits."""
    return hashlib.new("sm3", secret.encode("utf-8")).hexdigest()


def matches(secret: str, stored_digest: str | None) -> bool:
    """Whether ``secret`` hashes to ``stored_digest``, compared in constant time."""
    if not stored_digest:
        return False
    return hmac.compare_digest(digest(secret), stored_digest)
