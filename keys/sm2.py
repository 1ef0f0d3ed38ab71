"""SM2 digital signatures: GB/T 32918.2-2016 with SM3, signer ID per GM/T 0009-2012.

- Signature: GB/T 32918.2-2016 clause 6 (generation) and clause 7 (verification), over
  e = SM3(Z || M) where Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)
  (clause 5.5). The default ID is ``1234567812345678`` (GM/T 0009-2012 clause 10).
- Curve: the recommended 256-bit curve of GB/T 32918.5-2017, OID 1.2.156.10197.1.301.
- Keys: PKCS#8 PrivateKeyInfo (RFC 5208) and SubjectPublicKeyInfo (RFC 5480) with
  id-ecPublicKey and the SM2 curve OID, as DER or PEM, byte-compatible with OpenSSL.
- Signature encodings: DER ``SEQUENCE {r INTEGER, s INTEGER}`` (the SM2Signature
  structure of GM/T 0009-2012, used inside X.509) and raw ``r || s``, 32 bytes each
  (used inside COSE).

Two interchangeable backends do the arithmetic: OpenSSL 3's libcrypto through ctypes
(``keys._sm2_openssl``) and the pure-Python ``gmalg`` package (``keys._sm2_python``).
The process-wide default is chosen once: ``AUTHORITY_SM2_BACKEND=openssl|python`` if
set, else OpenSSL if it loads and passes a known-answer self-test, else Python.
"""

from __future__ import annotations

import binascii
import importlib
import logging
import os
import re
import threading
from typing import Protocol, TypeVar

from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys

from keys.errors import BackendUnavailable, InvalidKey, InvalidSignature

__all__ = [
    "BACKENDS",
    "CURVE_OID",
    "DEFAULT_ID",
    "SM2PrivateKey",
    "SM2PublicKey",
    "backend_name",
    "der_to_raw",
    "raw_to_der",
]

log = logging.getLogger(__name__)

DEFAULT_ID = b"1234567812345678"
CURVE_OID = "1.2.156.10197.1.301"
BACKENDS = ("openssl", "python")
BACKEND_ENV = "AUTHORITY_SM2_BACKEND"

# GB/T 32918.5-2017: the recommended curve y^2 = x^3 + ax + b over F_p.
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

# OpenSSL refuses IDs of 8191 bytes or more; ENTL (clause 5.5) is the ID's length in
# bits as two bytes. Both backends enforce the same limit.
MAX_ID_LENGTH = 8190


# --------------------------------------------------------------------------- encodings


def _der_integer(value: int) -> bytes:
    # Minimal two's-complement encoding of a non-negative integer: one leading zero
    # byte only when the top bit would otherwise be set.
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")
    return b"\x02" + bytes([len(body)]) + body


def _check_scalar(value: int, name: str) -> None:
    if not 1 <= value < N:
        raise InvalidSignature(f"signature {name} out of range [1, n-1]")


def raw_to_der(sig: bytes) -> bytes:
    """Convert a raw 64-byte ``r || s`` signature to DER ``SEQUENCE {r, s}``.

    Raises ``InvalidSignature`` if ``sig`` is not 64 bytes or r or s is not in [1, n-1].
    """
    if len(sig) != 64:
        raise InvalidSignature(f"raw SM2 signature must be 64 bytes, got {len(sig)}")
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:], "big")
    _check_scalar(r, "r")
    _check_scalar(s, "s")
    body = _der_integer(r) + _der_integer(s)
    return b"\x30" + bytes([len(body)]) + body


def _read_integer(data: bytes, offset: int) -> tuple[int, int]:
    """Parse one DER INTEGER at ``offset``; return (value, next offset)."""
    if offset + 2 > len(data) or data[offset] != 0x02:
        raise InvalidSignature("malformed DER signature: INTEGER expected")
    length = data[offset + 1]
    # A valid r or s needs at most 33 bytes, so any long-form length is non-minimal.
    if length == 0 or length > 33:
        raise InvalidSignature("malformed DER signature: bad INTEGER length")
    body = data[offset + 2 : offset + 2 + length]
    if len(body) != length:
        raise InvalidSignature("malformed DER signature: truncated INTEGER")
    if body[0] & 0x80:
        raise InvalidSignature("malformed DER signature: negative INTEGER")
    if length > 1 and body[0] == 0 and not body[1] & 0x80:
        raise InvalidSignature("malformed DER signature: non-minimal INTEGER")
    return int.from_bytes(body, "big"), offset + 2 + length


def _parse_der(sig: bytes) -> tuple[int, int]:
    # Strict DER (X.690 clause 10): short-form lengths only (the largest valid
    # signature is 72 bytes), minimal INTEGERs, nothing after the SEQUENCE.
    if len(sig) < 8 or sig[0] != 0x30:
        raise InvalidSignature("malformed DER signature: SEQUENCE expected")
    if sig[1] & 0x80 or sig[1] != len(sig) - 2:
        raise InvalidSignature("malformed DER signature: bad SEQUENCE length")
    r, offset = _read_integer(sig, 2)
    s, offset = _read_integer(sig, offset)
    if offset != len(sig):
        raise InvalidSignature("malformed DER signature: trailing data")
    _check_scalar(r, "r")
    _check_scalar(s, "s")
    return r, s


def der_to_raw(sig: bytes) -> bytes:
    """Convert a DER ``SEQUENCE {r, s}`` signature to raw 64-byte ``r || s``.

    Only strict DER is accepted; anything else (BER lengths, non-minimal or negative
    integers, trailing bytes, r or s outside [1, n-1]) raises ``InvalidSignature``.
    """
    r, s = _parse_der(bytes(sig))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END ([A-Z0-9 ]+)-----", re.DOTALL)


def _pem_decode(data: bytes | str, label: str) -> bytes:
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    match = _PEM.search(data)
    if match is None:
        raise InvalidKey(f"no complete PEM block '{label}' (truncated or not PEM)")
    if match.group(1) != match.group(3):
        raise InvalidKey("PEM BEGIN and END labels differ")
    found = match.group(1).decode()
    if found != label:
        raise InvalidKey(f"expected PEM '{label}', found '{found}'")
    if data[match.end() :].strip() or data[: match.start()].strip():
        raise InvalidKey("unexpected data around the PEM block")
    body = b"".join(line.strip() for line in match.group(2).splitlines())
    try:
        return binascii.a2b_base64(body, strict_mode=True)
    except binascii.Error as exc:
        raise InvalidKey(f"bad base64 in PEM '{label}': {exc}") from exc


def _pem_encode(der: bytes, label: str) -> bytes:
    text = binascii.b2a_base64(der, newline=False)
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return b"\n".join(
        [f"-----BEGIN {label}-----".encode(), *lines, f"-----END {label}-----".encode(), b""]
    )


# Key formats: RFC 5208 PrivateKeyInfo holding an RFC 5915 ECPrivateKey, and RFC 5480
# SubjectPublicKeyInfo; algorithm id-ecPublicKey with the SM2 curve as namedCurve.
# Both backends read keys through parse_private_der/parse_public_der, so they accept
# exactly the same inputs.
_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
# DER is canonical, so the usual encodings are fixed byte strings around d and the
# point: recognising them skips asn1crypto (about 0.3 ms) on the common path. Anything
# else takes the full parse, which also produces the specific error messages.
SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
PKCS8_PREFIX = bytes.fromhex(
    "308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420"
)
PKCS8_PUBLIC_TAG = bytes.fromhex("a144034200")
# asn1crypto needs the curve's key size to encode an ECPrivateKey; registering is
# idempotent and is asn1crypto's documented way to add a named curve.
asn1_keys.NamedCurve.register("sm2", CURVE_OID, 32)

_Algorithm = TypeVar("_Algorithm", asn1_keys.PublicKeyAlgorithm, asn1_keys.PrivateKeyAlgorithm)


def _algorithm(kind: type[_Algorithm]) -> _Algorithm:
    parameters = asn1_keys.ECDomainParameters("named", CURVE_OID)
    return kind({"algorithm": "ec", "parameters": parameters})


def _check_algorithm(
    algorithm: asn1_keys.PublicKeyAlgorithm | asn1_keys.PrivateKeyAlgorithm, what: str
) -> None:
    if algorithm["algorithm"].dotted != _EC_PUBLIC_KEY:
        raise InvalidKey(f"{what}: algorithm is not id-ecPublicKey")
    parameters = algorithm["parameters"]
    if parameters.name != "named" or parameters.chosen.dotted != CURVE_OID:
        raise InvalidKey(f"{what}: curve is not SM2 ({CURVE_OID})")


def check_point(point: bytes, what: str = "invalid SM2 public key") -> tuple[int, int]:
    """Check an encoded public point; return its affine coordinates (x, y)."""
    if len(point) != 65 or point[0] != 4:
        raise InvalidKey(f"{what}: only uncompressed points (04||x||y) are supported")
    x = int.from_bytes(point[1:33], "big")
    y = int.from_bytes(point[33:], "big")
    # SM2's cofactor is 1: a point with coordinates in F_p that satisfies the curve
    # equation is in the prime-order group (and 04||x||y cannot encode infinity).
    if x >= P or y >= P or (y * y - (x * x * x + A * x + B)) % P != 0:
        raise InvalidKey(f"{what}: public point is not on the SM2 curve")
    return x, y


def encode_public_der(point: bytes) -> bytes:
    """SubjectPublicKeyInfo DER for an uncompressed point."""
    info = asn1_keys.PublicKeyInfo(
        {
            "algorithm": _algorithm(asn1_keys.PublicKeyAlgorithm),
            "public_key": asn1_keys.ECPointBitString(point),
        }
    )
    return bytes(info.dump())


def encode_private_der(d: int, point: bytes) -> bytes:
    """PKCS#8 DER, laid out as OpenSSL writes it (no [0] parameters, [1] public key)."""
    private = asn1_keys.ECPrivateKey(
        {
            "version": "ecPrivkeyVer1",
            "private_key": d,
            "public_key": asn1_keys.ECPointBitString(point),
        }
    )
    info = asn1_keys.PrivateKeyInfo(
        {
            "version": 0,
            "private_key_algorithm": _algorithm(asn1_keys.PrivateKeyAlgorithm),
            "private_key": private,
        }
    )
    return bytes(info.dump())


def parse_public_der(der: bytes) -> bytes:
    """Validate a DER SubjectPublicKeyInfo for SM2; return the 65-byte point."""
    what = "invalid SM2 public key"
    if len(der) == 91 and der.startswith(SPKI_PREFIX):
        point = der[26:]
        check_point(point, what)
        return point
    try:
        info = asn1_keys.PublicKeyInfo.load(der, strict=True)
        _check_algorithm(info["algorithm"], what)
        point = bytes(info["public_key"].native)
        canonical = info.dump(force=True) == der
    except InvalidKey:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidKey(f"{what}: {exc}") from exc
    check_point(point, what)
    if not canonical:
        raise InvalidKey(f"{what}: not in DER")
    return point


def parse_private_der(der: bytes) -> tuple[int, bytes | None]:
    """Validate DER PKCS#8 for SM2; return (d, the stored public point or None).

    Accepts exactly DER with PKCS#8 version 0, ECPrivateKey version 1, the SM2 curve
    (in the AlgorithmIdentifier and, if present, in the ECPrivateKey parameters), and
    1 <= d <= n - 2 (GB/T 32918.1-2016 clause 6.1). Whether a stored public point
    matches d is checked by each backend.
    """
    what = "invalid SM2 private key"
    if len(der) == 138 and der.startswith(PKCS8_PREFIX) and der[68:73] == PKCS8_PUBLIC_TAG:
        d = int.from_bytes(der[36:68], "big")
        if not 1 <= d <= N - 2:
            raise InvalidKey(f"{what}: private scalar out of range [1, n-2]")
        stored = der[73:]
        check_point(stored, what)
        return d, stored
    try:
        info = asn1_keys.PrivateKeyInfo.load(der, strict=True)
        if info["version"].native != 0:
            raise InvalidKey(f"{what}: unsupported PKCS#8 version")
        _check_algorithm(info["private_key_algorithm"], what)
        private = info["private_key"].parsed
        if not isinstance(private, asn1_keys.ECPrivateKey):
            raise InvalidKey(f"{what}: not an ECPrivateKey")
        if private["version"].native != "ecPrivkeyVer1":
            raise InvalidKey(f"{what}: unsupported ECPrivateKey version")
        d = private["private_key"].native
        parameters = private["parameters"]
        if not isinstance(parameters, asn1_core.Void) and (
            parameters.name != "named" or parameters.chosen.dotted != CURVE_OID
        ):
            raise InvalidKey(f"{what}: ECPrivateKey names another curve")
        public = private["public_key"]
        point = None if isinstance(public, asn1_core.Void) else bytes(public.native)
        # Re-encoding catches BER, unknown fields and anything asn1crypto skipped.
        canonical = info.dump(force=True) == der
    except InvalidKey:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidKey(f"{what}: {exc}") from exc
    if not canonical:
        raise InvalidKey(f"{what}: not in DER or has unknown fields")
    if not isinstance(d, int) or not 1 <= d <= N - 2:
        raise InvalidKey(f"{what}: private scalar out of range [1, n-2]")
    if point is not None:
        check_point(point, what)
    return d, point


def _as_bytes(value: object, name: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{name} must be bytes, not {type(value).__name__}")


def _signer_id(value: object) -> bytes:
    signer_id = _as_bytes(value, "signer_id")
    if len(signer_id) > MAX_ID_LENGTH:
        raise ValueError(f"signer ID longer than {MAX_ID_LENGTH} bytes")
    return signer_id


# ---------------------------------------------------------------------------- backends


class _PublicImpl(Protocol):
    def to_der(self) -> bytes: ...
    def point(self) -> bytes: ...
    def verify(self, signature_der: bytes, message: bytes, signer_id: bytes) -> None: ...


class _PrivateImpl(Protocol):
    def to_der(self) -> bytes: ...
    def public_key(self) -> _PublicImpl: ...
    def sign(self, message: bytes, signer_id: bytes) -> bytes: ...


class _Backend(Protocol):
    NAME: str

    def generate(self) -> _PrivateImpl: ...
    def load_private_der(self, der: bytes) -> _PrivateImpl: ...
    def load_public_der(self, der: bytes) -> _PublicImpl: ...
    def private_from_scalar(self, d: int) -> _PrivateImpl: ...
    def public_from_point(self, point: bytes) -> _PublicImpl: ...


# GB/T 32918.5-2017 Annex A: the signature example on the recommended curve, used as
# the known-answer self-test of every backend before it is used.
_KAT_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
_KAT_POINT = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
_KAT_SIGNATURE = bytes.fromhex(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)
_KAT_MESSAGE = b"message digest"

_lock = threading.Lock()
_loaded: dict[str, _Backend] = {}
_default: _Backend | None = None


def _self_test(backend: _Backend) -> None:
    public = backend.public_from_point(_KAT_POINT)
    public.verify(raw_to_der(_KAT_SIGNATURE), _KAT_MESSAGE, DEFAULT_ID)
    try:
        public.verify(raw_to_der(_KAT_SIGNATURE), b"message digesT", DEFAULT_ID)
    except InvalidSignature:
        pass
    else:
        raise BackendUnavailable("self-test: a tampered message verified")
    private = backend.private_from_scalar(_KAT_D)
    if private.public_key().point() != _KAT_POINT:
        raise BackendUnavailable("self-test: wrong public key for the Annex A scalar")
    public.verify(private.sign(_KAT_MESSAGE, DEFAULT_ID), _KAT_MESSAGE, DEFAULT_ID)


def _backend(name: str) -> _Backend:
    """The named backend, imported and self-tested once per process."""
    if name not in BACKENDS:
        raise BackendUnavailable(f"unknown SM2 backend {name!r} (choose openssl or python)")
    with _lock:
        if name not in _loaded:
            try:
                module: _Backend = importlib.import_module(f"keys._sm2_{name}")
                _self_test(module)
            except BackendUnavailable:
                raise
            except Exception as exc:  # any failure makes the backend unusable
                raise BackendUnavailable(f"SM2 backend {name!r} failed: {exc}") from exc
            _loaded[name] = module
        return _loaded[name]


def _default_backend() -> _Backend:
    global _default
    if _default is not None:
        return _default
    requested = os.environ.get(BACKEND_ENV, "").strip().lower()
    if requested:
        backend = _backend(requested)
    else:
        reasons = []
        for name in BACKENDS:
            try:
                backend = _backend(name)
                break
            except BackendUnavailable as exc:
                log.warning("SM2 backend %s unavailable: %s", name, exc)
                reasons.append(f"{name}: {exc}")
        else:
            raise BackendUnavailable("no usable SM2 backend (" + "; ".join(reasons) + ")")
    _default = backend
    return backend


def backend_name() -> str:
    """Name of the process-wide SM2 backend: ``"openssl"`` or ``"python"``.

    Raises ``BackendUnavailable`` if the requested backend (``AUTHORITY_SM2_BACKEND``)
    or, without a request, every backend is unusable.
    """
    return _default_backend().NAME


def _pick(backend: str | None) -> _Backend:
    return _default_backend() if backend is None else _backend(backend)


# -------------------------------------------------------------------------------- keys


class SM2PublicKey:
    """An SM2 public key. Build it with ``from_pem``, ``from_der`` or ``from_point``."""

    __slots__ = ("_backend", "_impl")

    def __init__(self, impl: _PublicImpl, backend: _Backend) -> None:
        self._impl = impl
        self._backend = backend

    @classmethod
    def from_der(cls, der: bytes, *, backend: str | None = None) -> SM2PublicKey:
        """Read a DER SubjectPublicKeyInfo (id-ecPublicKey, curve 1.2.156.10197.1.301)."""
        chosen = _pick(backend)
        return cls(chosen.load_public_der(_as_bytes(der, "der")), chosen)

    @classmethod
    def from_pem(cls, pem: bytes | str, *, backend: str | None = None) -> SM2PublicKey:
        """Read a PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo)."""
        return cls.from_der(_pem_decode(pem, "PUBLIC KEY"), backend=backend)

    @classmethod
    def from_point(cls, point: bytes, *, backend: str | None = None) -> SM2PublicKey:
        """Build a key from the 65-byte uncompressed point ``04 || x || y``."""
        point = _as_bytes(point, "point")
        check_point(point)
        chosen = _pick(backend)
        return cls(chosen.public_from_point(point), chosen)

    def to_der(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        return self._impl.to_der()

    def to_pem(self) -> bytes:
        """PEM ``PUBLIC KEY``, as ``openssl pkey -pubout`` writes it."""
        return _pem_encode(self.to_der(), "PUBLIC KEY")

    def point(self) -> bytes:
        """The uncompressed point ``04 || x || y`` (65 bytes)."""
        return self._impl.point()

    @property
    def backend(self) -> str:
        """Name of the backend holding this key."""
        return self._backend.NAME

    def verify(
        self, signature_der: bytes, message: bytes, *, signer_id: bytes = DEFAULT_ID
    ) -> None:
        """Verify a DER signature over ``message``; raise ``InvalidSignature`` if bad."""
        signature_der = _as_bytes(signature_der, "signature")
        message = _as_bytes(message, "message")
        signer_id = _signer_id(signer_id)
        _parse_der(signature_der)  # strict DER and range checks before the backend
        self._impl.verify(signature_der, message, signer_id)

    def verify_raw(
        self, signature64: bytes, message: bytes, *, signer_id: bytes = DEFAULT_ID
    ) -> None:
        """Verify a raw ``r || s`` signature; raise ``InvalidSignature`` if bad."""
        der = raw_to_der(_as_bytes(signature64, "signature"))
        self.verify(der, message, signer_id=signer_id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SM2PublicKey):
            return NotImplemented
        return self.point() == other.point()

    def __hash__(self) -> int:
        return hash(self.point())

    def __repr__(self) -> str:
        return f"<SM2PublicKey {self.point()[1:9].hex()}… ({self.backend})>"


class SM2PrivateKey:
    """An SM2 key pair. Build it with ``generate``, ``from_pem``, ``from_der``, ``from_int``."""

    __slots__ = ("_backend", "_impl")

    def __init__(self, impl: _PrivateImpl, backend: _Backend) -> None:
        self._impl = impl
        self._backend = backend

    @classmethod
    def generate(cls, *, backend: str | None = None) -> SM2PrivateKey:
        """A new random key pair (GB/T 32918.1-2016 clause 6.1)."""
        chosen = _pick(backend)
        return cls(chosen.generate(), chosen)

    @classmethod
    def from_der(cls, der: bytes, *, backend: str | None = None) -> SM2PrivateKey:
        """Read an unencrypted DER PKCS#8 PrivateKeyInfo on the SM2 curve."""
        chosen = _pick(backend)
        return cls(chosen.load_private_der(_as_bytes(der, "der")), chosen)

    @classmethod
    def from_pem(cls, pem: bytes | str, *, backend: str | None = None) -> SM2PrivateKey:
        """Read a PEM ``PRIVATE KEY`` (unencrypted PKCS#8), as ``openssl genpkey`` writes."""
        return cls.from_der(_pem_decode(pem, "PRIVATE KEY"), backend=backend)

    @classmethod
    def from_int(cls, d: int, *, backend: str | None = None) -> SM2PrivateKey:
        """Build a key from its private scalar, 1 <= d <= n - 2 (GB/T 32918.1 6.1)."""
        if not isinstance(d, int) or isinstance(d, bool):
            raise TypeError("d must be an int")
        if not 1 <= d <= N - 2:
            raise InvalidKey("SM2 private scalar out of range [1, n-2]")
        chosen = _pick(backend)
        return cls(chosen.private_from_scalar(d), chosen)

    def to_der(self) -> bytes:
        """Unencrypted DER PKCS#8 PrivateKeyInfo (public key included)."""
        return self._impl.to_der()

    def to_pem(self) -> bytes:
        """Unencrypted PEM ``PRIVATE KEY``."""
        return _pem_encode(self.to_der(), "PRIVATE KEY")

    def public_key(self) -> SM2PublicKey:
        """The matching public key, on the same backend."""
        return SM2PublicKey(self._impl.public_key(), self._backend)

    @property
    def backend(self) -> str:
        """Name of the backend holding this key."""
        return self._backend.NAME

    def sign(self, message: bytes, *, signer_id: bytes = DEFAULT_ID) -> bytes:
        """Sign ``message``; return the DER ``SEQUENCE {r, s}`` (at most 72 bytes)."""
        return self._impl.sign(_as_bytes(message, "message"), _signer_id(signer_id))

    def sign_raw(self, message: bytes, *, signer_id: bytes = DEFAULT_ID) -> bytes:
        """Sign ``message``; return the raw 64-byte ``r || s``."""
        return der_to_raw(self.sign(message, signer_id=signer_id))

    def __repr__(self) -> str:
        return f"<SM2PrivateKey for {self.public_key().point()[1:9].hex()}… ({self.backend})>"
