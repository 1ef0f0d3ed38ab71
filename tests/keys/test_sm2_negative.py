"""Everything SM2 must refuse, with the specific exception, on both backends."""

from __future__ import annotations

import pytest
from asn1crypto.algos import DSASignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys import sm2
from keys.errors import CryptoError, InvalidKey, InvalidSignature
from keys.sm2 import N, P, SM2PrivateKey, SM2PublicKey

BACKENDS = pytest.mark.parametrize("backend", sm2.BACKENDS)
MESSAGE = b"electronic license 0001"


@pytest.fixture(scope="module")
def signed() -> tuple[SM2PrivateKey, bytes]:
    key = SM2PrivateKey.generate(backend="openssl")
    return key, key.sign(MESSAGE)


def public(key: SM2PrivateKey, backend: str) -> SM2PublicKey:
    return SM2PublicKey.from_der(key.public_key().to_der(), backend=backend)


@BACKENDS
def test_tampered_message(signed: tuple[SM2PrivateKey, bytes], backend: str) -> None:
    key, signature = signed
    for message in (MESSAGE + b"!", MESSAGE[:-1], b"", MESSAGE.upper()):
        with pytest.raises(InvalidSignature):
            public(key, backend).verify(signature, message)


@BACKENDS
def test_wrong_signer_id(signed: tuple[SM2PrivateKey, bytes], backend: str) -> None:
    key, signature = signed
    for signer_id in (b"", b"1234567812345679", b"12345678123456781"):
        with pytest.raises(InvalidSignature):
            public(key, backend).verify(signature, MESSAGE, signer_id=signer_id)


@BACKENDS
def test_wrong_key(signed: tuple[SM2PrivateKey, bytes], backend: str) -> None:
    _, signature = signed
    other = SM2PrivateKey.generate(backend=backend)
    with pytest.raises(InvalidSignature):
        other.public_key().verify(signature, MESSAGE)


@BACKENDS
def test_tampered_signature(signed: tuple[SM2PrivateKey, bytes], backend: str) -> None:
    key, signature = signed
    raw = bytearray(sm2.der_to_raw(signature))
    for index in (0, 31, 32, 63):
        bad = bytearray(raw)
        bad[index] ^= 0x01
        with pytest.raises(InvalidSignature):
            public(key, backend).verify_raw(bytes(bad), MESSAGE)


@BACKENDS
@pytest.mark.parametrize(
    "der",
    [
        b"",
        b"\x30",
        b"\x30\x00",
        bytes.fromhex("3006020101020101ff"),
        bytes.fromhex("308106020101020101"),
        bytes.fromhex("30070202000102010101"),
        b"not a signature at all",
    ],
)
def test_malformed_der(signed: tuple[SM2PrivateKey, bytes], backend: str, der: bytes) -> None:
    key, _ = signed
    with pytest.raises(InvalidSignature):
        public(key, backend).verify(der, MESSAGE)


@BACKENDS
def test_trailing_byte_after_valid_signature(
    signed: tuple[SM2PrivateKey, bytes], backend: str
) -> None:
    key, signature = signed
    with pytest.raises(InvalidSignature):
        public(key, backend).verify(signature + b"\x00", MESSAGE)


@BACKENDS
@pytest.mark.parametrize(
    ("r", "s"), [(0, 1), (1, 0), (0, 0), (N, 1), (1, N), (N + 5, 1), (2**256 - 1, 2**256 - 1)]
)
def test_r_or_s_zero_or_at_least_n(
    signed: tuple[SM2PrivateKey, bytes], backend: str, r: int, s: int
) -> None:
    key, _ = signed
    with pytest.raises(InvalidSignature, match="out of range"):
        public(key, backend).verify_raw(r.to_bytes(32, "big") + s.to_bytes(32, "big"), MESSAGE)
    with pytest.raises(InvalidSignature, match="out of range"):
        public(key, backend).verify(DSASignature({"r": r, "s": s}).dump(), MESSAGE)


@BACKENDS
def test_r_plus_n_is_not_r(signed: tuple[SM2PrivateKey, bytes], backend: str) -> None:
    # The same values modulo n, written out of range, must not verify.
    key, signature = signed
    raw = sm2.der_to_raw(signature)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    for bad in ({"r": r + N, "s": s}, {"r": r, "s": s + N}):
        with pytest.raises(InvalidSignature, match="out of range"):
            public(key, backend).verify(DSASignature(bad).dump(), MESSAGE)


def off_curve_point() -> bytes:
    good = SM2PrivateKey.generate().public_key().point()
    return good[:-1] + bytes([good[-1] ^ 1])


@BACKENDS
@pytest.mark.parametrize(
    "point",
    [
        pytest.param(off_curve_point(), id="y-flipped"),
        pytest.param(b"\x04" + P.to_bytes(32, "big") + bytes(32), id="x=p"),
        pytest.param(b"\x04" + bytes(64), id="zero"),
        pytest.param(b"\x02" + bytes(32), id="compressed-length"),
        pytest.param(b"\x00", id="infinity"),
    ],
)
def test_public_point_not_on_curve(backend: str, point: bytes) -> None:
    with pytest.raises(InvalidKey):
        SM2PublicKey.from_point(point, backend=backend)
    with pytest.raises(InvalidKey):
        spki = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
        SM2PublicKey.from_der(spki + point if len(point) == 65 else spki[:-3], backend=backend)


@BACKENDS
def test_compressed_point_is_refused(backend: str) -> None:
    point = SM2PrivateKey.generate().public_key().point()
    compressed = bytes([2 + (point[-1] & 1)]) + point[1:33]
    spki = bytes.fromhex("3039301306072a8648ce3d020106082a811ccf5501822d032200") + compressed
    with pytest.raises(InvalidKey, match="uncompressed"):
        SM2PublicKey.from_der(spki, backend=backend)


@BACKENDS
def test_truncated_pem(backend: str) -> None:
    key = SM2PrivateKey.generate(backend=backend)
    pem = key.to_pem()
    public_pem = key.public_key().to_pem()
    for cut in (10, len(pem) // 2, len(pem) - 20, len(pem) - 2):
        with pytest.raises(InvalidKey):
            SM2PrivateKey.from_pem(pem[:cut], backend=backend)
    lines = pem.splitlines(keepends=True)
    with pytest.raises(InvalidKey):  # a body line missing, armour intact
        SM2PrivateKey.from_pem(b"".join(lines[:1] + lines[2:]), backend=backend)
    with pytest.raises(InvalidKey):
        SM2PublicKey.from_pem(public_pem[: len(public_pem) // 2], backend=backend)


@BACKENDS
def test_truncated_or_padded_der(backend: str) -> None:
    key = SM2PrivateKey.generate(backend=backend)
    der, spki = key.to_der(), key.public_key().to_der()
    for cut in (0, 1, 30, len(der) - 1):
        with pytest.raises(InvalidKey):
            SM2PrivateKey.from_der(der[:cut], backend=backend)
    for cut in (0, 1, 30, len(spki) - 1):
        with pytest.raises(InvalidKey):
            SM2PublicKey.from_der(spki[:cut], backend=backend)
    with pytest.raises(InvalidKey):
        SM2PrivateKey.from_der(der + b"\x00", backend=backend)
    with pytest.raises(InvalidKey):
        SM2PublicKey.from_der(spki + b"\x00", backend=backend)


@BACKENDS
def test_pem_labels_are_checked(backend: str) -> None:
    key = SM2PrivateKey.generate(backend=backend)
    with pytest.raises(InvalidKey, match="expected PEM 'PRIVATE KEY'"):
        SM2PrivateKey.from_pem(key.public_key().to_pem(), backend=backend)
    with pytest.raises(InvalidKey, match="expected PEM 'PUBLIC KEY'"):
        SM2PublicKey.from_pem(key.to_pem(), backend=backend)
    with pytest.raises(InvalidKey, match="around the PEM"):
        SM2PrivateKey.from_pem(key.to_pem() + key.to_pem(), backend=backend)
    encrypted = serialization.load_pem_private_key(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        ),
        b"pw",
    )
    assert encrypted  # a valid encrypted PKCS#8 exists; its armour says so:
    with pytest.raises(InvalidKey, match="ENCRYPTED PRIVATE KEY"):
        SM2PrivateKey.from_pem(
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            backend=backend,
        )


@BACKENDS
def test_keys_on_another_curve_are_refused(backend: str) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = other.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    spki = other.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidKey):
        SM2PrivateKey.from_der(pkcs8, backend=backend)
    with pytest.raises(InvalidKey):
        SM2PublicKey.from_der(spki, backend=backend)


@BACKENDS
def test_private_key_with_mismatched_public_point(backend: str) -> None:
    one = SM2PrivateKey.generate().to_der()
    two = SM2PrivateKey.generate().to_der()
    spliced = one[:-65] + two[-65:]  # d of one, public point of two
    with pytest.raises(InvalidKey):
        SM2PrivateKey.from_der(spliced, backend=backend)


@BACKENDS
@pytest.mark.parametrize("d", [0, N - 1, N, N + 1])
def test_private_scalar_out_of_range_in_pkcs8(backend: str, d: int) -> None:
    prefix = bytes.fromhex("3041020100301306072a8648ce3d020106082a811ccf5501822d042730250201010420")
    scalar = d.to_bytes(33, "big")[-32:] if d < 2**256 else bytes(32)
    with pytest.raises((InvalidKey, CryptoError)):
        key = SM2PrivateKey.from_der(prefix + scalar, backend=backend)
        key.sign(b"x")  # d = n - 1 has no (1 + d)^-1: must not produce a signature


@BACKENDS
def test_every_single_byte_corruption_of_a_key_is_refused(backend: str) -> None:
    der = SM2PrivateKey.generate(backend=backend).to_der()
    for index in range(len(der)):
        corrupted = bytearray(der)
        corrupted[index] ^= 0x04
        with pytest.raises(InvalidKey):
            SM2PrivateKey.from_der(bytes(corrupted), backend=backend)


@BACKENDS
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_random_bytes_never_crash(backend: str, data: bytes) -> None:
    with pytest.raises(InvalidKey):
        SM2PrivateKey.from_der(data, backend=backend)
    with pytest.raises(InvalidKey):
        SM2PublicKey.from_der(data, backend=backend)
    with pytest.raises(InvalidKey):
        SM2PrivateKey.from_pem(data, backend=backend)
