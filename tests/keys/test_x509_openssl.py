"""SM2 certificates interoperate with the `openssl` command line (OpenSSL 3), both ways.

(a) Our root and department certificates pass `openssl verify` and `openssl x509 -text`
    shows our profile; the root's self-signature checks with `openssl dgst`.
(b) A certificate that OpenSSL issues with our root key verifies with
    `Certificate.verify_issued_by`, and our parser reads its fields and our extension.
(c) Negative: another root, altered tbsCertificate bytes, the wrong SM2 ID — refused by
    both sides.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from keys.errors import InvalidCertificate, InvalidSignature
from keys.sm2 import BACKENDS, SM2PrivateKey
from keys.x509 import (
    LICENSE_TYPES_OID,
    Certificate,
    LicenseTypes,
    issue_signing_certificate,
    make_root_certificate,
)

ID = "1234567812345678"
CREDIT_CODE = "11440000MB2C92720M"
ROUNDS = 4  # several random keys per direction


def openssl(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, check=check)


def our_pair(tmp: Path, n: int) -> tuple[SM2PrivateKey, Certificate, Certificate]:
    # Alternate the SM2 backends, so certificates signed by either one are checked.
    backend = BACKENDS[n % len(BACKENDS)]
    root_key = SM2PrivateKey.generate(backend=backend)
    assert root_key.backend == backend
    root = make_root_certificate(root_key, f"示范省根CA {n}", "示范省政务服务管理办公室")
    dept_key = SM2PrivateKey.generate(backend=backend)
    now = dt.datetime.now(dt.UTC)
    leaf = issue_signing_certificate(
        root_key,
        root,
        dept_key.public_key(),
        common_name=f"示范省市场监督管理局 密钥 {n}",
        organisation="示范省市场监督管理局",
        credit_code=CREDIT_CODE,
        license_types=["BL01", f"FL{n:02d}"],
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=365),
    )
    (tmp / "root.pem").write_bytes(root.pem())
    (tmp / "leaf.pem").write_bytes(leaf.pem())
    return root_key, root, leaf


@pytest.mark.parametrize("n", range(ROUNDS))
def test_openssl_verifies_our_certificates(tmp_path: Path, n: int) -> None:
    _root_key, root, leaf = our_pair(tmp_path, n)
    result = openssl(
        "verify", "-CAfile", tmp_path / "root.pem", "-vfyopt", f"distid:{ID}", tmp_path / "leaf.pem"
    )
    assert result.stdout.strip().endswith("leaf.pem: OK")
    # The ID matters: OpenSSL's default (empty) ID must fail.
    result = openssl("verify", "-CAfile", tmp_path / "root.pem", tmp_path / "leaf.pem", check=False)
    assert result.returncode != 0

    text = openssl("x509", "-in", tmp_path / "leaf.pem", "-noout", "-text", "-nameopt", "utf8")
    out = text.stdout
    assert out.count("Signature Algorithm: SM2-with-SM3") == 2
    assert "ASN1 OID: SM2" in out
    assert "X509v3 Basic Constraints: critical\n                CA:FALSE" in out
    assert "X509v3 Key Usage: critical\n                Digital Signature\n" in out
    assert "X509v3 Authority Key Identifier" in out
    ski = leaf.subject_key_identifier
    assert ski is not None
    assert ":".join(f"{b:02X}" for b in ski) in out
    assert f"{LICENSE_TYPES_OID}: \n" in out  # non-critical: no "critical" after it
    assert f"organizationIdentifier=NTRCN-{CREDIT_CODE}" in out
    assert f"CN=示范省市场监督管理局 密钥 {n}" in out
    serial = openssl("x509", "-in", tmp_path / "leaf.pem", "-noout", "-serial").stdout
    assert int(serial.strip().split("=")[1], 16) == leaf.serial_number

    root_text = openssl("x509", "-in", tmp_path / "root.pem", "-noout", "-text").stdout
    assert "X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0" in root_text
    assert "Digital Signature, Certificate Sign, CRL Sign" in root_text

    # The SM3 fingerprint that verifiers pin is what openssl computes over the DER.
    (tmp_path / "root.der").write_bytes(root.der)
    digest = openssl("dgst", "-sm3", "-r", tmp_path / "root.der").stdout.split()[0]
    assert digest == root.fingerprint().hex()


@pytest.mark.parametrize("n", range(2))
def test_openssl_checks_our_root_self_signature(tmp_path: Path, n: int) -> None:
    # `openssl verify -check_ss_sig` does not apply -vfyopt to the trust anchor, so the
    # root's self-signature is checked the long way: tbsCertificate, signature and public
    # key extracted by openssl, verified by `openssl dgst` with the SM2 ID.
    _key, root, _leaf = our_pair(tmp_path, n)
    pem = tmp_path / "root.pem"
    openssl("asn1parse", "-in", pem, "-strparse", "4", "-noout", "-out", tmp_path / "tbs.der")
    assert (tmp_path / "tbs.der").read_bytes() == root.tbs_der
    offset = openssl("asn1parse", "-in", pem).stdout.strip().splitlines()[-1].split(":")[0]
    openssl(
        "asn1parse", "-in", pem, "-strparse", offset.strip(), "-noout", "-out", tmp_path / "sig"
    )
    assert (tmp_path / "sig").read_bytes() == root.signature
    openssl("x509", "-in", pem, "-noout", "-pubkey", "-out", tmp_path / "pub.pem")
    args = ["dgst", "-sm3", "-verify", tmp_path / "pub.pem", "-signature", tmp_path / "sig"]
    result = openssl(*args, "-sigopt", f"distid:{ID}", tmp_path / "tbs.der")
    assert result.stdout.strip() == "Verified OK"
    result = openssl(*args, "-sigopt", "distid:1234567812345679", tmp_path / "tbs.der", check=False)
    assert result.returncode != 0


def openssl_issue(
    tmp: Path,
    root_key_pem: Path,
    root_pem: Path,
    *,
    distid: str | None = ID,
    name: str = "leaf",
) -> Path:
    """Let OpenSSL issue a department certificate with the given root key."""
    key = tmp / f"{name}.key"
    csr = tmp / f"{name}.csr"
    out = tmp / f"{name}.pem"
    ext = tmp / f"{name}.cnf"
    openssl("genpkey", "-algorithm", "SM2", "-out", key)
    openssl(
        "req", "-new", "-key", key, "-sm3", "-sigopt", f"distid:{ID}", "-out", csr,
        "-utf8", "-subj", f"/C=CN/O=示范省卫生健康委员会/CN={name}",
    )  # fmt: skip
    license_types = LicenseTypes(["YL01", "医师执业证书"]).dump().hex(":").upper()
    ext.write_text(
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid\n"
        f"{LICENSE_TYPES_OID} = DER:{license_types}\n"
    )
    sign_options = ["-sigopt", f"distid:{distid}"] if distid is not None else []
    openssl(
        "x509", "-req", "-in", csr, "-CA", root_pem, "-CAkey", root_key_pem,
        "-set_serial", "0x0123456789abcdef", "-days", "30", "-sm3", *sign_options,
        "-vfyopt", f"distid:{ID}", "-extfile", ext, "-out", out,
    )  # fmt: skip
    return out


@pytest.mark.parametrize("n", range(ROUNDS))
def test_we_verify_certificates_openssl_issues_with_our_root_key(tmp_path: Path, n: int) -> None:
    root_key, root, _leaf = our_pair(tmp_path, n)
    (tmp_path / "root.key").write_bytes(root_key.to_pem())
    issued = openssl_issue(tmp_path, tmp_path / "root.key", tmp_path / "root.pem")
    cert = Certificate.from_pem(issued.read_bytes())
    cert.verify_issued_by(root)
    assert cert.serial_number == 0x0123456789ABCDEF
    assert cert.subject_cn == "leaf"
    assert cert.subject_organisation == "示范省卫生健康委员会"
    assert cert.issuer_cn == root.subject_cn
    assert cert.license_types == ("YL01", "医师执业证书")
    assert not cert.is_ca
    assert cert.key_usage == {"digital_signature"}
    assert cert.authority_key_identifier == root.subject_key_identifier
    assert cert.not_after - cert.not_before == dt.timedelta(days=30)
    assert cert.is_valid_at(dt.datetime.now(dt.UTC))
    # And openssl agrees with itself about it.
    openssl("verify", "-CAfile", tmp_path / "root.pem", "-vfyopt", f"distid:{ID}", issued)


def test_we_refuse_what_openssl_signs_with_another_root_or_the_wrong_id(tmp_path: Path) -> None:
    root_key, root, _leaf = our_pair(tmp_path, 0)
    (tmp_path / "root.key").write_bytes(root_key.to_pem())

    # Another root with the same name and its own key, made entirely by OpenSSL.
    openssl("genpkey", "-algorithm", "SM2", "-out", tmp_path / "other.key")
    subject = "/C=CN/O=示范省政务服务管理办公室/CN=示范省根CA 0"
    openssl(
        "req", "-new", "-x509", "-key", tmp_path / "other.key", "-utf8", "-subj", subject,
        "-sm3", "-sigopt", f"distid:{ID}", "-days", "30", "-out", tmp_path / "other.pem",
        "-addext", "keyUsage = critical, keyCertSign, cRLSign",
    )  # fmt: skip
    other_root = Certificate.from_pem((tmp_path / "other.pem").read_bytes())
    assert other_root.subject_cn == root.subject_cn
    forged = openssl_issue(tmp_path, tmp_path / "other.key", tmp_path / "other.pem", name="forged")
    cert = Certificate.from_pem(forged.read_bytes())
    cert.verify_issued_by(other_root)  # genuine for its own root...
    with pytest.raises(InvalidSignature):
        cert.verify_issued_by(root)  # ...but not ours
    result = openssl(
        "verify", "-CAfile", tmp_path / "root.pem", "-vfyopt", f"distid:{ID}", forged, check=False
    )
    assert result.returncode != 0

    # Signed with our root key but OpenSSL's default (empty) SM2 ID, and with a wrong ID.
    for distid, name in ((None, "empty-id"), ("1234567812345679", "wrong-id")):
        issued = openssl_issue(
            tmp_path, tmp_path / "root.key", tmp_path / "root.pem", distid=distid, name=name
        )
        with pytest.raises(InvalidSignature):
            Certificate.from_pem(issued.read_bytes()).verify_issued_by(root)


def test_openssl_refuses_our_certificate_with_altered_tbs_or_wrong_id(tmp_path: Path) -> None:
    _root_key, root, leaf = our_pair(tmp_path, 1)
    der = bytearray(leaf.der)
    position = der.find(b"FL01")
    der[position + 3] ^= 0x02  # "FL01" -> "FL03"
    tampered = Certificate.from_der(bytes(der))
    (tmp_path / "tampered.pem").write_bytes(tampered.pem())
    with pytest.raises(InvalidSignature):
        tampered.verify_issued_by(root)
    result = openssl(
        "verify", "-CAfile", tmp_path / "root.pem", "-vfyopt", f"distid:{ID}",
        tmp_path / "tampered.pem", check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "signature failure" in result.stdout + result.stderr
    result = openssl(
        "verify", "-CAfile", tmp_path / "root.pem", "-vfyopt", "distid:1234567812345679",
        tmp_path / "leaf.pem", check=False,
    )  # fmt: skip
    assert result.returncode != 0


def test_non_sm2_certificates_are_refused(tmp_path: Path) -> None:
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", tmp_path / "ec.key")
    openssl(
        "req", "-new", "-x509", "-key", tmp_path / "ec.key", "-subj", "/CN=P-256",
        "-days", "1", "-out", tmp_path / "ec.pem",
    )  # fmt: skip
    with pytest.raises(InvalidCertificate, match="not SM2-with-SM3"):
        Certificate.from_pem((tmp_path / "ec.pem").read_bytes())
