"""The trust bundle: what an offline verifier trusts, signed by the provincial root.

A COSE_Sign1 (RFC 9052, via verify/cose.py) signed with the root's SM2 key whose payload
carries the root certificate, every department signing certificate with its allowed
license types and optional ``compromised_at``, one status list per signing key,
``issued_at``, ``next_update`` and a ``sequence``. docs/trust-bundle.md is normative.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keys.errors import CryptoError
from keys.sm2 import SM2PrivateKey, SM2PublicKey
from keys.x509 import Certificate
from verify import cose, strict_cbor
from verify.errors import BundleError
from verify.status import StatusList, StatusListError

#: COSE content type (header parameter 3) of a trust bundle; licenses carry none, so a
#: bundle can never be mistaken for a license or the other way round.
CONTENT_TYPE = "application/vnd.authority.trust-bundle+cbor"
FORMAT_VERSION = 1
#: Largest bundle accepted (bytes).
MAX_BUNDLE = 64 * 1024 * 1024

# Payload keys (docs/trust-bundle.md, "Payload").
_VERSION, _ISSUED_AT, _NEXT_UPDATE, _SEQUENCE, _ROOT, _KEYS = 0, 1, 2, 3, 4, 5
# Key entry keys.
_CERT, _TYPES, _COMPROMISED_AT, _STATUS = 1, 2, 3, 4

_MAX_TIME = 2**40


@dataclass(frozen=True)
class BundleKey:
    """One department signing key as put into a bundle by :func:`build_bundle`."""

    certificate: Certificate
    compromised_at: int | None = None
    status: StatusList = field(default_factory=StatusList)


@dataclass(frozen=True)
class TrustedKey:
    """A signing key of a loaded bundle, parsed once so that verification stays cheap."""

    kid: bytes
    certificate: Certificate
    public_key: SM2PublicKey
    license_types: frozenset[str]
    credit_code: str | None
    not_before: int
    not_after: int
    compromised_at: int | None
    status: StatusList


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def build_bundle(
    root_key: SM2PrivateKey,
    root_cert: Certificate,
    keys: Sequence[BundleKey],
    *,
    issued_at: int,
    next_update: int,
    sequence: int,
) -> bytes:
    """Build and sign a trust bundle (times are Unix seconds). Raises ValueError on
    inconsistent input: a key not issued by ``root_cert``, a duplicate key, bad times."""
    if not 0 <= issued_at <= next_update < _MAX_TIME:
        raise ValueError("need 0 <= issued_at <= next_update")
    if not 0 <= sequence < 2**63:
        raise ValueError("sequence must be a non-negative 63-bit integer")
    entries: list[dict[int, Any]] = []
    seen: set[bytes] = set()
    for key in keys:
        cert = key.certificate
        try:
            cert.verify_issued_by(root_cert)
        except CryptoError:
            raise ValueError(
                f"certificate {cert.subject_cn!r} was not issued by the root"
            ) from None
        if cert.kid in seen:
            raise ValueError(f"certificate {cert.subject_cn!r} appears twice")
        seen.add(cert.kid)
        entry: dict[int, Any] = {
            _CERT: cert.der,
            _TYPES: list(cert.license_types),
            _STATUS: key.status.to_bytes(),
        }
        if key.compromised_at is not None:
            entry[_COMPROMISED_AT] = int(key.compromised_at)
        entries.append(entry)
    payload = strict_cbor.dumps(
        {
            _VERSION: FORMAT_VERSION,
            _ISSUED_AT: int(issued_at),
            _NEXT_UPDATE: int(next_update),
            _SEQUENCE: int(sequence),
            _ROOT: root_cert.der,
            _KEYS: entries,
        }
    )
    return cose.sign1(payload, root_key, root_cert.kid, content_type=CONTENT_TYPE)


def _uint(value: Any, name: str, limit: int = _MAX_TIME) -> int:
    if type(value) is not int or not 0 <= value < limit:
        raise BundleError(f"bundle {name} must be an unsigned integer")
    return value


def _certificate(der: Any, what: str) -> Certificate:
    if type(der) is not bytes:
        raise BundleError(f"{what} must be a DER byte string")
    try:
        return Certificate.from_der(der)
    except Exception:
        # Certificate parsing is a library's business; any failure means a bad bundle.
        raise BundleError(f"{what} is not a valid certificate") from None


class TrustBundle:
    """A trust bundle whose signature, root pin and certificate chain have been checked.

    Build it with :meth:`load`; ``keys`` maps each signing key's kid to a TrustedKey.
    """

    def __init__(
        self,
        *,
        data: bytes,
        root: Certificate,
        keys: Mapping[bytes, TrustedKey],
        issued_at: int,
        next_update: int,
        sequence: int,
    ) -> None:
        self.data = data
        self.root = root
        self.root_fingerprint = root.fingerprint()
        self.keys = dict(keys)
        self.issued_at = issued_at
        self.next_update = next_update
        self.sequence = sequence

    @classmethod
    def load(cls, data: bytes, *, pinned_root: bytes | None = None) -> TrustBundle:
        """Parse and check a bundle; raise BundleError if anything is wrong.

        Checks: the COSE_Sign1 structure and content type; the signature against the
        root certificate inside; that root's SM3 fingerprint against ``pinned_root``
        (when given); that the root is a self-signed CA; that every department
        certificate was issued by it and lists the type codes the entry claims.
        """
        try:
            return cls._load(data, pinned_root)
        except BundleError:
            raise
        except Exception:
            raise BundleError("the trust bundle could not be read") from None

    @classmethod
    def _load(cls, data: bytes, pinned_root: bytes | None) -> TrustBundle:
        if type(data) is not bytes:
            raise BundleError("the trust bundle must be bytes")
        if len(data) > MAX_BUNDLE:
            raise BundleError("the trust bundle is larger than 64 MiB")
        message = cose.parse_sign1(data, error=BundleError, content_type=CONTENT_TYPE)
        payload = strict_cbor.loads(message.payload, error=BundleError, max_depth=4)
        if type(payload) is not dict or set(payload) != {0, 1, 2, 3, 4, 5}:
            raise BundleError("bundle payload must be a map of exactly keys 0 to 5")
        if payload[_VERSION] != FORMAT_VERSION or type(payload[_VERSION]) is not int:
            raise BundleError("unsupported bundle format version")
        root = _certificate(payload[_ROOT], "root certificate")
        fingerprint = root.fingerprint()
        if pinned_root is not None and not hmac.compare_digest(fingerprint, pinned_root):
            raise BundleError("the bundle's root is not the pinned root")
        if message.kid != root.kid:
            raise BundleError("the bundle's kid is not the root certificate's")
        cose.verify_or_raise(message, root.public_key(), BundleError)
        if not root.is_ca:
            raise BundleError("the root certificate is not a CA")
        try:
            root.verify_issued_by(root)
        except CryptoError:
            raise BundleError("the root certificate is not self-signed") from None
        issued_at = _uint(payload[_ISSUED_AT], "issued_at")
        next_update = _uint(payload[_NEXT_UPDATE], "next_update")
        sequence = _uint(payload[_SEQUENCE], "sequence", 2**63)
        if next_update < issued_at:
            raise BundleError("bundle next_update is before issued_at")
        entries = payload[_KEYS]
        if type(entries) is not list:
            raise BundleError("bundle keys must be an array")
        keys: dict[bytes, TrustedKey] = {}
        for entry in entries:
            key = _trusted_key(entry, root)
            if key.kid in keys:
                raise BundleError("a signing certificate appears twice in the bundle")
            keys[key.kid] = key
        return cls(
            data=data,
            root=root,
            keys=keys,
            issued_at=issued_at,
            next_update=next_update,
            sequence=sequence,
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (no status bits): for a readable view of the bundle."""
        return {
            "format": FORMAT_VERSION,
            "sequence": self.sequence,
            "issued_at": self.issued_at,
            "next_update": self.next_update,
            "root": {
                "subject": self.root.subject_cn,
                "fingerprint_sm3": self.root_fingerprint.hex(),
            },
            "keys": [
                {
                    "kid": key.kid.hex(),
                    "subject": key.certificate.subject_cn,
                    "credit_code": key.credit_code,
                    "license_types": sorted(key.license_types),
                    "not_before": key.not_before,
                    "not_after": key.not_after,
                    "compromised_at": key.compromised_at,
                    "status_list_size": len(key.status),
                }
                for key in self.keys.values()
            ],
        }


def _trusted_key(entry: Any, root: Certificate) -> TrustedKey:
    if type(entry) is not dict or not {_CERT, _TYPES, _STATUS} <= set(entry) <= {1, 2, 3, 4}:
        raise BundleError("a bundle key entry has missing or unknown keys")
    cert = _certificate(entry[_CERT], "a signing certificate")
    try:
        cert.verify_issued_by(root)
    except CryptoError:
        raise BundleError("a signing certificate was not issued by the bundle's root") from None
    types = entry[_TYPES]
    if type(types) is not list or not all(type(t) is str for t in types):
        raise BundleError("a key entry's license types must be an array of text")
    if sorted(types) != sorted(cert.license_types):
        raise BundleError("a key entry's license types differ from its certificate's")
    compromised_at = None
    if _COMPROMISED_AT in entry:
        compromised_at = _uint(entry[_COMPROMISED_AT], "compromised_at")
    if type(entry[_STATUS]) is not bytes:
        raise BundleError("a key entry's status list must be a byte string")
    try:
        status = StatusList.from_bytes(entry[_STATUS])
    except StatusListError as exc:
        raise BundleError(f"a key entry's status list is unusable: {exc}") from None
    return TrustedKey(
        kid=cert.kid,
        certificate=cert,
        public_key=cert.public_key(),
        license_types=frozenset(cert.license_types),
        credit_code=cert.credit_code,
        not_before=_seconds(cert.not_before),
        not_after=_seconds(cert.not_after),
        compromised_at=compromised_at,
        status=status,
    )
