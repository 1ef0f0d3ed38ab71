"""The database-backed key store (table ``stored_keys``) and the app's key-encryption key.

Private keys are sealed with SM4-GCM under the KEK (:mod:`keys.keystore`), bound to
their kid, purpose and algorithm, and never leave this module unsealed except as key
objects handed to the caller. The KEK comes from ``AUTHORITY_KEK`` (hex) or
``AUTHORITY_KEK_FILE``; outside development and testing the app refuses to start
without one. Development generates ``instance/kek`` (mode 0600) and warns.

One key per purpose is ``active``. :meth:`KeyStore.rotate` retires it and creates its
successor; retired keys stay *published* (JWKS, trust bundle) until
:meth:`KeyStore.unpublish` says nothing they signed is still valid. A key reported
compromised (:meth:`KeyStore.mark_compromised`) is never published again.

Purposes: ``root`` (provincial root CA), ``oidc`` (ID token signing; one per
algorithm, e.g. ``oidc:RS256``), ``department:<credit code>`` (license signing).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from authority import audit, db
from authority.config import ConfigError, Settings
from authority.models import KEY_ALGORITHMS, StoredKey
from keys.errors import InvalidKey
from keys.keystore import (
    KeyEncryptionKey,
    kid_for_public_key,
    seal_private_key,
    unseal_private_key,
)
from keys.sm2 import SM2PrivateKey

log = logging.getLogger("authority.keystore")

EXTENSION_KEY = "authority.kek"
DEV_KEK_FILE = "kek"

#: A private key object: SM2 from keys.sm2, RSA or EC from cryptography.
PrivateKey = Any
#: Given the new private key, returns its certificate PEM (for keys that need one).
Certify = Callable[[PrivateKey], bytes | str]


# ---------------------------------------------------------------- the KEK


def load_kek(settings: Settings, instance_path: str) -> tuple[KeyEncryptionKey, str]:
    """The KEK and where it came from; generated into the instance folder in development."""
    try:
        if settings.kek:
            return KeyEncryptionKey.from_hex(settings.kek), "from AUTHORITY_KEK"
        if settings.kek_file:
            kek = KeyEncryptionKey.from_file(settings.kek_file)
            return kek, f"from AUTHORITY_KEK_FILE {settings.kek_file}"
    except FileNotFoundError:
        raise ConfigError(f"AUTHORITY_KEK_FILE {settings.kek_file} does not exist") from None
    except InvalidKey as exc:
        raise ConfigError(f"the key-encryption key is unusable: {exc}") from None
    if not (settings.is_development or settings.is_testing):
        raise ConfigError(
            "a key-encryption key is required outside development: set AUTHORITY_KEK "
            "(32 hex digits) or AUTHORITY_KEK_FILE (a mode-0600 file holding them); "
            'generate one with: python -c "import secrets; print(secrets.token_hex(16))"'
        )
    path = Path(instance_path) / DEV_KEK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    source = f"development file {path}"
    try:
        KeyEncryptionKey.generate().to_file(path)
        source = f"generated development file {path} (production must set AUTHORITY_KEK)"
        log.warning(
            "development mode: generated a key-encryption key in %s; production must "
            "set AUTHORITY_KEK or AUTHORITY_KEK_FILE",
            path,
        )
    except FileExistsError:
        pass  # made earlier, or by another worker starting at the same time
    try:
        return KeyEncryptionKey.from_file(path), source
    except InvalidKey as exc:
        raise ConfigError(f"the development key-encryption key {path} is unusable: {exc}") from None


def setup_kek(app: Flask, settings: Settings) -> None:
    """Load the KEK once at start-up (fail closed: no KEK, no app)."""
    kek, source = load_kek(settings, app.instance_path)
    app.extensions[EXTENSION_KEY] = kek
    app.extensions["authority.kek_source"] = f"{source} (check value {kek.check_value})"
    log.info("key-encryption key loaded (check value %s)", kek.check_value)


# ---------------------------------------------------------------- the store


#: Unsealed private keys, by (kid, sealed blob), each with the KEK that unsealed it.
#: Unsealing and parsing a key costs about as much as a signature, and the issuing
#: paths (licenses, ID tokens) need the key on every request. Keys never change under
#: a kid; which key may sign is decided by the caller from the rows, every time.
_UNSEALED: dict[tuple[str, bytes], tuple[KeyEncryptionKey, PrivateKey]] = {}
_UNSEALED_MAX = 64
_unsealed_lock = threading.Lock()


class KeyStore:
    """Keys of one database session, sealed under one KEK."""

    def __init__(self, session: Session, kek: KeyEncryptionKey) -> None:
        self.session = session
        self._kek = kek

    # -- reading

    def get(self, kid: str) -> StoredKey:
        """The key with this kid (raises LookupError)."""
        key = self.session.execute(sa.select(StoredKey).where(StoredKey.kid == kid)).scalar()
        if key is None:
            raise LookupError(f"no stored key with kid {kid}")
        return key

    def active(self, purpose: str) -> StoredKey:
        """The active key for ``purpose`` (raises LookupError when there is none)."""
        key = self.session.execute(
            sa.select(StoredKey).where(StoredKey.purpose == purpose, StoredKey.status == "active")
        ).scalar()
        if key is None:
            raise LookupError(f"no active key for purpose {purpose!r}")
        return key

    def published(self, purpose: str) -> list[StoredKey]:
        """Keys verifiers should know: the active one first, then retired, newest first."""
        keys = self.all(purpose)
        published = [k for k in keys if k.published]
        return sorted(published, key=lambda k: (k.status != "active", -k.created_at.timestamp()))

    def all(self, purpose: str | None = None) -> list[StoredKey]:
        """Every key (of ``purpose``, or of all purposes), oldest first."""
        query = sa.select(StoredKey).order_by(StoredKey.purpose, StoredKey.created_at, StoredKey.id)
        if purpose is not None:
            query = query.where(StoredKey.purpose == purpose)
        return list(self.session.execute(query).scalars())

    def private_key(self, stored: StoredKey) -> PrivateKey:
        """Unseal ``stored``'s private key: SM2PrivateKey, or a cryptography key object.

        Kept in this process once unsealed (by this store's KEK; another KEK unseals
        again, and fails if it is the wrong one).
        """
        cache_key = (str(stored.kid), bytes(stored.sealed_private))
        cached = _UNSEALED.get(cache_key)
        if cached is not None and cached[0] is self._kek:
            return cached[1]
        der = unseal_private_key(stored.sealed_private, self._kek, aad=_aad(stored))
        key: PrivateKey
        if stored.algorithm == "SM2":
            key = SM2PrivateKey.from_der(der)
        else:
            key = serialization.load_der_private_key(der, password=None)
        with _unsealed_lock:
            if len(_UNSEALED) >= _UNSEALED_MAX:
                _UNSEALED.clear()
            _UNSEALED[cache_key] = (self._kek, key)
        return key

    # -- writing (each change is audited in the same transaction)

    def create(
        self,
        purpose: str,
        algorithm: str,
        *,
        certificate_pem: bytes | str | None = None,
        private_key: PrivateKey | None = None,
        certify: Certify | None = None,
    ) -> StoredKey:
        """Generate (or import ``private_key``) and store the active key for ``purpose``.

        ``certify(private_key)`` may return the key's certificate PEM (e.g. a root's
        self-signed certificate), or pass ``certificate_pem`` with ``private_key``.
        Raises ValueError if ``purpose`` already has an active key (use :meth:`rotate`).
        """
        if algorithm not in KEY_ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(KEY_ALGORITHMS)}")
        if not purpose or len(purpose) > 120:
            raise ValueError("purpose must be 1 to 120 characters")
        if self._has_active(purpose):
            raise ValueError(f"purpose {purpose!r} already has an active key; rotate it instead")
        key = private_key if private_key is not None else generate_private_key(algorithm)
        if certify is not None:
            certificate_pem = certify(key)
        pkcs8, spki, public_pem = _key_material(key, algorithm)
        stored = StoredKey(
            kid=kid_for_public_key(spki),
            purpose=purpose,
            algorithm=algorithm,
            public_pem=public_pem,
            certificate_pem=_text(certificate_pem),
            status="active",
            created_at=db.utcnow(),
        )
        stored.sealed_private = seal_private_key(pkcs8, self._kek, aad=_aad(stored))
        self.session.add(stored)
        self.session.flush()
        audit.record(
            self.session,
            "key.created",
            subject=stored.kid,
            details={"purpose": purpose, "algorithm": algorithm},
        )
        return stored

    def set_certificate(self, stored: StoredKey, certificate_pem: bytes | str) -> None:
        """Attach (or replace) the certificate of a stored key."""
        stored.certificate_pem = _text(certificate_pem)
        self.session.flush()
        audit.record(self.session, "key.certified", subject=stored.kid)

    def rotate(self, purpose: str, *, certify: Certify | None = None) -> StoredKey:
        """Retire the active key of ``purpose`` (still published) and create its successor."""
        current = self.session.execute(
            sa.select(StoredKey)
            .where(StoredKey.purpose == purpose, StoredKey.status == "active")
            .with_for_update()
        ).scalar()
        if current is None:
            raise LookupError(f"no active key for purpose {purpose!r} to rotate")
        current.status = "retired"
        current.retired_at = db.utcnow()
        self.session.flush()
        successor = self.create(purpose, current.algorithm, certify=certify)
        audit.record(
            self.session,
            "key.rotated",
            subject=successor.kid,
            details={"purpose": purpose, "retired": current.kid},
        )
        return successor

    def mark_compromised(self, kid: str, at: dt.datetime) -> StoredKey:
        """Record that ``kid`` was compromised at ``at``: it is no longer published or active.

        Signatures made before ``at`` may still be honoured by verifiers; later ones not.
        """
        if at.tzinfo is None:
            raise ValueError("compromise time must be an aware datetime")
        stored = self.get(kid)
        stored.status = "compromised"
        stored.compromised_at = at
        if stored.retired_at is None:
            stored.retired_at = db.utcnow()
        self.session.flush()
        audit.record(
            self.session,
            "key.compromised",
            subject=kid,
            details={"purpose": stored.purpose, "compromised_at": at.isoformat()},
        )
        return stored

    def unpublish(self, kid: str) -> StoredKey:
        """Stop publishing a retired key (nothing it signed is valid any more)."""
        stored = self.get(kid)
        if stored.status == "active":
            raise ValueError(f"key {kid} is active; rotate it before unpublishing")
        stored.unpublished_at = db.utcnow()
        self.session.flush()
        audit.record(self.session, "key.unpublished", subject=kid)
        return stored

    def _has_active(self, purpose: str) -> bool:
        return (
            self.session.execute(
                sa.select(StoredKey.id).where(
                    StoredKey.purpose == purpose, StoredKey.status == "active"
                )
            ).first()
            is not None
        )


def keystore(session: Session | None = None) -> KeyStore:
    """The key store of the current app, on ``session`` (default: the request's session)."""
    kek: KeyEncryptionKey = current_app.extensions[EXTENSION_KEY]
    return KeyStore(session if session is not None else db.session(), kek)


def generate_private_key(algorithm: str) -> PrivateKey:
    """A fresh private key for ``algorithm``: SM2, RS256 (RSA-2048) or ES256 (P-256)."""
    if algorithm == "SM2":
        return SM2PrivateKey.generate()
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"algorithm must be one of {', '.join(KEY_ALGORITHMS)}")


def _key_material(key: PrivateKey, algorithm: str) -> tuple[bytes, bytes, str]:
    """(PKCS#8 DER, SubjectPublicKeyInfo DER, public PEM) of a private key."""
    if algorithm == "SM2":
        if not isinstance(key, SM2PrivateKey):
            raise ValueError("an SM2 key must be a keys.sm2.SM2PrivateKey")
        public = key.public_key()
        return key.to_der(), public.to_der(), public.to_pem().decode("ascii")
    expected = rsa.RSAPrivateKey if algorithm == "RS256" else ec.EllipticCurvePrivateKey
    if not isinstance(key, expected):
        raise ValueError(f"a {algorithm} key must be a {expected.__name__}")
    if algorithm == "ES256" and not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("an ES256 key must be on P-256")
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pkcs8, spki, pem.decode("ascii")


def _aad(stored: StoredKey) -> bytes:
    # Binds the sealed blob to its row: a blob copied onto another kid or purpose
    # does not open.
    return f"{stored.kid}|{stored.purpose}|{stored.algorithm}".encode()


def _text(pem: bytes | str | None) -> str | None:
    if pem is None:
        return None
    return pem.decode("ascii") if isinstance(pem, bytes) else pem
