"""SM2 X.509 certificates: the provincial root and the departments' signing certificates.

- RFC 5280 (Internet X.509 PKI certificate profile): structure, extensions (4.2.1.1
  authorityKeyIdentifier, 4.2.1.2 subjectKeyIdentifier, 4.2.1.3 keyUsage, 4.2.1.9
  basicConstraints), serial numbers (4.1.2.2: positive, at most 20 octets) and the
  UTCTime/GeneralizedTime rule for validity (4.1.2.5).
- GM/T 0015-2012 (digital certificate format based on SM2): signature algorithm
  SM2-with-SM3, OID 1.2.156.10197.1.501 with *absent* parameters, public keys on the SM2
  curve 1.2.156.10197.1.301 (as id-ecPublicKey with that named curve, which is what
  OpenSSL 3 reads and writes), signature value the DER SEQUENCE {r, s}.
- GM/T 0009-2012: the signature's Z value uses the signer ID 1234567812345678.
- ITU-T X.667: our private OIDs sit under a UUID arc, 2.25.<UUID as integer>.

Structures are built and parsed with asn1crypto. OIDs it does not know are used in
dotted form, so nothing is registered into the library's global tables.
See docs/certificates.md for the profile.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any, Final

from asn1crypto import core
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509

from keys.errors import InvalidCertificate, InvalidKey, InvalidSignature
from keys.sm2 import DEFAULT_ID, SM2PrivateKey, SM2PublicKey
from keys.sm3 import sm3
from keys.validators import validate_credit_code

__all__ = [
    "ID_EC_PUBLIC_KEY",
    "LICENSE_TYPES_OID",
    "OID_ARC",
    "SM2_CURVE_OID",
    "SM2_WITH_SM3_OID",
    "Certificate",
    "issue_signing_certificate",
    "make_root_certificate",
]

SM2_WITH_SM3_OID: Final = "1.2.156.10197.1.501"
SM2_CURVE_OID: Final = "1.2.156.10197.1.301"
ID_EC_PUBLIC_KEY: Final = "1.2.840.10045.2.1"
# ITU-T X.667 arc for this project: 2.25 + UUID 437e70d6-d826-4537-aafc-00bb7489d7c8.
OID_ARC: Final = "2.25.89714793773362166978140498985243760584"
# Non-critical extension in department signing certificates: the license-type codes the
# key may sign, as SEQUENCE OF UTF8String.
LICENSE_TYPES_OID: Final = OID_ARC + ".1"
# ETSI EN 319 412-1 clause 5.1.4 semantics for organizationIdentifier (2.5.4.97):
# "NTR" (national trade register) + ISO 3166 country + "-" + the registration number,
# here the unified social credit code.
CREDIT_CODE_PREFIX: Final = "NTRCN-"

_SERIAL_BITS: Final = 159  # positive and at most 20 octets in DER (RFC 5280 4.1.2.2)
_MAX_LICENSE_TYPES: Final = 256
_ROOT_BACKDATE: Final = dt.timedelta(hours=1)


class LicenseTypes(core.SequenceOf):  # type: ignore[misc]
    """SEQUENCE OF UTF8String: the content of the license-types extension."""

    _child_spec = core.UTF8String


def _time(value: dt.datetime) -> asn1_x509.Time:
    # RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds.
    value = value.astimezone(dt.UTC).replace(microsecond=0)
    if value.year < 2050:
        return asn1_x509.Time(name="utc_time", value=value)
    return asn1_x509.Time(name="general_time", value=value)


def _key_identifier(spki: asn1_keys.PublicKeyInfo) -> bytes:
    # RFC 5280 4.2.1.2 method (1), with SM3 in place of SHA-1 and truncated to the same
    # 160 bits (as RFC 7093 does for SHA-2): a hash of the subjectPublicKey BIT STRING.
    return sm3(bytes(spki["public_key"].contents[1:]))[:20]


def _signature_algorithm() -> asn1_x509.SignedDigestAlgorithm:
    # GM/T 0015: the parameters field is absent (not NULL).
    return asn1_x509.SignedDigestAlgorithm({"algorithm": SM2_WITH_SM3_OID})


def _name(common_name: str, organisation: str, credit_code: str | None) -> asn1_x509.Name:
    for label, value in (("common_name", common_name), ("organisation", organisation)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{label} must be a non-empty string")
    attributes: dict[str, str] = {
        "country_name": "CN",
        "organization_name": organisation,
        "common_name": common_name,
    }
    if credit_code is not None:
        attributes["organization_identifier"] = CREDIT_CODE_PREFIX + credit_code
    # use_printable=False: UTF8String for Chinese names (RFC 5280 4.1.2.4).
    return asn1_x509.Name.build(attributes, use_printable=False)


def _extension(oid: str, critical: bool, value: Any) -> dict[str, Any]:
    return {"extn_id": oid, "critical": critical, "extn_value": value}


def _sign(
    key: SM2PrivateKey,
    tbs: asn1_x509.TbsCertificate,
) -> Certificate:
    tbs_der = tbs.dump()
    signature = key.sign(tbs_der, signer_id=DEFAULT_ID)
    cert = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": _signature_algorithm(),
            "signature_value": signature,
        }
    )
    return Certificate.from_der(cert.dump())


def _spki(public_key: SM2PublicKey) -> asn1_keys.PublicKeyInfo:
    return asn1_keys.PublicKeyInfo.load(public_key.to_der())


def _serial() -> int:
    return secrets.randbits(_SERIAL_BITS) or 1


def _aware(value: dt.datetime, label: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError(f"{label} must be a timezone-aware datetime")
    return value.astimezone(dt.UTC).replace(microsecond=0)


class Certificate:
    """An SM2 X.509 certificate (immutable; wraps the DER bytes and their parse)."""

    __slots__ = ("_cert", "_der", "_public_key")

    def __init__(self, der: bytes, parsed: asn1_x509.Certificate, public_key: SM2PublicKey):
        self._der = der
        self._cert = parsed
        self._public_key = public_key

    # --- loading ---------------------------------------------------------------------

    @classmethod
    def from_der(cls, der: bytes) -> Certificate:
        """Parse a DER certificate; it must be SM2-with-SM3 over an SM2 public key.

        Raises :class:`keys.errors.InvalidCertificate` for anything else.
        """
        if not isinstance(der, bytes | bytearray):
            raise InvalidCertificate("a certificate must be given as bytes")
        der = bytes(der)
        try:
            parsed = asn1_x509.Certificate.load(der, strict=True)
            # Force a full parse now, so that malformed inner fields fail here and not
            # later in a property.
            parsed.native  # noqa: B018
            algorithm = parsed["signature_algorithm"]["algorithm"].dotted
            inner = parsed["tbs_certificate"]["signature"]["algorithm"].dotted
            spki_der = parsed["tbs_certificate"]["subject_public_key_info"].dump()
        except Exception as exc:
            # asn1crypto signals malformed input with assorted exception types
            # (ValueError, TypeError, AttributeError on some unexpected tags, ...); every
            # one of them means "not a certificate" to our callers.
            raise InvalidCertificate(f"not a DER X.509 certificate: {exc}") from None
        if algorithm != SM2_WITH_SM3_OID or inner != SM2_WITH_SM3_OID:
            raise InvalidCertificate(
                f"certificate is signed with {algorithm}, not SM2-with-SM3 ({SM2_WITH_SM3_OID})"
            )
        try:
            public_key = SM2PublicKey.from_der(spki_der)
        except InvalidKey as exc:
            raise InvalidCertificate(
                f"certificate does not hold an SM2 public key: {exc}"
            ) from None
        return cls(der, parsed, public_key)

    @classmethod
    def from_pem(cls, data: bytes | str) -> Certificate:
        """Parse a PEM ``CERTIFICATE`` block."""
        raw = data.encode("ascii") if isinstance(data, str) else data
        try:
            kind, _headers, der = asn1_pem.unarmor(raw)
        except (ValueError, TypeError) as exc:
            raise InvalidCertificate(f"not a PEM certificate: {exc}") from None
        if kind != "CERTIFICATE":
            raise InvalidCertificate(f"PEM block is {kind!r}, expected 'CERTIFICATE'")
        return cls.from_der(der)

    # --- encodings and identifiers ---------------------------------------------------

    @property
    def der(self) -> bytes:
        """The DER encoding, byte for byte as loaded or issued."""
        return self._der

    def pem(self) -> bytes:
        """The PEM encoding (``-----BEGIN CERTIFICATE-----``)."""
        result: bytes = asn1_pem.armor("CERTIFICATE", self._der)
        return result

    def fingerprint(self) -> bytes:
        """SM3 over the DER encoding (32 bytes); verifiers pin the root by this."""
        return sm3(self._der)

    @property
    def kid(self) -> bytes:
        """Key identifier used in COSE headers: the first 8 bytes of SM3 over the DER."""
        return self.fingerprint()[:8]

    # --- fields ----------------------------------------------------------------------

    @property
    def _tbs(self) -> asn1_x509.TbsCertificate:
        return self._cert["tbs_certificate"]

    @property
    def tbs_der(self) -> bytes:
        """The signed part (tbsCertificate) as it appears in the DER."""
        result: bytes = self._tbs.dump()
        return result

    @property
    def signature(self) -> bytes:
        """The signature value: DER SEQUENCE {r, s}."""
        result: bytes = self._cert["signature_value"].native
        return result

    @property
    def serial_number(self) -> int:
        result: int = self._tbs["serial_number"].native
        return result

    @property
    def not_before(self) -> dt.datetime:
        result: dt.datetime = self._tbs["validity"]["not_before"].native
        return result.astimezone(dt.UTC)

    @property
    def not_after(self) -> dt.datetime:
        result: dt.datetime = self._tbs["validity"]["not_after"].native
        return result.astimezone(dt.UTC)

    def _attribute(self, name: asn1_x509.Name, attribute: str) -> str | None:
        value = name.native.get(attribute)
        if isinstance(value, list):  # a multi-valued attribute: take the first
            value = value[0]
        return value if isinstance(value, str) else None

    @property
    def subject_cn(self) -> str:
        return self._attribute(self._tbs["subject"], "common_name") or ""

    @property
    def subject_organisation(self) -> str:
        return self._attribute(self._tbs["subject"], "organization_name") or ""

    @property
    def issuer_cn(self) -> str:
        return self._attribute(self._tbs["issuer"], "common_name") or ""

    @property
    def credit_code(self) -> str | None:
        """The subject's unified social credit code (from organizationIdentifier)."""
        value = self._attribute(self._tbs["subject"], "organization_identifier")
        if value is None or not value.startswith(CREDIT_CODE_PREFIX):
            return None
        return value[len(CREDIT_CODE_PREFIX) :]

    def _extension_value(self, oid: str) -> Any:
        for extension in self._tbs["extensions"]:
            if extension["extn_id"].dotted == oid:
                return extension["extn_value"]
        return None

    @property
    def is_ca(self) -> bool:
        value = self._cert.basic_constraints_value
        return bool(value is not None and value["ca"].native)

    @property
    def may_issue_certificates(self) -> bool:
        """CA:TRUE and, if keyUsage is present, keyCertSign (RFC 5280 4.2.1.3, 4.2.1.9)."""
        usage = self._cert.key_usage_value
        return self.is_ca and (usage is None or "key_cert_sign" in usage.native)

    @property
    def key_usage(self) -> frozenset[str]:
        value = self._cert.key_usage_value
        return frozenset(value.native) if value is not None else frozenset()

    @property
    def subject_key_identifier(self) -> bytes | None:
        value = self._cert.key_identifier_value
        return bytes(value.native) if value is not None else None

    @property
    def authority_key_identifier(self) -> bytes | None:
        value = self._cert.authority_key_identifier
        return bytes(value) if value is not None else None

    @property
    def license_types(self) -> tuple[str, ...]:
        """License-type codes this certificate's key may sign (empty if none named)."""
        value = self._extension_value(LICENSE_TYPES_OID)
        if value is None:
            return ()
        try:
            parsed = LicenseTypes.load(bytes(value.contents), strict=True)
            return tuple(str(item) for item in parsed.native)
        except (ValueError, TypeError) as exc:
            raise InvalidCertificate(f"malformed license-types extension: {exc}") from None

    def public_key(self) -> SM2PublicKey:
        return self._public_key

    def is_valid_at(self, when: dt.datetime) -> bool:
        """Whether ``when`` (aware) falls inside the validity period, bounds included."""
        return self.not_before <= _aware(when, "when") <= self.not_after

    # --- verification ----------------------------------------------------------------

    def verify_issued_by(self, issuer: Certificate) -> None:
        """Check that ``issuer`` issued this certificate; raises ``InvalidSignature``.

        The issuer must be a CA allowed to sign certificates (keyCertSign if it has a
        keyUsage extension), its subject must equal this
        certificate's issuer name, and the SM2-with-SM3 signature (signer ID
        1234567812345678) over tbsCertificate must verify with the issuer's public key.
        Validity periods are not checked here (see :meth:`is_valid_at`).
        """
        if not issuer.may_issue_certificates:
            raise InvalidSignature(
                "the issuer certificate is not a CA allowed to sign certificates"
            )
        if issuer._tbs["subject"].dump() != self._tbs["issuer"].dump():
            raise InvalidSignature("the certificate's issuer name is not the issuer's subject")
        issuer.public_key().verify(self.signature, self.tbs_der, signer_id=DEFAULT_ID)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Certificate) and other._der == self._der

    def __hash__(self) -> int:
        return hash(self._der)

    def __repr__(self) -> str:
        return (
            f"Certificate(subject_cn={self.subject_cn!r}, serial={self.serial_number:#x}, "
            f"ca={self.is_ca})"
        )


# --- issuing ---------------------------------------------------------------------------


def make_root_certificate(
    key: SM2PrivateKey,
    common_name: str,
    organisation: str,
    *,
    days: int = 3650,
    not_before: dt.datetime | None = None,
) -> Certificate:
    """A self-signed provincial root: CA, may sign certificates, CRLs and trust bundles.

    ``not_before`` defaults to an hour ago, so that certificates issued right away and
    clocks running slightly behind are inside its validity; the root is valid for
    ``days`` days from ``not_before``.
    """
    if days <= 0:
        raise ValueError("days must be positive")
    start = _aware(not_before or dt.datetime.now(dt.UTC) - _ROOT_BACKDATE, "not_before")
    spki = _spki(key.public_key())
    name = _name(common_name, organisation, None)
    key_id = _key_identifier(spki)
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": _serial(),
            "signature": _signature_algorithm(),
            "issuer": name,
            "validity": {
                "not_before": _time(start),
                "not_after": _time(start + dt.timedelta(days=days)),
            },
            "subject": name,
            "subject_public_key_info": spki,
            "extensions": [
                # Path length 0: department certificates cannot issue certificates.
                _extension("basic_constraints", True, {"ca": True, "path_len_constraint": 0}),
                # digitalSignature because the root also signs the trust bundle.
                _extension(
                    "key_usage",
                    True,
                    {"digital_signature", "key_cert_sign", "crl_sign"},
                ),
                _extension("key_identifier", False, key_id),
            ],
        }
    )
    return _sign(key, tbs)


def _check_license_types(license_types: Sequence[str]) -> list[str]:
    if isinstance(license_types, str) or not license_types:
        raise ValueError("license_types must be a non-empty list of license-type codes")
    if len(license_types) > _MAX_LICENSE_TYPES:
        raise ValueError(f"at most {_MAX_LICENSE_TYPES} license types per certificate")
    codes = list(license_types)
    for code in codes:
        if not isinstance(code, str) or not code.strip() or code != code.strip():
            raise ValueError("each license-type code must be a non-empty string without spaces")
    if len(set(codes)) != len(codes):
        raise ValueError("license-type codes must not repeat")
    return codes


def issue_signing_certificate(
    issuer_key: SM2PrivateKey,
    issuer_cert: Certificate,
    subject_key: SM2PublicKey,
    *,
    common_name: str,
    organisation: str,
    credit_code: str,
    license_types: list[str],
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> Certificate:
    """A department signing certificate naming the license types its key may sign.

    The validity must lie within the issuer's; ``issuer_key`` must belong to
    ``issuer_cert``, which must be a CA. ``credit_code`` is the department's unified social
    credit code (validated); it goes into the subject's organizationIdentifier.
    """
    if not issuer_cert.may_issue_certificates:
        raise ValueError("the issuer certificate is not a CA allowed to sign certificates")
    if issuer_key.public_key().to_der() != issuer_cert.public_key().to_der():
        raise InvalidKey("issuer_key does not belong to issuer_cert")
    code = validate_credit_code(credit_code)
    codes = _check_license_types(license_types)
    start, end = _aware(not_before, "not_before"), _aware(not_after, "not_after")
    if end <= start:
        raise ValueError("not_after must be later than not_before")
    if start < issuer_cert.not_before or end > issuer_cert.not_after:
        raise ValueError("the validity must lie within the issuer certificate's validity")
    spki = _spki(subject_key)
    issuer_key_id = issuer_cert.subject_key_identifier or _key_identifier(
        _spki(issuer_cert.public_key())
    )
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": _serial(),
            "signature": _signature_algorithm(),
            # Reuse the issuer's encoded subject so the names match byte for byte.
            "issuer": issuer_cert._tbs["subject"].copy(),
            "validity": {"not_before": _time(start), "not_after": _time(end)},
            "subject": _name(common_name, organisation, code),
            "subject_public_key_info": spki,
            "extensions": [
                _extension("basic_constraints", True, {"ca": False}),
                _extension("key_usage", True, {"digital_signature"}),
                _extension("authority_key_identifier", False, {"key_identifier": issuer_key_id}),
                _extension("key_identifier", False, _key_identifier(spki)),
                _extension(LICENSE_TYPES_OID, False, LicenseTypes(codes).dump()),
            ],
        }
    )
    return _sign(issuer_key, tbs)
