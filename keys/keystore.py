"""Key custody without a database: the key-encryption key (KEK) and sealed private keys.

- GB/T 32907-2016 (SM4 block cipher) in Galois/Counter Mode (NIST SP 800-38D, as
  AEAD_SM4_GCM of RFC 8998: 96-bit nonce, 128-bit tag; via ``keys.sm4``) seals PKCS#8
  private keys at rest under a 128-bit KEK.
- GB/T 32905-2016 (SM3) names public keys: ``kid_for_public_key``.
- RFC 5869 (HKDF) with HMAC-SM3 derives purpose-specific keys from the KEK, so the KEK
  itself only ever seals keys.

The database-backed store (table ``stored_keys``, rotation, retirement) lives in
``authority/keystore.py`` and uses only the functions here.

Sealed blob layout (version 1)::

    0x01 || nonce (12 bytes, random) || SM4-GCM ciphertext || tag (16 bytes)

The additional authenticated data is ``b"authority/sealed-key/v1\\x00" || aad``; callers
pass the key's kid and purpose as ``aad`` so that a sealed key copied onto another row
of the database does not unseal there.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import NoReturn

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys.errors import DecryptionError, InvalidKey
from keys.sm3 import hmac_sm3, sm3
from keys.sm4 import sm4_gcm_decrypt, sm4_gcm_encrypt

__all__ = [
    "SEALED_VERSION",
    "KeyEncryptionKey",
    "kid_for_public_key",
    "seal_private_key",
    "unseal_private_key",
]

KEK_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
SEALED_VERSION = 1
_AAD_PREFIX = b"authority/sealed-key/v1\x00"
_CHECK_VALUE_LABEL = b"authority/kek-check-value"


class KeyEncryptionKey:
    """A 128-bit SM4 key that seals private keys. It is never printed or pickled."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEK_BYTES:
            raise InvalidKey("a key-encryption key is exactly 16 bytes (128-bit SM4 key)")
        self._key = key

    @classmethod
    def generate(cls) -> KeyEncryptionKey:
        """A fresh random KEK from the operating system's CSPRNG."""
        return cls(secrets.token_bytes(KEK_BYTES))

    @classmethod
    def from_hex(cls, text: str) -> KeyEncryptionKey:
        """Parse 32 hexadecimal digits (surrounding whitespace ignored).

        The error message never repeats the input, which may be a real key with a typo.
        """
        cleaned = text.strip() if isinstance(text, str) else ""
        if len(cleaned) != 2 * KEK_BYTES:
            raise InvalidKey(
                f"the key-encryption key must be {2 * KEK_BYTES} hexadecimal digits "
                f"(a 128-bit SM4 key); got {len(cleaned)} characters"
            )
        try:
            key = bytes.fromhex(cleaned)
        except ValueError:
            raise InvalidKey(
                "the key-encryption key must contain only hexadecimal digits 0-9, a-f"
            ) from None
        return cls(key)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> KeyEncryptionKey:
        """Read a KEK written as hex text from a file that only its owner can read.

        Refuses a file that is readable or writable by group or others (mode & 0o077),
        because a KEK that every local user can read protects nothing.
        """
        file = Path(path)
        with file.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if mode & 0o077:
                raise InvalidKey(
                    f"refusing the key-encryption key file {file}: its mode is "
                    f"{stat.S_IMODE(mode):04o}, so other users can access it; "
                    f"run: chmod 600 {file}"
                )
            data = handle.read(4 * KEK_BYTES + 64)
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidKey(
                f"the key-encryption key file {file} must contain hexadecimal text"
            ) from None
        return cls.from_hex(text)

    def to_file(self, path: str | os.PathLike[str]) -> None:
        """Write the KEK as hex text to a new file with mode 0600 (never overwrites)."""
        file = Path(path)
        # O_EXCL: never clobber an existing KEK, whose loss would make every sealed key
        # unreadable. The mode is set at creation so the key is never world-readable.
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(self._key.hex() + "\n")

    @property
    def check_value(self) -> str:
        """A short public fingerprint (8 hex digits) telling operators which KEK is loaded."""
        return hmac_sm3(self._key, _CHECK_VALUE_LABEL)[:4].hex()

    def derive_key(self, label: str, length: int = 16) -> bytes:
        """A key for another purpose, e.g. ``derive_key("pii/sm4-gcm")``.

        HKDF (RFC 5869) with HMAC-SM3, the KEK as input keying material and the label as
        ``info``: different labels give independent keys, and none reveals the KEK.
        """
        if not label:
            raise ValueError("derive_key needs a non-empty label naming the purpose")
        hkdf = HKDF(algorithm=hashes.SM3(), length=length, salt=None, info=label.encode("utf-8"))
        return hkdf.derive(self._key)

    def __repr__(self) -> str:
        return f"KeyEncryptionKey(check_value={self.check_value})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyEncryptionKey):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self.check_value)

    def __reduce__(self) -> NoReturn:
        # Pickling would copy the key into caches, sessions or task queues.
        raise TypeError("a KeyEncryptionKey cannot be pickled")


def _full_aad(aad: bytes) -> bytes:
    if not isinstance(aad, bytes) or not aad:
        # Fail closed: an empty aad would let a sealed key be moved between rows.
        raise ValueError("aad must be non-empty bytes binding the blob to its kid/purpose")
    return _AAD_PREFIX + aad


def seal_private_key(pkcs8_der: bytes, kek: KeyEncryptionKey, *, aad: bytes) -> bytes:
    """Encrypt a PKCS#8 DER private key under the KEK with SM4-GCM (random 96-bit nonce)."""
    if not isinstance(pkcs8_der, bytes) or not pkcs8_der:
        raise ValueError("pkcs8_der must be the non-empty DER encoding of a private key")
    # keys.sm4 draws a fresh random 96-bit nonce and returns nonce || ciphertext || tag.
    return bytes([SEALED_VERSION]) + sm4_gcm_encrypt(kek._key, pkcs8_der, _full_aad(aad))


def unseal_private_key(blob: bytes, kek: KeyEncryptionKey, *, aad: bytes) -> bytes:
    """Decrypt a blob from :func:`seal_private_key`; returns the PKCS#8 DER.

    Raises :class:`keys.errors.DecryptionError` for a wrong KEK, a wrong ``aad``, a
    tampered or truncated blob, or an unknown format version.
    """
    full_aad = _full_aad(aad)
    if not isinstance(blob, bytes) or len(blob) < 1 + NONCE_BYTES + TAG_BYTES + 1:
        raise DecryptionError("sealed key is truncated")
    if blob[0] != SEALED_VERSION:
        raise DecryptionError(f"unknown sealed-key format version {blob[0]}")
    try:
        return sm4_gcm_decrypt(kek._key, blob[1:], full_aad)
    except DecryptionError:
        raise DecryptionError(
            "sealed key does not open: wrong key-encryption key, wrong kid/purpose, "
            "or the stored blob was altered"
        ) from None


def kid_for_public_key(spki_der: bytes) -> str:
    """Key identifier: hex of the first 8 bytes of SM3 over the SubjectPublicKeyInfo DER."""
    return sm3(spki_der)[:8].hex()
