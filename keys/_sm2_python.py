"""SM2 backend in pure Python: ``gmalg`` for the arithmetic, ``asn1crypto`` for ASN.1.

GB/T 32918.2-2016 clauses 6 and 7 as implemented by ``gmalg.sm2.SM2Core``, whose Z
value (clause 5.5: ENTL || ID || a || b || xG || yG || xA || yA) and signature
equations were checked against the GB/T 32918.5-2017 Annex A example, including r and
s for the example's fixed k. ``gmalg`` draws its nonces and keys from ``secrets``.

We call ``SM2Core`` directly rather than ``gmalg.SM2`` because the latter refuses an
empty signer ID and parses points leniently; key formats (PKCS#8 per RFC 5208,
SubjectPublicKeyInfo per RFC 5480) are read and written here with ``asn1crypto``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from gmalg.sm2 import SM2Core, _ecdlp
from gmalg.sm3 import SM3

from keys.errors import InvalidKey, InvalidSignature
from keys.sm2 import CURVE_OID, A, B, N, P, der_to_raw, raw_to_der

NAME = "python"
_EC_PUBLIC_KEY = "1.2.840.10045.2.1"

# asn1crypto needs the curve's key size to encode ECPrivateKey; registering is
# idempotent and is asn1crypto's documented way to add a named curve.
asn1_keys.NamedCurve.register("sm2", CURVE_OID, 32)

Point = tuple[int, int]
_Algorithm = TypeVar("_Algorithm", asn1_keys.PublicKeyAlgorithm, asn1_keys.PrivateKeyAlgorithm)


class _Core(SM2Core):  # type: ignore[misc]
    """``SM2Core`` with the full ID range of GB/T 32918.2-2016 clause 5.5.

    gmalg refuses IDs of 4096 bytes or more (it limits ENTL to 15 bits); ENTL is two
    bytes, and OpenSSL accepts up to 8190 bytes, so Z is computed here the same way
    but with the 16-bit limit. Everything else is gmalg's.
    """

    def entity_info(self, uid: bytes, pk: Point) -> bytes:
        entl = len(uid) * 8
        if entl > 0xFFFF:
            raise ValueError("signer ID too long")
        curve = (self.ecdlp.ec.a, self.ecdlp.ec.b, *self.ecdlp.G, *pk)
        data = entl.to_bytes(2, "big") + uid + b"".join(v.to_bytes(32, "big") for v in curve)
        digest: bytes = self._hash_fn(data)
        return digest


def _core(random_bits: Callable[[int], int] | None = None) -> _Core:
    # SM2Core keeps per-call state in its hash object, so a fresh (cheap) instance per
    # call keeps this backend thread-safe.
    return _Core(_ecdlp, SM3(), random_bits)


def _check_point(point: bytes, what: str) -> Point:
    if len(point) != 65 or point[0] != 4:
        raise InvalidKey(f"{what}: only uncompressed points (04||x||y) are supported")
    x = int.from_bytes(point[1:33], "big")
    y = int.from_bytes(point[33:], "big")
    # SM2's cofactor is 1: a point with coordinates in F_p that satisfies the curve
    # equation is in the prime-order group (and 04||x||y cannot encode infinity).
    if x >= P or y >= P or (y * y - (x * x * x + A * x + B)) % P != 0:
        raise InvalidKey(f"{what}: public point is not on the SM2 curve")
    return x, y


def _encode_point(point: Point) -> bytes:
    return b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


def _algorithm(kind: type[_Algorithm]) -> _Algorithm:
    return kind({"algorithm": "ec", "parameters": asn1_keys.ECDomainParameters("named", CURVE_OID)})


def _check_algorithm(
    algorithm: asn1_keys.PublicKeyAlgorithm | asn1_keys.PrivateKeyAlgorithm, what: str
) -> None:
    if algorithm["algorithm"].dotted != _EC_PUBLIC_KEY:
        raise InvalidKey(f"{what}: algorithm is not id-ecPublicKey")
    parameters = algorithm["parameters"]
    if parameters.name != "named" or parameters.chosen.dotted != CURVE_OID:
        raise InvalidKey(f"{what}: curve is not SM2 ({CURVE_OID})")


class PublicKey:
    """An SM2 public key as an affine point."""

    __slots__ = ("_point",)

    def __init__(self, point: Point) -> None:
        self._point = point

    def to_der(self) -> bytes:
        info = asn1_keys.PublicKeyInfo(
            {
                "algorithm": _algorithm(asn1_keys.PublicKeyAlgorithm),
                "public_key": asn1_keys.ECPointBitString(self.point()),
            }
        )
        return bytes(info.dump())

    def point(self) -> bytes:
        return _encode_point(self._point)

    def verify(self, signature_der: bytes, message: bytes, signer_id: bytes) -> None:
        raw = der_to_raw(signature_der)
        r = int.from_bytes(raw[:32], "big")
        s = int.from_bytes(raw[32:], "big")
        if not _core().verify(message, r, s, signer_id, self._point):
            raise InvalidSignature("SM2 signature does not verify")


class PrivateKey:
    """An SM2 key pair: the scalar d and the point dG."""

    __slots__ = ("_d", "_point")

    def __init__(self, d: int, point: Point) -> None:
        self._d = d
        self._point = point

    def to_der(self) -> bytes:
        private = asn1_keys.ECPrivateKey(
            {
                "version": "ecPrivkeyVer1",
                "private_key": self._d,
                "public_key": asn1_keys.ECPointBitString(_encode_point(self._point)),
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

    def public_key(self) -> PublicKey:
        return PublicKey(self._point)

    def sign(self, message: bytes, signer_id: bytes) -> bytes:
        r, s = _core().sign(message, self._d, signer_id, self._point)
        return raw_to_der(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def sign_with_k(self, message: bytes, signer_id: bytes, k: int) -> bytes:
        """Test only: sign with a fixed nonce ``k`` to reproduce published examples.

        Never use this outside tests: a repeated or known k reveals the private key.
        """
        if not 1 <= k < N:
            raise ValueError("k out of range [1, n-1]")
        r, s = _core(lambda _bits: k).sign(message, self._d, signer_id, self._point)
        return raw_to_der(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _public_from_scalar(d: int) -> Point:
    point: Point = _core().generate_pk(d)
    return point


def generate() -> PrivateKey:
    d, point = _core().generate_keypair()  # d uniform in [1, n-2], from secrets
    return PrivateKey(d, point)


def private_from_scalar(d: int) -> PrivateKey:
    if not 1 <= d <= N - 2:
        raise InvalidKey("SM2 private scalar out of range [1, n-2]")
    return PrivateKey(d, _public_from_scalar(d))


def public_from_point(point: bytes) -> PublicKey:
    return PublicKey(_check_point(point, "invalid SM2 public key"))


def load_public_der(der: bytes) -> PublicKey:
    what = "invalid SM2 public key"
    try:
        info = asn1_keys.PublicKeyInfo.load(der, strict=True)
        _check_algorithm(info["algorithm"], what)
        point = bytes(info["public_key"].native)
    except InvalidKey:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidKey(f"{what}: {exc}") from exc
    return public_from_point(point)


def load_private_der(der: bytes) -> PrivateKey:
    what = "invalid SM2 private key"
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
        encoded = None if isinstance(public, asn1_core.Void) else bytes(public.native)
    except InvalidKey:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidKey(f"{what}: {exc}") from exc
    if not isinstance(d, int) or not 1 <= d <= N - 2:
        raise InvalidKey(f"{what}: private scalar out of range [1, n-2]")
    key = private_from_scalar(d)
    # A stored public point that does not match d would make every signature fail
    # verification elsewhere; refuse the key instead (OpenSSL's EVP_PKEY_check does too).
    if encoded is not None and _check_point(encoded, what) != key._point:
        raise InvalidKey(f"{what}: public key does not match the private scalar")
    return key
