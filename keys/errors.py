"""All exceptions raised by the commercial-cryptography package ``keys``.

Kept in one small module, after pyca/cryptography's ``exceptions`` module, so callers
can catch one family (``CryptoError``) or one precise failure. Each class carries a
short wire ``code`` that the layers above may put in problem details or logs; the
human text (``str(exc)``) is internal detail and is not meant for clients.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by ``keys``."""

    code = "crypto_error"


class InvalidSignature(CryptoError):
    """A signature does not verify (wrong key, message, signer ID, or malformed)."""

    code = "invalid_signature"


class InvalidKey(CryptoError, ValueError):
    """Key material is malformed, on the wrong curve, or otherwise unusable."""

    code = "invalid_key"


class BackendUnavailable(CryptoError):
    """No usable SM2 backend (or the one requested by the environment is unusable)."""

    code = "backend_unavailable"


class DecryptionError(CryptoError):
    """Authenticated decryption failed: wrong key, wrong AAD, or tampered ciphertext."""

    code = "decryption_failed"


class InvalidCertificate(CryptoError, ValueError):
    """Bytes are not an SM2-with-SM3 X.509 certificate over an SM2 public key."""

    code = "invalid_certificate"
