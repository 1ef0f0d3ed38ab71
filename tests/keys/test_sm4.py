"""SM4 (GB/T 32907-2016) and SM4-GCM (RFC 8998) through keys/sm4.py."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from keys import sm4
from keys.errors import DecryptionError, InvalidKey
from tests.keys.vectors import load

BLOCK = load("sm4/gbt32907-appendix-a.txt")
GCM = load("sm4/rfc8998-a1-gcm.txt")


@pytest.mark.parametrize("vector", BLOCK, ids=["example-1", "example-2-1e6-rounds"])
def test_gbt32907_examples(vector: dict[str, bytes]) -> None:
    # The block cipher under sm4_gcm_* is cryptography's SM4; check it against the
    # standard. Example 2 encrypts a block 1,000,000 times: CBC with a zero IV over the
    # plaintext followed by zero blocks computes exactly that chain in one call.
    iterations = int.from_bytes(vector["iterations"], "big")
    data = vector["plaintext"] + bytes(16 * (iterations - 1))
    encryptor = Cipher(algorithms.SM4(vector["key"]), modes.CBC(bytes(16))).encryptor()
    out = encryptor.update(data) + encryptor.finalize()
    assert out[-16:] == vector["ciphertext"]


def test_rfc8998_gcm_vector() -> None:
    (v,) = GCM
    blob = sm4._encrypt_with_nonce(v["key"], v["iv"], v["plaintext"], v["aad"])
    assert blob == v["iv"] + v["ciphertext"] + v["tag"]
    assert sm4.sm4_gcm_decrypt(v["key"], blob, v["aad"]) == v["plaintext"]


def test_round_trip_with_random_nonce() -> None:
    key = bytes(range(16))
    one = sm4.sm4_gcm_encrypt(key, b"secret", b"row:1")
    two = sm4.sm4_gcm_encrypt(key, b"secret", b"row:1")
    assert one != two  # fresh nonce each time
    assert len(one) == 12 + 6 + 16
    assert sm4.sm4_gcm_decrypt(key, one, b"row:1") == b"secret"
    assert sm4.sm4_gcm_decrypt(key, sm4.sm4_gcm_encrypt(key, b""), b"") == b""


@pytest.mark.parametrize("where", ["nonce", "ciphertext", "tag"])
def test_tampering_is_detected(where: str) -> None:
    key = bytes(16)
    blob = bytearray(sm4.sm4_gcm_encrypt(key, b"personal data", b"aad"))
    index = {"nonce": 0, "ciphertext": 12, "tag": len(blob) - 1}[where]
    blob[index] ^= 1
    with pytest.raises(DecryptionError):
        sm4.sm4_gcm_decrypt(key, bytes(blob), b"aad")


def test_wrong_key_aad_or_short_blob_fail() -> None:
    blob = sm4.sm4_gcm_encrypt(bytes(16), b"x", b"aad")
    with pytest.raises(DecryptionError):
        sm4.sm4_gcm_decrypt(b"\x01" * 16, blob, b"aad")
    with pytest.raises(DecryptionError):
        sm4.sm4_gcm_decrypt(bytes(16), blob, b"other")
    with pytest.raises(DecryptionError):
        sm4.sm4_gcm_decrypt(bytes(16), blob[:27], b"aad")


@pytest.mark.parametrize("key", [b"", bytes(15), bytes(17), bytes(32)])
def test_key_must_be_16_bytes(key: bytes) -> None:
    with pytest.raises(InvalidKey):
        sm4.sm4_gcm_encrypt(key, b"x")
    with pytest.raises(InvalidKey):
        sm4.sm4_gcm_decrypt(key, bytes(40))
