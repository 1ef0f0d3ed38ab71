"""SM2 against the GB/T 32918.5-2017 Annex A signature example, on both backends."""

from __future__ import annotations

import pytest

from keys import sm2
from keys.errors import InvalidSignature
from keys.sm2 import SM2PrivateKey, SM2PublicKey
from keys.sm3 import sm3
from tests.keys.vectors import load

(V,) = load("sm2/gbt32918.5-annex-a.txt")
BACKENDS = pytest.mark.parametrize("backend", sm2.BACKENDS)


def _z(identity: bytes, point: bytes) -> bytes:
    # GB/T 32918.2-2016 clause 5.5, written out independently of both backends.
    curve = b"".join(v.to_bytes(32, "big") for v in (sm2.A, sm2.B, sm2.GX, sm2.GY))
    return sm3((len(identity) * 8).to_bytes(2, "big") + identity + curve + point[1:])


def test_vector_file_is_self_consistent() -> None:
    point = b"\x04" + V["xA"] + V["yA"]
    assert _z(V["id"], point) == V["ZA"]
    assert sm3(V["ZA"] + V["message"]) == V["e"]


@BACKENDS
def test_public_key_from_d(backend: str) -> None:
    key = SM2PrivateKey.from_int(int.from_bytes(V["d"], "big"), backend=backend)
    assert key.public_key().point() == b"\x04" + V["xA"] + V["yA"]


@BACKENDS
def test_published_signature_verifies(backend: str) -> None:
    public = SM2PublicKey.from_point(b"\x04" + V["xA"] + V["yA"], backend=backend)
    public.verify_raw(V["r"] + V["s"], V["message"], signer_id=V["id"])
    public.verify(sm2.raw_to_der(V["r"] + V["s"]), V["message"], signer_id=V["id"])
    with pytest.raises(InvalidSignature):
        public.verify_raw(V["r"] + V["s"], V["message"] + b"!", signer_id=V["id"])


def test_fixed_k_reproduces_r_and_s() -> None:
    # The python backend's test-only fixed-nonce path reproduces the standard exactly.
    key = SM2PrivateKey.from_int(int.from_bytes(V["d"], "big"), backend="python")
    signature = key._impl.sign_with_k(V["message"], V["id"], int.from_bytes(V["k"], "big"))  # type: ignore[attr-defined]
    assert sm2.der_to_raw(signature) == V["r"] + V["s"]


@BACKENDS
def test_signatures_with_standard_key_verify_everywhere(backend: str) -> None:
    key = SM2PrivateKey.from_int(int.from_bytes(V["d"], "big"), backend=backend)
    signature = key.sign(V["message"], signer_id=V["id"])
    for other in sm2.BACKENDS:
        public = SM2PublicKey.from_point(b"\x04" + V["xA"] + V["yA"], backend=other)
        public.verify(signature, V["message"], signer_id=V["id"])
