"""SM2 keys and signatures through the public API of keys/sm2.py, on both backends."""

from __future__ import annotations

import pytest

from keys import sm2
from keys.errors import InvalidKey, InvalidSignature
from keys.sm2 import DEFAULT_ID, SM2PrivateKey, SM2PublicKey

BACKENDS = pytest.mark.parametrize("backend", sm2.BACKENDS)


@pytest.fixture(scope="module", params=sm2.BACKENDS)
def key(request: pytest.FixtureRequest) -> SM2PrivateKey:
    return SM2PrivateKey.generate(backend=request.param)


def test_default_id_is_gmt0009() -> None:
    assert DEFAULT_ID == b"1234567812345678"


def test_backend_name_is_known() -> None:
    assert sm2.backend_name() in sm2.BACKENDS


def test_sign_verify_der_and_raw(key: SM2PrivateKey) -> None:
    public = key.public_key()
    signature = key.sign(b"hello")
    assert signature[0] == 0x30 and len(signature) <= 72
    public.verify(signature, b"hello")
    raw = key.sign_raw(b"hello")
    assert len(raw) == 64
    public.verify_raw(raw, b"hello")
    public.verify(sm2.raw_to_der(raw), b"hello")
    assert sm2.der_to_raw(signature) != raw  # randomised nonce: two different signatures


def test_signer_id_is_part_of_the_signature(key: SM2PrivateKey) -> None:
    public = key.public_key()
    signature = key.sign(b"msg", signer_id=b"alice@example.cn")
    public.verify(signature, b"msg", signer_id=b"alice@example.cn")
    with pytest.raises(InvalidSignature):
        public.verify(signature, b"msg")
    with pytest.raises(InvalidSignature):
        public.verify(signature, b"msg", signer_id=b"")


def test_empty_signer_id_and_empty_message(key: SM2PrivateKey) -> None:
    signature = key.sign(b"", signer_id=b"")
    key.public_key().verify(signature, b"", signer_id=b"")


def test_key_round_trips(key: SM2PrivateKey) -> None:
    der = key.to_der()
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert SM2PrivateKey.from_der(der, backend=key.backend).to_der() == der
    assert SM2PrivateKey.from_pem(pem, backend=key.backend).to_der() == der
    public = key.public_key()
    assert public.to_pem().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert SM2PublicKey.from_pem(public.to_pem(), backend=key.backend) == public
    assert SM2PublicKey.from_der(public.to_der(), backend=key.backend) == public
    assert SM2PublicKey.from_point(public.point(), backend=key.backend) == public
    assert len(public.point()) == 65 and public.point()[0] == 4


@BACKENDS
def test_from_int_matches_standard_public_key(backend: str) -> None:
    d = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
    public = SM2PrivateKey.from_int(d, backend=backend).public_key()
    assert public.point().hex().upper() == (
        "04"
        "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
        "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
    )


@BACKENDS
@pytest.mark.parametrize("d", [0, -1, sm2.N - 1, sm2.N, 2**256])
def test_from_int_rejects_out_of_range(backend: str, d: int) -> None:
    with pytest.raises(InvalidKey):
        SM2PrivateKey.from_int(d, backend=backend)


def test_both_backends_write_identical_bytes() -> None:
    d = 0x1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF
    ours = {b: SM2PrivateKey.from_int(d, backend=b) for b in sm2.BACKENDS}
    assert ours["openssl"].to_der() == ours["python"].to_der()
    assert ours["openssl"].public_key().to_der() == ours["python"].public_key().to_der()


@pytest.mark.parametrize("signer", sm2.BACKENDS)
@pytest.mark.parametrize("verifier", sm2.BACKENDS)
def test_backends_cross_verify(signer: str, verifier: str) -> None:
    for _ in range(2):
        private = SM2PrivateKey.generate(backend=signer)
        public = SM2PublicKey.from_der(private.public_key().to_der(), backend=verifier)
        for message in (b"", b"license", bytes(range(256)) * 8):
            for signer_id in (DEFAULT_ID, b"dept-91110000000000000X"):
                public.verify(private.sign(message, signer_id=signer_id), message,
                              signer_id=signer_id)  # fmt: skip
                public.verify_raw(private.sign_raw(message, signer_id=signer_id), message,
                                  signer_id=signer_id)  # fmt: skip


def test_repr_shows_no_secret(key: SM2PrivateKey) -> None:
    d_hex = key.to_der()[36:68].hex()
    assert d_hex not in repr(key)
    assert key.backend in repr(key)


def test_message_must_be_bytes(key: SM2PrivateKey) -> None:
    with pytest.raises(TypeError):
        key.sign("text")  # type: ignore[arg-type]
    assert key.sign(bytearray(b"x"))  # bytes-like is fine


def test_signer_id_length_limit(key: SM2PrivateKey) -> None:
    long_id = b"i" * sm2.MAX_ID_LENGTH
    key.public_key().verify(key.sign(b"m", signer_id=long_id), b"m", signer_id=long_id)
    with pytest.raises(ValueError, match="signer ID"):
        key.sign(b"m", signer_id=long_id + b"i")


@BACKENDS
def test_other_valid_pkcs8_layouts_are_read(backend: str) -> None:
    # RFC 5915 allows [0] parameters inside ECPrivateKey and makes the public key
    # optional; such keys (other tools write them) are read, and written back in
    # OpenSSL's layout.
    from asn1crypto import keys as asn1_keys

    original = SM2PrivateKey.generate(backend=backend)
    d = int.from_bytes(original.to_der()[36:68], "big")
    algorithm = {"algorithm": "ec", "parameters": ("named", sm2.CURVE_OID)}
    layouts = [
        {"version": "ecPrivkeyVer1", "private_key": d},
        {"version": "ecPrivkeyVer1", "private_key": d, "parameters": ("named", sm2.CURVE_OID),
         "public_key": original.public_key().point()},
    ]  # fmt: skip
    for layout in layouts:
        der = asn1_keys.PrivateKeyInfo(
            {"version": 0, "private_key_algorithm": algorithm,
             "private_key": asn1_keys.ECPrivateKey(layout)}
        ).dump()  # fmt: skip
        assert der != original.to_der()
        key = SM2PrivateKey.from_der(der, backend=backend)
        assert key.to_der() == original.to_der()
        key.public_key().verify(key.sign(b"m"), b"m")
