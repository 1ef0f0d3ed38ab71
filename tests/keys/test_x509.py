"""SM2 X.509 profile (keys/x509.py): structure, fields, and refusals."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from asn1crypto import x509 as asn1_x509

from keys.errors import InvalidCertificate, InvalidKey, InvalidSignature
from keys.sm2 import SM2PrivateKey
from keys.validators import InvalidCreditCode
from keys.x509 import (
    LICENSE_TYPES_OID,
    Certificate,
    issue_signing_certificate,
    make_root_certificate,
)

CREDIT_CODE = "11440000MB2C92720M"
NOW = dt.datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def root_key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


@pytest.fixture(scope="module")
def root(root_key: SM2PrivateKey) -> Certificate:
    return make_root_certificate(
        root_key, "示范省电子证照根CA", "示范省政务服务管理办公室", days=3650, not_before=NOW
    )


@pytest.fixture(scope="module")
def dept_key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


def issue(
    root_key: SM2PrivateKey, root: Certificate, dept_key: SM2PrivateKey, **overrides: object
) -> Certificate:
    arguments: dict[str, object] = {
        "common_name": "示范省市场监督管理局 证照签名密钥 1",
        "organisation": "示范省市场监督管理局",
        "credit_code": CREDIT_CODE,
        "license_types": ["BL01", "FL02", "食品经营许可证"],
        "not_before": NOW,
        "not_after": NOW + dt.timedelta(days=730),
    }
    arguments.update(overrides)
    return issue_signing_certificate(root_key, root, dept_key.public_key(), **arguments)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def leaf(root_key: SM2PrivateKey, root: Certificate, dept_key: SM2PrivateKey) -> Certificate:
    return issue(root_key, root, dept_key)


def extensions(cert: Certificate) -> dict[str, asn1_x509.Extension]:
    parsed = asn1_x509.Certificate.load(cert.der)
    return {e["extn_id"].dotted: e for e in parsed["tbs_certificate"]["extensions"]}


def test_root_profile(root: Certificate, root_key: SM2PrivateKey) -> None:
    assert root.is_ca and root.may_issue_certificates
    assert root.subject_cn == "示范省电子证照根CA"
    assert root.subject_organisation == "示范省政务服务管理办公室"
    assert root.issuer_cn == root.subject_cn
    assert root.credit_code is None
    assert root.license_types == ()
    assert root.not_before == NOW.replace(microsecond=0)
    assert root.not_after == NOW.replace(microsecond=0) + dt.timedelta(days=3650)
    assert root.not_before.tzinfo is not None
    assert root.key_usage == {"digital_signature", "key_cert_sign", "crl_sign"}
    assert root.public_key().to_der() == root_key.public_key().to_der()
    ext = extensions(root)
    assert ext["2.5.29.19"]["critical"].native is True
    assert ext["2.5.29.19"]["extn_value"].parsed.native == {"ca": True, "path_len_constraint": 0}
    assert ext["2.5.29.15"]["critical"].native is True
    assert ext["2.5.29.14"]["critical"].native is False
    assert root.subject_key_identifier is not None and len(root.subject_key_identifier) == 20
    root.verify_issued_by(root)  # self-signed


def test_signing_certificate_profile(leaf: Certificate, root: Certificate) -> None:
    assert not leaf.is_ca and not leaf.may_issue_certificates
    assert leaf.subject_cn == "示范省市场监督管理局 证照签名密钥 1"
    assert leaf.issuer_cn == root.subject_cn
    assert leaf.credit_code == CREDIT_CODE
    assert leaf.license_types == ("BL01", "FL02", "食品经营许可证")
    assert leaf.key_usage == {"digital_signature"}
    assert leaf.authority_key_identifier == root.subject_key_identifier
    assert leaf.subject_key_identifier not in (None, root.subject_key_identifier)
    ext = extensions(leaf)
    assert ext["2.5.29.19"]["critical"].native is True
    assert ext["2.5.29.19"]["extn_value"].parsed.native["ca"] is False
    assert ext["2.5.29.15"]["critical"].native is True
    assert ext[LICENSE_TYPES_OID]["critical"].native is False
    # SEQUENCE OF UTF8String, exactly.
    assert ext[LICENSE_TYPES_OID]["extn_value"].contents.startswith(b"\x30")
    assert b"\x0c\x04BL01\x0c\x04FL02" in ext[LICENSE_TYPES_OID]["extn_value"].contents
    subject = asn1_x509.Certificate.load(leaf.der)["tbs_certificate"]["subject"].native
    assert subject["organization_identifier"] == f"NTRCN-{CREDIT_CODE}"
    assert subject["country_name"] == "CN"
    leaf.verify_issued_by(root)


def test_signature_algorithm_has_absent_parameters(leaf: Certificate) -> None:
    # SEQUENCE { OID 1.2.156.10197.1.501 } and nothing else: GM/T 0015.
    algorithm = bytes.fromhex("300a06082a811ccf55018375")
    parsed = asn1_x509.Certificate.load(leaf.der)
    assert parsed["signature_algorithm"].dump() == algorithm
    assert parsed["tbs_certificate"]["signature"].dump() == algorithm


def test_serial_numbers_are_random_positive_and_short(
    root_key: SM2PrivateKey, root: Certificate, dept_key: SM2PrivateKey
) -> None:
    serials = {issue(root_key, root, dept_key).serial_number for _ in range(8)}
    assert len(serials) == 8
    for serial in serials:
        assert 0 < serial < 2**159
        encoded = asn1_x509.Certificate.load(issue(root_key, root, dept_key).der)[
            "tbs_certificate"
        ]["serial_number"].contents
        assert len(encoded) <= 20


def test_encodings_and_identifiers(leaf: Certificate) -> None:
    assert Certificate.from_der(leaf.der) == leaf
    assert Certificate.from_pem(leaf.pem()) == leaf
    assert Certificate.from_pem(leaf.pem().decode()) == leaf
    assert leaf.pem().startswith(b"-----BEGIN CERTIFICATE-----")
    assert len(leaf.fingerprint()) == 32
    assert leaf.kid == leaf.fingerprint()[:8]
    assert hash(leaf) == hash(Certificate.from_der(leaf.der))
    assert "示范省市场监督管理局" in repr(leaf)
    assert leaf.signature.startswith(b"\x30")
    assert leaf.der.find(leaf.tbs_der) == 4


def test_validity_checks(leaf: Certificate) -> None:
    assert leaf.is_valid_at(NOW)
    assert leaf.is_valid_at(NOW + dt.timedelta(days=730))
    assert not leaf.is_valid_at(NOW - dt.timedelta(seconds=1))
    assert not leaf.is_valid_at(NOW + dt.timedelta(days=731))
    with pytest.raises(ValueError):
        leaf.is_valid_at(dt.datetime(2026, 3, 2))


def test_generalized_time_from_2050() -> None:
    key = SM2PrivateKey.generate()
    start = dt.datetime(2049, 6, 1, tzinfo=dt.UTC)
    root = make_root_certificate(key, "Root", "Org", days=400, not_before=start)
    validity = asn1_x509.Certificate.load(root.der)["tbs_certificate"]["validity"]
    assert validity["not_before"].name == "utc_time"
    assert validity["not_after"].name == "general_time"
    assert root.not_after == start + dt.timedelta(days=400)


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"credit_code": "91110000600037341N"}, InvalidCreditCode, "check character"),
        ({"license_types": []}, ValueError, "non-empty list"),
        ({"license_types": "BL01"}, ValueError, "non-empty list"),
        ({"license_types": ["BL01", "BL01"]}, ValueError, "repeat"),
        ({"license_types": ["BL01", " "]}, ValueError, "without spaces"),
        ({"common_name": ""}, ValueError, "common_name"),
        ({"organisation": "  "}, ValueError, "organisation"),
        ({"not_before": dt.datetime(2026, 3, 1)}, ValueError, "timezone-aware"),
        ({"not_after": NOW}, ValueError, "later than"),
        ({"not_before": NOW - dt.timedelta(days=1)}, ValueError, "within the issuer"),
        ({"not_after": NOW + dt.timedelta(days=4000)}, ValueError, "within the issuer"),
    ],
)
def test_bad_issuance_parameters_are_refused(
    root_key: SM2PrivateKey,
    root: Certificate,
    dept_key: SM2PrivateKey,
    overrides: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        issue(root_key, root, dept_key, **overrides)


def test_only_a_ca_with_its_own_key_can_issue(
    root_key: SM2PrivateKey, root: Certificate, dept_key: SM2PrivateKey, leaf: Certificate
) -> None:
    with pytest.raises(ValueError, match="not a CA"):
        issue(dept_key, leaf, SM2PrivateKey.generate())
    with pytest.raises(InvalidKey, match="does not belong"):
        issue(SM2PrivateKey.generate(), root, dept_key)
    with pytest.raises(ValueError):
        make_root_certificate(root_key, "Root", "Org", days=0)


def test_verify_issued_by_refusals(
    root_key: SM2PrivateKey, root: Certificate, dept_key: SM2PrivateKey, leaf: Certificate
) -> None:
    # A leaf cannot be anyone's issuer, not even its own.
    with pytest.raises(InvalidSignature, match="not a CA"):
        leaf.verify_issued_by(leaf)
    # Another root with a different name: the issuer name does not match.
    other_key = SM2PrivateKey.generate()
    other = make_root_certificate(other_key, "另一个根", "Org", not_before=NOW)
    with pytest.raises(InvalidSignature, match="issuer name"):
        leaf.verify_issued_by(other)
    # Another root with the very same name: only the signature can tell.
    twin = make_root_certificate(
        other_key, "示范省电子证照根CA", "示范省政务服务管理办公室", not_before=NOW
    )
    with pytest.raises(InvalidSignature):
        leaf.verify_issued_by(twin)
    with pytest.raises(InvalidSignature):
        root.verify_issued_by(twin)


def test_tampered_tbs_is_refused(leaf: Certificate, root: Certificate) -> None:
    der = bytearray(leaf.der)
    position = der.find(b"FL02")
    der[position + 3] ^= 0x01  # "FL02" -> "FL03": still a well-formed certificate
    tampered = Certificate.from_der(bytes(der))
    assert tampered.license_types == ("BL01", "FL03", "食品经营许可证")
    with pytest.raises(InvalidSignature):
        tampered.verify_issued_by(root)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30\x03\x02\x01\x01", b"not a certificate", b"\x30\x82\xff\xff" + b"\x00" * 10],
)
def test_garbage_is_not_a_certificate(data: bytes) -> None:
    with pytest.raises(InvalidCertificate):
        Certificate.from_der(data)


def test_pem_errors(leaf: Certificate) -> None:
    with pytest.raises(InvalidCertificate, match="PEM"):
        Certificate.from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA")
    key_pem = SM2PrivateKey.generate().to_pem()
    with pytest.raises(InvalidCertificate, match="PRIVATE KEY"):
        Certificate.from_pem(key_pem)
    truncated = leaf.pem()[: len(leaf.pem()) // 2] + b"\n-----END CERTIFICATE-----\n"
    with pytest.raises(InvalidCertificate):
        Certificate.from_pem(truncated)


def test_invalid_certificate_is_a_value_error() -> None:
    assert issubclass(InvalidCertificate, ValueError)


def test_mutated_certificates_never_crash_and_never_verify(
    root: Certificate, leaf: Certificate
) -> None:
    # Deterministic mutation fuzzing: random byte changes, deletions and insertions.
    # Every result is either refused while parsing or refused by verify_issued_by.
    rng = random.Random(20261127)
    for original in (root.der, leaf.der):
        for _ in range(1500):
            data = bytearray(original)
            for _ in range(rng.randint(1, 3)):
                position = rng.randrange(len(data))
                choice = rng.random()
                if choice < 0.6:
                    data[position] = rng.randrange(256)
                elif choice < 0.8:
                    del data[position : position + rng.randint(1, 5)]
                else:
                    data[position:position] = rng.randbytes(rng.randint(1, 3))
            if bytes(data) == original:
                continue
            try:
                cert = Certificate.from_der(bytes(data))
            except InvalidCertificate:
                continue
            with pytest.raises(InvalidSignature):
                cert.verify_issued_by(root)
