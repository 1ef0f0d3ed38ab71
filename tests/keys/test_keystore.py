"""KEK handling and private-key sealing (keys/keystore.py)."""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from keys.errors import DecryptionError, InvalidKey
from keys.keystore import (
    KeyEncryptionKey,
    kid_for_public_key,
    seal_private_key,
    unseal_private_key,
)

KEK_HEX = "0123456789abcdeffedcba9876543210"
SECRET = bytes(range(256)) * 2  # stands in for a PKCS#8 DER private key
AAD = b"kid=4f2a9c0d11e7b3a8;purpose=department:91110000600037341L"


@pytest.fixture
def kek() -> KeyEncryptionKey:
    return KeyEncryptionKey.from_hex(KEK_HEX)


def test_seal_round_trip_and_fresh_nonce(kek: KeyEncryptionKey) -> None:
    first = seal_private_key(SECRET, kek, aad=AAD)
    second = seal_private_key(SECRET, kek, aad=AAD)
    assert first != second  # a new random nonce each time
    assert first[1:13] != second[1:13]
    assert len(first) == 1 + 12 + len(SECRET) + 16
    assert unseal_private_key(first, kek, aad=AAD) == SECRET
    assert unseal_private_key(second, kek, aad=AAD) == SECRET


def test_blob_layout_matches_the_documentation(kek: KeyEncryptionKey) -> None:
    # Open the blob without keys.keystore, from the layout in its docstring.
    blob = seal_private_key(SECRET, kek, aad=AAD)
    assert blob[0] == 1
    nonce, ciphertext, tag = blob[1:13], blob[13:-16], blob[-16:]
    decryptor = Cipher(algorithms.SM4(bytes.fromhex(KEK_HEX)), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(b"authority/sealed-key/v1\x00" + AAD)
    assert decryptor.update(ciphertext) + decryptor.finalize() == SECRET


def test_wrong_kek_is_refused(kek: KeyEncryptionKey) -> None:
    blob = seal_private_key(SECRET, kek, aad=AAD)
    with pytest.raises(DecryptionError):
        unseal_private_key(blob, KeyEncryptionKey.generate(), aad=AAD)


@pytest.mark.parametrize("other_aad", [AAD + b"x", AAD[:-1], b"kid=0000000000000000;purpose=root"])
def test_wrong_aad_is_refused(kek: KeyEncryptionKey, other_aad: bytes) -> None:
    blob = seal_private_key(SECRET, kek, aad=AAD)
    with pytest.raises(DecryptionError):
        unseal_private_key(blob, kek, aad=other_aad)


def test_every_tampered_byte_is_detected(kek: KeyEncryptionKey) -> None:
    blob = seal_private_key(b"short pkcs8 stand-in", kek, aad=AAD)
    for position in range(len(blob)):
        for bit in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[position] ^= bit
            with pytest.raises(DecryptionError):
                unseal_private_key(bytes(tampered), kek, aad=AAD)


def test_truncated_and_unknown_version_are_refused(kek: KeyEncryptionKey) -> None:
    blob = seal_private_key(SECRET, kek, aad=AAD)
    for length in (0, 1, 13, 29, len(blob) - 1):
        with pytest.raises(DecryptionError):
            unseal_private_key(blob[:length], kek, aad=AAD)
    with pytest.raises(DecryptionError, match="version 2"):
        unseal_private_key(b"\x02" + blob[1:], kek, aad=AAD)


def test_empty_aad_and_empty_key_are_programming_errors(kek: KeyEncryptionKey) -> None:
    with pytest.raises(ValueError, match="aad"):
        seal_private_key(SECRET, kek, aad=b"")
    with pytest.raises(ValueError, match="pkcs8_der"):
        seal_private_key(b"", kek, aad=AAD)
    blob = seal_private_key(SECRET, kek, aad=AAD)
    with pytest.raises(ValueError, match="aad"):
        unseal_private_key(blob, kek, aad=b"")


def test_kek_from_hex() -> None:
    assert KeyEncryptionKey.from_hex(f"  {KEK_HEX.upper()}\n") == KeyEncryptionKey.from_hex(KEK_HEX)
    for bad, message in [
        (KEK_HEX[:-1], "32 hexadecimal digits"),
        (KEK_HEX + "00", "32 hexadecimal digits"),
        ("", "32 hexadecimal digits"),
        ("g" + KEK_HEX[1:], "only hexadecimal digits"),
    ]:
        with pytest.raises(InvalidKey, match=message) as info:
            KeyEncryptionKey.from_hex(bad)
        if bad:
            assert bad not in str(info.value)
    with pytest.raises(InvalidKey):
        KeyEncryptionKey(b"\x00" * 15)


def test_kek_is_never_printed_or_pickled(kek: KeyEncryptionKey) -> None:
    for text in (repr(kek), str(kek), f"{kek}", repr([kek])):
        assert KEK_HEX not in text.lower()
        assert "check_value=" in text
    with pytest.raises(TypeError):
        pickle.dumps(kek)
    assert kek.check_value == KeyEncryptionKey.from_hex(KEK_HEX).check_value
    assert kek.check_value != KeyEncryptionKey.generate().check_value
    assert len(kek.check_value) == 8


def test_generated_keks_differ() -> None:
    assert KeyEncryptionKey.generate() != KeyEncryptionKey.generate()


def test_derive_key(kek: KeyEncryptionKey) -> None:
    pii = kek.derive_key("pii/sm4-gcm")
    index = kek.derive_key("pii/blind-index", 32)
    assert len(pii) == 16 and len(index) == 32
    assert pii == KeyEncryptionKey.from_hex(KEK_HEX).derive_key("pii/sm4-gcm")
    assert pii != index[:16]
    assert pii != bytes.fromhex(KEK_HEX)
    assert KeyEncryptionKey.generate().derive_key("pii/sm4-gcm") != pii
    with pytest.raises(ValueError):
        kek.derive_key("")


def test_kek_file_round_trip(tmp_path: Path, kek: KeyEncryptionKey) -> None:
    path = tmp_path / "kek.hex"
    kek.to_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert KeyEncryptionKey.from_file(path) == kek
    with pytest.raises(FileExistsError):
        KeyEncryptionKey.generate().to_file(path)
    assert KeyEncryptionKey.from_file(path) == kek  # not overwritten


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_kek_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "kek.hex"
    path.write_text(KEK_HEX + "\n")
    path.chmod(mode)
    with pytest.raises(InvalidKey) as info:
        KeyEncryptionKey.from_file(path)
    message = str(info.value)
    assert f"{mode:04o}" in message
    assert f"chmod 600 {path}" in message
    assert KEK_HEX not in message


def test_kek_file_contents_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "kek.hex"
    path.write_bytes(b"\xff" * 32)
    path.chmod(0o600)
    with pytest.raises(InvalidKey, match="hexadecimal text"):
        KeyEncryptionKey.from_file(path)
    path.write_text("not a key at all, and far too long to be one\n")
    with pytest.raises(InvalidKey, match="32 hexadecimal digits"):
        KeyEncryptionKey.from_file(path)
    with pytest.raises(FileNotFoundError):
        KeyEncryptionKey.from_file(tmp_path / "missing")


def test_kid_for_public_key_matches_openssl(tmp_path: Path) -> None:
    # An SM2 public key made and hashed by the openssl command line, independently of us.
    for n in range(3):
        key = tmp_path / f"k{n}.pem"
        spki = tmp_path / f"k{n}.der"
        subprocess.run(
            ["openssl", "genpkey", "-algorithm", "SM2", "-out", str(key)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER", "-out", str(spki)],
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            ["openssl", "dgst", "-sm3", "-r", str(spki)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        expected = out.split()[0][:16]
        kid = kid_for_public_key(spki.read_bytes())
        assert kid == expected
        assert len(kid) == 16 and kid == kid.lower()
