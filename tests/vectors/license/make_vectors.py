"""Generate the license test vectors of docs/license-format.md, section "Test vectors".

    python -m tests.vectors.license.make_vectors [OUTPUT_DIR]   (default: this directory)

Writes ``vectors.json`` (the QR texts, the time each is checked at, the expected
verdict) and ``trust-bundle.cbor`` (the bundle they are checked against). Keys are
fixed and documented (``TEST_KEYS``: d = SM3(label) as a big-endian integer; never use
them for anything else); claims, salts and times are fixed. SM2 signatures are
randomised and certificates get random serial numbers, so a new run gives new bytes
with the same meaning: tests check verdicts, never bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import cbor2

from keys.sm2 import SM2PrivateKey
from keys.sm3 import sm3
from keys.validators import credit_code_check_char, organisation_code_check_char
from keys.x509 import Certificate, issue_signing_certificate, make_root_certificate
from verify import cose
from verify.bundle import BundleKey, build_bundle
from verify.claims import LicenseClaims, holder_digest
from verify.encode import encode
from verify.license import PREFIX_PLAIN, PREFIX_ZLIB
from verify.rfc9285 import b45encode
from verify.status import LicenseStatus, StatusList

HERE = Path(__file__).resolve().parent

#: Labels of the fixed test keys: d = int.from_bytes(SM3(label), "big").
TEST_KEYS = {
    "root": "Authority test vectors: provincial root key",
    "department": "Authority test vectors: department signing key",
    "compromised": "Authority test vectors: compromised department key",
    "rogue": "Authority test vectors: key that is in no bundle",
}


def _utc(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp())


# The timeline of the vectors (Unix seconds, UTC).
CERTS_FROM, CERTS_UNTIL = _utc(2025, 1, 1), _utc(2030, 1, 1)
ISSUED = _utc(2026, 1, 1)  # iat and nbf of the licenses
EXPIRES = _utc(2031, 1, 1)
COMPROMISED_AT = _utc(2026, 3, 1)
BUNDLE_ISSUED, BUNDLE_NEXT = _utc(2026, 6, 1), _utc(2026, 6, 8)
NOW = _utc(2026, 6, 2)  # when the vectors are checked, unless a vector says otherwise

TYPE_DRIVING = "JDCJSZ"  # 机动车驾驶证: the department may sign it
TYPE_OTHER = "YYZZ"  # 营业执照: the department may not


def test_key(name: str) -> SM2PrivateKey:
    """The fixed test key called ``name`` in TEST_KEYS."""
    return SM2PrivateKey.from_int(int.from_bytes(sm3(TEST_KEYS[name].encode()), "big"))


def credit_code(region: str, organisation: str, kind: str = "11") -> str:
    """A valid GB 32100-2015 code: ``kind`` 11 a government body, 91 a company."""
    org = organisation + organisation_code_check_char(organisation)
    first17 = kind + region + org
    return first17 + credit_code_check_char(first17)


DEPARTMENT_CODE = credit_code("440000", "00700001")  # the department of the vectors
OTHER_CODE = credit_code("440000", "00700002")  # a body that signs nothing here


def _license_id(type_code: str, issuer: str, serial: int) -> str:
    """GB/T 36904 style: type, issuer, serial, version, ISO 7064 MOD 37,36 check."""
    body = f"{type_code}{issuer}{serial:08d}01"
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    p = 36
    for char in body:
        s = (p + alphabet.index(char)) % 36 or 36
        p = (2 * s) % 37
    check = alphabet[(1 - p) % 36]
    return f"{type_code}-{issuer}-{serial:08d}-01-{check}"


def typical_claims(serial: int = 1, **changes: Any) -> LicenseClaims:
    """A typical driving licence, about 300 bytes of CBOR claims."""
    salt = sm3(f"salt {serial}".encode())[:16]
    claims = LicenseClaims(
        issuer=DEPARTMENT_CODE,
        license_id=_license_id(TYPE_DRIVING, DEPARTMENT_CODE, serial),
        type_code=TYPE_DRIVING,
        holder_name="张三",
        holder_id_masked="440106********123X",
        holder_id_digest=holder_digest("44010619900307123X", salt),
        holder_id_salt=salt,
        fields={
            "准驾车型": "C1",
            "初次领证日期": "2016-03-07",
            "住址": "广州市天河区体育西路103号",
            "发证机关": "广东省广州市公安局交通警察支队",
        },
        iat=ISSUED,
        nbf=ISSUED,
        exp=EXPIRES,
        status_index=serial,
    )
    return replace(claims, **changes)


COMPANY_CODE = credit_code("440101", "MA5D1234", "91")  # a company holding a license


def small_claims(serial: int) -> LicenseClaims:
    """A license so small and varied that zlib does not shorten it (the LC1: prefix).

    The holder is a company: its credit code is public and is shown unmasked.
    """
    return typical_claims(
        serial,
        license_id=f"GZ{serial}",
        fields={},
        holder_name="广州某某科技有限公司",
        holder_id_masked=COMPANY_CODE,
        holder_id_digest=holder_digest(COMPANY_CODE, sm3(f"salt {serial}".encode())[:16]),
        exp=None,
    )


def certificates() -> dict[str, Certificate]:
    """Root and department certificates for the fixed test keys (new serials each call)."""
    root_key = test_key("root")
    root = make_root_certificate(
        root_key,
        "省级电子证照根 (test vectors)",
        "Authority test vectors",
        not_before=dt.datetime.fromtimestamp(CERTS_FROM - 86400, dt.UTC),
        days=3660,
    )

    def department(name: str) -> Certificate:
        return issue_signing_certificate(
            root_key,
            root,
            test_key(name).public_key(),
            common_name=f"{name} signing key (test vectors)",
            organisation="广东省公安厅 (test vectors)",
            credit_code=DEPARTMENT_CODE,
            license_types=[TYPE_DRIVING],
            not_before=dt.datetime.fromtimestamp(CERTS_FROM, dt.UTC),
            not_after=dt.datetime.fromtimestamp(CERTS_UNTIL, dt.UTC),
        )

    # The rogue certificate is issued by the root but left out of the bundle.
    return {
        "root": root,
        "department": department("department"),
        "compromised": department("compromised"),
        "rogue": department("rogue"),
    }


def _reencode(text: str, mutate: Any) -> str:
    """Decode a QR text to its COSE array, let ``mutate`` change it, encode again."""
    raw = _cose_bytes(text)
    message = cbor2.loads(raw)
    parts = list(message.value)
    mutate(parts)
    return PREFIX_PLAIN + b45encode(cbor2.dumps(cbor2.CBORTag(18, parts)))


def _cose_bytes(text: str) -> bytes:
    from verify.rfc9285 import b45decode

    if text.startswith(PREFIX_ZLIB):
        return zlib.decompress(b45decode(text[len(PREFIX_ZLIB) :]))
    return b45decode(text[len(PREFIX_PLAIN) :])


def build(out: Path) -> dict[str, Any]:
    """Write the vectors and their bundle into ``out``; return the vectors document."""
    certs = certificates()
    dept_key, dept_kid = test_key("department"), certs["department"].kid
    comp_key, comp_kid = test_key("compromised"), certs["compromised"].kid
    vectors: list[dict[str, Any]] = []

    def add(name: str, qr: str, expected: str, description: str, now: int = NOW) -> None:
        vectors.append(
            {"name": name, "description": description, "qr": qr, "now": now, "expected": expected}
        )

    valid = encode(typical_claims(1), dept_key, dept_kid)
    add("valid", valid, "valid", "a typical license (zlib-compressed, prefix LC1Z:)")
    small = encode(small_claims(2), dept_key, dept_kid)
    assert valid.startswith(PREFIX_ZLIB) and small.startswith(PREFIX_PLAIN)
    add(
        "valid_uncompressed",
        small,
        "valid",
        "a small license without expiry that zlib does not shorten (prefix LC1:)",
    )
    add(
        "valid_stale",
        valid,
        "valid_stale",
        "the valid license checked after the bundle's next_update",
        now=BUNDLE_NEXT + 86400,
    )
    add(
        "valid_clock_behind",
        valid,
        "valid",
        "checked with a clock before the bundle's issued_at: the bundle's time is used",
        now=ISSUED - 400 * 86400,
    )

    def tamper(parts: list[Any]) -> None:
        payload = cbor2.loads(parts[2])
        payload[4] = "王五"  # the holder's name
        parts[2] = cbor2.dumps(payload, canonical=True)

    tampered = _reencode(valid, tamper)
    add("tampered", tampered, "bad_signature", "the holder name changed after signing")

    def swap_signature(parts: list[Any]) -> None:
        parts[3] = bytes(64 - 1) + b"\x01"

    add("bad_signature", _reencode(valid, swap_signature), "bad_signature", "r = 0, s = 1")
    add(
        "unknown_kid",
        encode(typical_claims(3), test_key("rogue"), certs["rogue"].kid),
        "unknown_key",
        "signed by a key whose certificate is not in the bundle",
    )
    add(
        "expired",
        encode(typical_claims(4, exp=ISSUED + 86400), dept_key, dept_kid),
        "expired",
        "exp one day after iat",
    )
    add(
        "not_yet_valid",
        encode(typical_claims(5, nbf=_utc(2027, 1, 1)), dept_key, dept_kid),
        "not_yet_valid",
        "nbf in 2027",
    )
    add("revoked", encode(typical_claims(6), dept_key, dept_kid), "revoked", "status 2")
    add("suspended", encode(typical_claims(7), dept_key, dept_kid), "suspended", "status 1")
    add(
        "wrong_type",
        encode(typical_claims(8, type_code=TYPE_OTHER), dept_key, dept_kid),
        "not_authorised",
        f"type {TYPE_OTHER} is not among the certificate's license types",
    )
    add(
        "wrong_issuer",
        encode(typical_claims(9, issuer=OTHER_CODE), dept_key, dept_kid),
        "not_authorised",
        "the issuer credit code is not the signing certificate's",
    )
    add(
        "signed_before_cert",
        encode(typical_claims(10, iat=CERTS_FROM - 86400), dept_key, dept_kid),
        "not_authorised",
        "iat before the signing certificate's notBefore",
    )
    add(
        "compromised_after",
        encode(typical_claims(11, iat=COMPROMISED_AT + 3600), comp_key, comp_kid),
        "key_compromised",
        "signed after its key was reported compromised",
    )
    add(
        "compromised_before",
        encode(typical_claims(12), comp_key, comp_kid),
        "valid",
        "signed by the same key before it was reported compromised",
    )
    add(
        "newer_than_bundle",
        encode(typical_claims(1000, iat=BUNDLE_ISSUED + 3600), dept_key, dept_kid),
        "valid_stale",
        "signed after the bundle was issued: its status index is beyond the status list",
    )

    # Malformed ones: each breaks one rule of the format.
    cose_valid = _cose_bytes(valid)
    add("malformed_prefix", "HC1:" + valid[5:], "malformed", "unknown prefix")
    add("malformed_base45", valid[:-1] + "a", "malformed", "lower-case letter: not Base45")
    body = valid[len(PREFIX_ZLIB) :]
    body = body[:-1] if len(body) % 3 == 2 else body + "0"
    add("malformed_length", PREFIX_ZLIB + body, "malformed", "Base45 of length 3n+1")
    add(
        "malformed_truncated_zlib",
        PREFIX_ZLIB + b45encode(zlib.compress(cose_valid)[:-4]),
        "malformed",
        "zlib stream cut short",
    )
    add(
        "malformed_zip_bomb",
        PREFIX_ZLIB + b45encode(zlib.compress(b"\x00" * (1 << 20), 9)),
        "malformed",
        "decompresses to 1 MiB (the cap is 64 KiB)",
    )
    add(
        "malformed_untagged",
        PREFIX_PLAIN + b45encode(cbor2.dumps(list(cbor2.loads(cose_valid).value))),
        "malformed",
        "COSE_Sign1 without tag 18",
    )

    def wrong_alg(parts: list[Any]) -> None:
        parts[0] = cbor2.dumps({1: -8, 4: dept_kid}, canonical=True)

    add("malformed_alg", _reencode(valid, wrong_alg), "malformed", "alg -8 (EdDSA)")

    def extra_claim(parts: list[Any]) -> None:
        payload = cbor2.loads(parts[2])
        payload[99] = "x"
        parts[2] = cbor2.dumps(payload, canonical=True)

    add("malformed_claim", _reencode(valid, extra_claim), "malformed", "claim key 99")

    def text_time(parts: list[Any]) -> None:
        payload = cbor2.loads(parts[2])
        payload[9] = "2026-01-01"
        parts[2] = cbor2.dumps(payload, canonical=True)

    add("malformed_type", _reencode(valid, text_time), "malformed", "iat as text")
    add(
        "malformed_trailing",
        PREFIX_PLAIN + b45encode(cose_valid + b"\x00"),
        "malformed",
        "a byte after the COSE_Sign1",
    )

    statuses = {name: StatusList(256) for name in ("department", "compromised")}
    statuses["department"].set(6, LicenseStatus.REVOKED)
    statuses["department"].set(7, LicenseStatus.SUSPENDED)
    bundle = build_bundle(
        test_key("root"),
        certs["root"],
        [
            BundleKey(certs["department"], None, statuses["department"]),
            BundleKey(certs["compromised"], COMPROMISED_AT, statuses["compromised"]),
        ],
        issued_at=BUNDLE_ISSUED,
        next_update=BUNDLE_NEXT,
        sequence=1,
    )
    document = {
        "_comment": "Test vectors of docs/license-format.md (section 'Test vectors'), made by "
        "tests/vectors/license/make_vectors.py with the fixed test keys below. Each vector "
        "is checked against trust-bundle.cbor at time 'now' (Unix seconds).",
        "test_keys": {
            name: {
                "label": label,
                "d": f"{int.from_bytes(sm3(label.encode()), 'big'):064x}",
                "kid": certs[name].kid.hex(),
            }
            for name, label in TEST_KEYS.items()
        },
        "alg": cose.ALG_SM2_SM3,
        "bundle": "trust-bundle.cbor",
        "pinned_root": certs["root"].fingerprint().hex(),
        "vectors": vectors,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "trust-bundle.cbor").write_bytes(bundle)
    (out / "vectors.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return document


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    doc = build(target)
    print(f"wrote {len(doc['vectors'])} vectors and trust-bundle.cbor to {target}")
