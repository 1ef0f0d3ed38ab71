"""Fixtures of the verify/ tests (data in tests/verify/world.py)."""

from __future__ import annotations

import pytest

from tests.verify.world import Vectors, World, load_vectors, make_world


@pytest.fixture(scope="session")
def vectors() -> Vectors:
    """tests/vectors/license/vectors.json and trust-bundle.cbor, as checked in."""
    return load_vectors()


@pytest.fixture(scope="session")
def world() -> World:
    """Fresh certificates from the fixed test keys, for tests building their own bundles."""
    return make_world()
