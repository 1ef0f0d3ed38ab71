"""The verifier: precedence of verdicts, the verification clock, explanations."""

from __future__ import annotations

import re

import pytest

from tests.vectors.license import make_vectors as mv
from tests.verify.world import Vectors, World
from verify.bundle import BundleKey, TrustBundle
from verify.decode import decode
from verify.encode import encode
from verify.status import LicenseStatus, StatusList
from verify.verifier import VerdictState, malformed, verify, verify_text


def _bundle(world: World, status: StatusList, **kw: int) -> TrustBundle:
    return TrustBundle.load(world.bundle([BundleKey(world.dept, None, status)], **kw))


def test_clock_never_runs_behind_the_bundle(world: World) -> None:
    # Expired a day after the bundle was issued: a verifier whose clock says "before
    # the bundle" would call it valid; the verification time is the bundle's issued_at.
    claims = mv.typical_claims(1, exp=mv.BUNDLE_ISSUED + 86400)
    license = decode(encode(claims, world.dept_key, world.dept.kid))
    bundle = _bundle(world, StatusList(8))
    assert verify(license, bundle, 0).state is VerdictState.VALID
    later = _bundle(
        world,
        StatusList(8),
        issued_at=mv.BUNDLE_ISSUED + 2 * 86400,
        next_update=mv.BUNDLE_NEXT + 2 * 86400,
    )
    verdict = verify(license, later, 0)
    assert verdict.state is VerdictState.EXPIRED
    assert verdict.checked_at == later.issued_at


def test_revocation_wins_over_expiry_and_staleness(world: World) -> None:
    status = StatusList(8)
    status.set(1, LicenseStatus.REVOKED)
    license = decode(
        encode(mv.typical_claims(1, exp=mv.ISSUED + 10), world.dept_key, world.dept.kid)
    )
    assert verify(license, _bundle(world, status), mv.BUNDLE_NEXT + 10**6).state is (
        VerdictState.REVOKED
    )


def test_reserved_status_value_fails_closed(world: World) -> None:
    status = StatusList(8)
    status.set(1, LicenseStatus.RESERVED)
    license = decode(encode(mv.typical_claims(1), world.dept_key, world.dept.kid))
    assert verify(license, _bundle(world, status), mv.NOW).state is VerdictState.REVOKED


def test_index_missing_from_a_later_list_fails_closed(world: World) -> None:
    license = decode(encode(mv.typical_claims(100), world.dept_key, world.dept.kid))
    verdict = verify(license, _bundle(world, StatusList(8)), mv.NOW)
    assert verdict.state is VerdictState.MALFORMED
    assert "status" in verdict.explanation_en


def test_stale_bundle_still_reports_valid_signature(world: World) -> None:
    license = decode(encode(mv.typical_claims(1), world.dept_key, world.dept.kid))
    bundle = _bundle(world, StatusList(8))
    assert verify(license, bundle, mv.BUNDLE_NEXT).state is VerdictState.VALID
    stale = verify(license, bundle, mv.BUNDLE_NEXT + 1)
    assert stale.state is VerdictState.VALID_STALE and stale.is_valid


def test_not_yet_valid_and_expiry_boundaries(world: World) -> None:
    claims = mv.typical_claims(1, nbf=mv.NOW + 100, exp=mv.NOW + 200)
    license = decode(encode(claims, world.dept_key, world.dept.kid))
    bundle = _bundle(world, StatusList(8))
    assert verify(license, bundle, mv.NOW + 99).state is VerdictState.NOT_YET_VALID
    assert verify(license, bundle, mv.NOW + 100).state is VerdictState.VALID
    assert verify(license, bundle, mv.NOW + 199).state is VerdictState.VALID
    assert verify(license, bundle, mv.NOW + 200).state is VerdictState.EXPIRED


def test_every_state_is_explained_in_chinese_and_english(vectors: Vectors) -> None:
    seen = set()
    for vector in vectors.document["vectors"]:
        verdict = verify_text(vector["qr"], vectors.bundle, vector["now"])
        seen.add(verdict.state)
        assert re.search(r"[\u4e00-\u9fff]", verdict.explanation_zh)
        assert verdict.explanation_en.isascii() and len(verdict.explanation_en) > 20
        assert verdict.is_valid is (verdict.state.value in ("valid", "valid_stale"))
    assert seen == set(VerdictState)


def test_malformed_verdict_carries_the_reason() -> None:
    verdict = malformed("the zlib stream is truncated")
    assert verdict.state is VerdictState.MALFORMED and verdict.license is None
    assert "truncated" in verdict.explanation_en


@pytest.mark.parametrize("name", ["valid", "revoked", "tampered", "wrong_type"])
def test_verdict_is_deterministic(vectors: Vectors, name: str) -> None:
    vector = vectors.by_name(name)
    first = verify_text(vector["qr"], vectors.bundle, vector["now"])
    assert verify_text(vector["qr"], vectors.bundle, vector["now"]) == first


def test_holder_check_against_the_card(vectors: Vectors) -> None:
    license = decode(vectors.by_name("valid")["qr"])
    assert license.matches_holder("44010619900307123x")
    assert not license.matches_holder("440106199003071231")
