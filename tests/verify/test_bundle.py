"""Trust bundles: building, loading, and every reason to refuse one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import cbor2
import pytest

from keys.sm2 import SM2PrivateKey
from keys.x509 import issue_signing_certificate, make_root_certificate
from tests.vectors.license import make_vectors as mv
from tests.verify.world import Vectors, World
from verify import cose
from verify.bundle import CONTENT_TYPE, BundleKey, TrustBundle, build_bundle
from verify.errors import BundleError
from verify.status import LicenseStatus, StatusList


def test_load_checks_pin_and_exposes_keys(world: World) -> None:
    status = StatusList(16)
    status.set(3, LicenseStatus.REVOKED)
    data = world.bundle([BundleKey(world.dept, 1_700_000_000, status)], sequence=7)
    bundle = TrustBundle.load(data, pinned_root=world.root.fingerprint())
    assert (bundle.sequence, bundle.issued_at, bundle.next_update) == (
        7,
        mv.BUNDLE_ISSUED,
        mv.BUNDLE_NEXT,
    )
    key = bundle.keys[world.dept.kid]
    assert key.license_types == frozenset({mv.TYPE_DRIVING})
    assert key.credit_code == mv.DEPARTMENT_CODE
    assert key.compromised_at == 1_700_000_000
    assert key.status.get(3) is LicenseStatus.REVOKED
    assert bundle.root_fingerprint == world.root.fingerprint()
    assert bundle.data == data


def test_describe_is_json_ready_without_status_bits(world: World) -> None:
    import json

    bundle = TrustBundle.load(world.bundle(), pinned_root=None)
    summary = bundle.describe()
    json.dumps(summary)
    assert summary["keys"][0]["kid"] == world.dept.kid.hex()
    assert summary["root"]["fingerprint_sm3"] == world.root.fingerprint().hex()


def test_wrong_pin_is_refused(world: World) -> None:
    with pytest.raises(BundleError, match="pinned"):
        TrustBundle.load(world.bundle(), pinned_root=bytes(32))


def test_bundle_signed_by_another_root_is_refused(world: World) -> None:
    other_key = SM2PrivateKey.generate()
    other_root = make_root_certificate(
        other_key, "Other root", "Elsewhere", not_before=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    )
    # A department certificate of the real root, bundled under another root: refused.
    with pytest.raises(ValueError, match="not issued by the root"):
        build_bundle(
            other_key,
            other_root,
            [BundleKey(world.dept)],
            issued_at=1,
            next_update=2,
            sequence=1,
        )
    forged = _rebuild(world.bundle(), lambda p: p.__setitem__(4, other_root.der))
    with pytest.raises(BundleError):
        TrustBundle.load(forged, pinned_root=None)


def _rebuild(data: bytes, mutate: Any, *, key: SM2PrivateKey | None = None) -> bytes:
    """Change the payload of a bundle and sign it again (with ``key``) or not at all."""
    parts = list(cbor2.loads(data).value)
    payload = cbor2.loads(parts[2])
    mutate(payload)
    parts[2] = cbor2.dumps(payload, canonical=True)
    if key is not None:
        parts[3] = key.sign_raw(cose.sig_structure(parts[0], parts[2]))
    return cbor2.dumps(cbor2.CBORTag(18, parts))


def test_tampered_payload_is_refused(world: World) -> None:
    tampered = _rebuild(world.bundle(), lambda p: p.__setitem__(3, 99))
    with pytest.raises(BundleError, match="signature"):
        TrustBundle.load(tampered, pinned_root=world.root.fingerprint())


def test_department_certificate_not_from_root_is_refused(world: World) -> None:
    rogue_root_key = SM2PrivateKey.generate()
    rogue_root = make_root_certificate(
        rogue_root_key,
        world.root.subject_cn,
        "Rogue",
        not_before=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    rogue = issue_signing_certificate(
        rogue_root_key,
        rogue_root,
        SM2PrivateKey.generate().public_key(),
        common_name="rogue",
        organisation="rogue",
        credit_code=mv.DEPARTMENT_CODE,
        license_types=[mv.TYPE_DRIVING],
        not_before=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    )

    def add_rogue(payload: dict[int, Any]) -> None:
        payload[5].append({1: rogue.der, 2: [mv.TYPE_DRIVING], 4: StatusList(4).to_bytes()})

    # Even correctly signed by the real root, the bundle is refused.
    data = _rebuild(world.bundle(), add_rogue, key=world.root_key)
    with pytest.raises(BundleError, match="not issued by"):
        TrustBundle.load(data, pinned_root=world.root.fingerprint())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p[5][0].__setitem__(2, ["YYZZ"]), "license types differ"),
        (lambda p: p[5][0].__setitem__(4, b"not zlib"), "status list"),
        (lambda p: p[5][0].__setitem__(3, -1), "compromised_at"),
        (lambda p: p[5][0].__setitem__(9, 1), "unknown keys"),
        (lambda p: p[5].append(p[5][0]), "twice"),
        (lambda p: p.__setitem__(0, 2), "version"),
        (lambda p: p.__setitem__(2, p[1] - 1), "next_update"),
        (lambda p: p.__setitem__(6, 1), "exactly"),
        (lambda p: p.__setitem__(3, "1"), "sequence"),
        (lambda p: p[5][0].__setitem__(1, b"\x30\x00"), "not a valid certificate"),
    ],
)
def test_inconsistent_payloads_are_refused_even_when_signed(
    world: World, mutate: Any, message: str
) -> None:
    data = _rebuild(world.bundle(), mutate, key=world.root_key)
    with pytest.raises(BundleError, match=message):
        TrustBundle.load(data, pinned_root=world.root.fingerprint())


def test_license_is_not_a_bundle_and_bundle_is_not_a_license(vectors: Vectors) -> None:
    from verify.decode import decode
    from verify.errors import MalformedLicense
    from verify.license import PREFIX_PLAIN
    from verify.rfc9285 import b45encode

    with pytest.raises(BundleError, match=r"content type|exactly the parameters"):
        license = decode(vectors.by_name("valid")["qr"])
        message = cbor2.dumps(
            cbor2.CBORTag(18, [license.protected, {}, b"\xa0", license.signature])
        )
        TrustBundle.load(message, pinned_root=None)
    with pytest.raises(MalformedLicense):
        decode(PREFIX_PLAIN + b45encode(vectors.bundle_bytes))


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xd2\x84", "text", b"\xd2" * 100])
def test_garbage_is_a_bundle_error(data: Any) -> None:
    with pytest.raises(BundleError):
        TrustBundle.load(data, pinned_root=None)


def test_content_type_is_in_the_protected_header(world: World) -> None:
    protected = cbor2.loads(cbor2.loads(world.bundle()).value[0])
    assert protected == {1: cose.ALG_SM2_SM3, 3: CONTENT_TYPE, 4: world.root.kid}
