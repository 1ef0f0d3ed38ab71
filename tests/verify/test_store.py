"""The verifier's bundle store: newest wins, rollback and root changes are refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from keys.sm2 import SM2PrivateKey
from keys.x509 import make_root_certificate
from tests.vectors.license.make_vectors import BUNDLE_NEXT
from tests.verify.world import World
from verify.bundle import build_bundle
from verify.errors import BundleError, BundleRollback
from verify.store import FILENAME, BundleStore


def test_keeps_the_newest_and_refuses_rollback(world: World, tmp_path: Path) -> None:
    store = BundleStore(tmp_path / "store")
    assert store.current() is None
    first, second = world.bundle(sequence=1), world.bundle(sequence=2)
    assert store.offer(first).sequence == 1
    assert store.offer(second).sequence == 2
    with pytest.raises(BundleRollback, match="older"):
        store.offer(first)
    held = store.current()
    assert held is not None and held.sequence == 2
    assert (tmp_path / "store" / FILENAME).read_bytes() == second
    # Offering the held bundle again is harmless.
    assert store.offer(second).sequence == 2


def test_same_sequence_with_other_content_is_refused(world: World, tmp_path: Path) -> None:
    store = BundleStore(tmp_path)
    store.offer(world.bundle(sequence=5))
    with pytest.raises(BundleRollback, match="same sequence"):
        store.offer(world.bundle(sequence=5, next_update=BUNDLE_NEXT + 1))


def test_another_root_needs_an_explicit_pin(world: World, tmp_path: Path) -> None:
    store = BundleStore(tmp_path)
    store.offer(world.bundle(sequence=1))
    other_key = SM2PrivateKey.generate()
    other_root = make_root_certificate(
        other_key, "Other", "Other", not_before=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    )
    other = build_bundle(other_key, other_root, [], issued_at=1, next_update=2, sequence=9)
    with pytest.raises(BundleError, match="another root"):
        store.offer(other)
    # Pinning the new root explicitly is the operator's decision to switch roots.
    assert store.offer(other, pinned_root=other_root.fingerprint()).sequence == 9
    current = store.current(pinned_root=other_root.fingerprint())
    assert current is not None and current.root_fingerprint == other_root.fingerprint()
    # And the old root's bundles are now refused.
    with pytest.raises(BundleError, match="another root"):
        store.offer(world.bundle(sequence=10))


def test_invalid_bundle_is_never_stored(world: World, tmp_path: Path) -> None:
    store = BundleStore(tmp_path)
    store.offer(world.bundle(sequence=1))
    with pytest.raises(BundleError):
        store.offer(b"junk")
    with pytest.raises(BundleError):
        store.offer(world.bundle(sequence=3), pinned_root=bytes(32))
    held = store.current()
    assert held is not None and held.sequence == 1
    assert [p.name for p in tmp_path.iterdir()] == [FILENAME]


def test_corrupt_store_fails_closed(world: World, tmp_path: Path) -> None:
    store = BundleStore(tmp_path)
    store.offer(world.bundle(sequence=1))
    (tmp_path / FILENAME).write_bytes(b"corrupt")
    with pytest.raises(BundleError):
        store.offer(world.bundle(sequence=2))
