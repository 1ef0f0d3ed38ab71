"""Personal data at rest: SM4-GCM encryption and keyed SM3 blind indexes.

- Encryption: SM4 in GCM mode (GB/T 32907-2016 block cipher; GCM per NIST SP 800-38D)
  through :mod:`keys.sm4`. Every value is bound to its field with the associated data
  ``"authority pii:<field>"``, so a ciphertext copied into another column fails to
  decrypt. Stored as ``version byte || nonce || ciphertext || tag``.
- Look-up: a blind index, HMAC-SM3 (GB/T 32905-2016 with RFC 2104 HMAC) of the
  normalised value under a separate key, hex-encoded. Equal values give equal indexes,
  so the database can find a person by ID number without holding it in clear text.
- Keys: both derived from the app's key-encryption key (the one that protects the key
  store) with HKDF-SM3 (RFC 5869, :meth:`keys.keystore.KeyEncryptionKey.derive_key`)
  and distinct labels, so that neither sub-key reveals the other or the KEK.

Rotating the KEK therefore means re-encrypting these columns and re-computing the
indexes (the version byte lets old and new ciphertexts coexist during that job).

Used by oidc/ (ID numbers, phone numbers, TOTP secrets, throttle keys) and certs/
(reminder e-mail addresses). The labels, the version byte and the associated-data
format are part of the stored data: changing any of them makes every existing
ciphertext and blind index unreadable (tests/authority/test_pii.py pins them).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g, has_app_context

from authority.keystore import EXTENSION_KEY as KEK_EXTENSION
from keys.keystore import KeyEncryptionKey
from keys.sm3 import hmac_sm3
from keys.sm4 import sm4_gcm_decrypt, sm4_gcm_encrypt

ENC_LABEL = "authority pii enc v1"
INDEX_LABEL = "authority pii index v1"
VERSION = b"\x01"


@dataclass(frozen=True)
class PiiKeys:
    """The two sub-keys: 16 bytes for SM4, 32 bytes for the HMAC-SM3 blind index."""

    enc: bytes
    index: bytes

    @classmethod
    def derive(cls, kek: KeyEncryptionKey) -> PiiKeys:
        return cls(enc=kek.derive_key(ENC_LABEL, 16), index=kek.derive_key(INDEX_LABEL, 32))

    def __repr__(self) -> str:  # never print key material
        return "PiiKeys(<redacted>)"


def keys_for(app: Flask) -> PiiKeys:
    """Sub-keys derived from ``app``'s key-encryption key (for jobs without an app context)."""
    kek: KeyEncryptionKey = app.extensions[KEK_EXTENSION]
    return PiiKeys.derive(kek)


def current_keys() -> PiiKeys:
    """Sub-keys derived from the current app's key-encryption key (kept per app context)."""
    cached: PiiKeys | None = g.get("_authority_pii_keys") if has_app_context() else None
    if cached is None:
        cached = keys_for(current_app)
        if has_app_context():
            g._authority_pii_keys = cached
    return cached


def _aad(field: str) -> bytes:
    return b"authority pii:" + field.encode()


def encrypt(value: str, *, field: str, keys: PiiKeys | None = None) -> bytes:
    """Encrypt ``value`` for storage in ``field``."""
    k = keys or current_keys()
    return VERSION + sm4_gcm_encrypt(k.enc, value.encode("utf-8"), _aad(field))


def decrypt(blob: bytes, *, field: str, keys: PiiKeys | None = None) -> str:
    """Decrypt a value stored by :func:`encrypt` (raises keys.errors.DecryptionError)."""
    from keys.errors import DecryptionError

    if blob[:1] != VERSION:
        raise DecryptionError("unknown personal-data ciphertext version")
    k = keys or current_keys()
    return sm4_gcm_decrypt(k.enc, bytes(blob[1:]), _aad(field)).decode("utf-8")


def blind_index(value: str, *, field: str, keys: PiiKeys | None = None) -> str:
    """The keyed SM3 index of ``value`` in ``field`` (64 hex digits)."""
    k = keys or current_keys()
    return hmac_sm3(k.index, field.encode() + b"\x00" + value.encode("utf-8")).hex()
