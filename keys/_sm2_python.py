"""SM2 backend in pure Python on ``gmalg`` (curve arithmetic and signature equations).

GB/T 32918.2-2016 clauses 6 and 7 as implemented by ``gmalg.sm2.SM2Core``, whose Z
value (clause 5.5: ENTL || ID || a || b || xG || yG || xA || yA) and signature
equations were checked against the GB/T 32918.5-2017 Annex A example, including r and
s for the example's fixed k (tests/keys/test_sm2_vectors.py). ``gmalg`` draws its
nonces and keys from ``secrets`` (``secrets.randbits`` with rejection sampling).

We call ``SM2Core`` directly rather than ``gmalg.SM2``, which refuses an empty signer
ID and parses points leniently. Key formats are read and written by ``keys.sm2`` with
asn1crypto.
"""

from __future__ import annotations

from collections.abc import Callable

from gmalg.sm2 import SM2Core, _ecdlp
from gmalg.sm3 import SM3

from keys.errors import InvalidKey, InvalidSignature
from keys.sm2 import (
    N,
    check_point,
    der_to_raw,
    encode_private_der,
    encode_public_der,
    parse_private_der,
    parse_public_der,
    raw_to_der,
)
from keys.sm3 import sm3

NAME = "python"

Point = tuple[int, int]


class _Core(SM2Core):  # type: ignore[misc]
    """gmalg's ``SM2Core`` with two small changes; the curve arithmetic and the
    signature equations (clauses 6.1 and 7.1) stay gmalg's.

    - SM3 comes from ``keys.sm3`` (pyca/cryptography, checked against GB/T 32905):
      gmalg's pure-Python SM3 hashes about 400 KB/s, which made large messages slow.
    - gmalg refuses IDs of 4096 bytes or more (it limits ENTL to 15 bits); ENTL is two
      bytes (clause 5.5) and OpenSSL accepts up to 8190 bytes, so Z is computed here
      the same way with the 16-bit limit.
    """

    def _hash_fn(self, data: bytes) -> bytes:
        return sm3(data)

    def entity_info(self, uid: bytes, pk: Point) -> bytes:
        entl = len(uid) * 8
        if entl > 0xFFFF:
            raise ValueError("signer ID too long")
        curve = (self.ecdlp.ec.a, self.ecdlp.ec.b, *self.ecdlp.G, *pk)
        return sm3(entl.to_bytes(2, "big") + uid + b"".join(v.to_bytes(32, "big") for v in curve))


def _core(random_bits: Callable[[int], int] | None = None) -> _Core:
    # SM2Core keeps per-call state in its hash object, so a fresh (cheap) instance per
    # call keeps this backend thread-safe.
    return _Core(_ecdlp, SM3(), random_bits)


def _encode_point(point: Point) -> bytes:
    return b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


class PublicKey:
    """An SM2 public key as an affine point."""

    __slots__ = ("_point",)

    def __init__(self, point: Point) -> None:
        self._point = point

    def to_der(self) -> bytes:
        return encode_public_der(self.point())

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
        return encode_private_der(self._d, _encode_point(self._point))

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


def generate() -> PrivateKey:
    d, point = _core().generate_keypair()  # d uniform in [1, n-2], from secrets
    return PrivateKey(d, point)


def private_from_scalar(d: int) -> PrivateKey:
    if not 1 <= d <= N - 2:
        raise InvalidKey("SM2 private scalar out of range [1, n-2]")
    point: Point = _core().generate_pk(d)
    return PrivateKey(d, point)


def public_from_point(point: bytes) -> PublicKey:
    return PublicKey(check_point(point))


def load_public_der(der: bytes) -> PublicKey:
    return public_from_point(parse_public_der(der))


def load_private_der(der: bytes) -> PrivateKey:
    d, stored = parse_private_der(der)
    key = private_from_scalar(d)
    # A stored public point that does not match d would make every signature fail
    # verification elsewhere; refuse the key (OpenSSL's EVP_PKEY_check does the same).
    if stored is not None and stored != key.public_key().point():
        raise InvalidKey("invalid SM2 private key: public key does not match the private scalar")
    return key
