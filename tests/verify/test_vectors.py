"""The test vectors of docs/license-format.md: verdicts, reproducibility, OpenSSL, QR size."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import qrcode
import qrcode.util
import zxingcpp

from keys.sm2 import raw_to_der
from tests.vectors.license import make_vectors
from tests.verify.world import VECTORS_DIR, Vectors
from verify.bundle import TrustBundle
from verify.decode import decode
from verify.verifier import VerdictState, verify_text

NAMES = [v["name"] for v in json.loads((VECTORS_DIR / "vectors.json").read_text())["vectors"]]


@pytest.mark.parametrize("name", NAMES)
def test_checked_in_vector_has_its_documented_verdict(vectors: Vectors, name: str) -> None:
    vector = vectors.by_name(name)
    verdict = verify_text(vector["qr"], vectors.bundle, vector["now"])
    assert verdict.state.value == vector["expected"], verdict.explanation_en


def test_every_verdict_state_has_a_vector(vectors: Vectors) -> None:
    expected = {v["expected"] for v in vectors.document["vectors"]}
    assert expected == {state.value for state in VerdictState}


def test_generator_reproduces_the_vectors(vectors: Vectors, tmp_path: Path) -> None:
    fresh = make_vectors.build(tmp_path)
    bundle = TrustBundle.load(
        (tmp_path / "trust-bundle.cbor").read_bytes(),
        pinned_root=bytes.fromhex(fresh["pinned_root"]),
    )
    assert [v["name"] for v in fresh["vectors"]] == NAMES
    for new, old in zip(fresh["vectors"], vectors.document["vectors"], strict=True):
        assert verify_text(new["qr"], bundle, new["now"]).state.value == old["expected"]
        assert new["now"] == old["now"]
        if old["expected"] != "malformed":
            # Same claims; only signatures and certificate serials are new.
            assert decode(new["qr"]).claims == decode(old["qr"]).claims
    assert fresh["test_keys"].keys() == vectors.document["test_keys"].keys()
    for name, key in fresh["test_keys"].items():
        assert key["d"] == vectors.document["test_keys"][name]["d"]


def _openssl_verify(vectors: Vectors, qr: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    license = decode(qr)
    cert = vectors.bundle.keys[license.kid].certificate
    (tmp_path / "cert.der").write_bytes(cert.der)
    (tmp_path / "tbs.bin").write_bytes(license.signed_bytes)
    (tmp_path / "sig.der").write_bytes(raw_to_der(license.signature))
    subprocess.run(
        [
            "openssl",
            "x509",
            "-inform",
            "DER",
            "-in",
            "cert.der",
            "-pubkey",
            "-noout",
            "-out",
            "pub.pem",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    return subprocess.run(
        [
            "openssl",
            "dgst",
            "-sm3",
            "-verify",
            "pub.pem",
            "-sigopt",
            "distid:1234567812345678",
            "-signature",
            "sig.der",
            "tbs.bin",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")


@needs_openssl
@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith(("valid", "compromised_"))])
def test_openssl_verifies_signature_of_valid_vectors(
    vectors: Vectors, name: str, tmp_path: Path
) -> None:
    result = _openssl_verify(vectors, vectors.by_name(name)["qr"], tmp_path)
    assert result.returncode == 0 and "Verified OK" in result.stdout, result.stderr


@needs_openssl
def test_openssl_refuses_tampered_vector(vectors: Vectors, tmp_path: Path) -> None:
    result = _openssl_verify(vectors, vectors.by_name("tampered")["qr"], tmp_path)
    assert result.returncode != 0


@needs_openssl
def test_openssl_pkeyutl_rawin_verifies_too(vectors: Vectors, tmp_path: Path) -> None:
    _openssl_verify(vectors, vectors.by_name("valid")["qr"], tmp_path)
    result = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "pub.pem",
            "-rawin",
            "-digest",
            "sm3",
            "-in",
            "tbs.bin",
            "-sigfile",
            "sig.der",
            "-pkeyopt",
            "distid:1234567812345678",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "Signature Verified Successfully" in result.stdout, (
        result.stderr
    )


def qr_version(text: str) -> int:
    """The smallest QR version holding ``text`` in alphanumeric mode at error correction M."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM))
    code.make(fit=True)
    return int(code.version)


def test_typical_license_fits_qr_version_15_at_level_m(vectors: Vectors) -> None:
    qr = vectors.by_name("valid")["qr"]
    claims_size = len(decode(qr).claims.to_cbor())
    assert 300 <= claims_size <= 340  # "about 300 bytes of claims"
    assert qr_version(qr) <= 15
    # Every character is in the QR alphanumeric set, so the mode above really applies.
    assert set(qr) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def test_rendered_typical_license_reads_back(vectors: Vectors) -> None:
    qr = vectors.by_name("valid")["qr"]
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4)
    code.add_data(qrcode.util.QRData(qr, mode=qrcode.util.MODE_ALPHA_NUM))
    code.make(fit=True)
    image = code.make_image().get_image().convert("L")
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results] == [qr]


@pytest.mark.parametrize(("name", "prefix"), [("valid", "LC1Z:"), ("valid_uncompressed", "LC1:")])
def test_zlib_only_when_it_shortens_the_text(vectors: Vectors, name: str, prefix: str) -> None:
    import zlib

    from verify.license import PREFIX_PLAIN, PREFIX_ZLIB
    from verify.rfc9285 import b45decode, b45encode

    qr = vectors.by_name(name)["qr"]
    assert qr.startswith(prefix)
    if prefix == PREFIX_ZLIB:
        cose_bytes = zlib.decompress(b45decode(qr[len(PREFIX_ZLIB) :]))
        assert len(PREFIX_PLAIN + b45encode(cose_bytes)) > len(qr)
        assert decode(qr).compressed
    else:
        cose_bytes = b45decode(qr[len(PREFIX_PLAIN) :])
        assert len(PREFIX_ZLIB + b45encode(zlib.compress(cose_bytes, 9))) >= len(qr)
        assert not decode(qr).compressed
