"""SM4 (GB/T 32907-2016) in GCM mode (NIST SP 800-38D; RFC 8998 for SM4-GCM).

Authenticated encryption through pyca/cryptography. The blob layout is
``nonce (12 bytes) || ciphertext || tag (16 bytes)``; the nonce is random per message
(96-bit random nonces are safe for well under 2**32 messages per key).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from keys.errors import DecryptionError, InvalidKey

__all__ = ["KEY_SIZE", "NONCE_SIZE", "TAG_SIZE", "sm4_gcm_decrypt", "sm4_gcm_encrypt"]

KEY_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
        raise InvalidKey(f"SM4 key must be {KEY_SIZE} bytes")


def sm4_gcm_encrypt(key16: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """Encrypt and authenticate; return ``nonce || ciphertext || tag``."""
    _check_key(key16)
    return _encrypt_with_nonce(key16, os.urandom(NONCE_SIZE), plaintext, aad)


def _encrypt_with_nonce(key16: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    # Separate so tests can check the published RFC 8998 vector, which fixes the nonce.
    encryptor = Cipher(algorithms.SM4(bytes(key16)), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + ciphertext + encryptor.tag


def sm4_gcm_decrypt(key16: bytes, blob: bytes, aad: bytes = b"") -> bytes:
    """Check and decrypt ``nonce || ciphertext || tag``; raise ``DecryptionError``."""
    _check_key(key16)
    if len(blob) < NONCE_SIZE + TAG_SIZE:
        raise DecryptionError("SM4-GCM blob too short")
    nonce, body, tag = blob[:NONCE_SIZE], blob[NONCE_SIZE:-TAG_SIZE], blob[-TAG_SIZE:]
    decryptor = Cipher(algorithms.SM4(bytes(key16)), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag as exc:
        raise DecryptionError("SM4-GCM authentication failed") from exc
