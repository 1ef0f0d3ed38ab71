"""Shared test data of the verify/ tests: the checked-in vectors and a signing world."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keys.sm2 import SM2PrivateKey
from keys.x509 import Certificate
from tests.vectors.license import make_vectors as mv
from verify.bundle import BundleKey, TrustBundle, build_bundle
from verify.status import StatusList

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors" / "license"


@dataclass
class Vectors:
    document: dict[str, Any]
    bundle_bytes: bytes
    bundle: TrustBundle

    def by_name(self, name: str) -> dict[str, Any]:
        return next(v for v in self.document["vectors"] if v["name"] == name)


def load_vectors() -> Vectors:
    """tests/vectors/license/vectors.json and trust-bundle.cbor, as checked in."""
    document = json.loads((VECTORS_DIR / "vectors.json").read_text(encoding="utf-8"))
    data = (VECTORS_DIR / document["bundle"]).read_bytes()
    pin = bytes.fromhex(document["pinned_root"])
    return Vectors(document, data, TrustBundle.load(data, pinned_root=pin))


@dataclass
class World:
    """Fresh certificates from the fixed test keys, for tests that build their own bundles."""

    root_key: SM2PrivateKey
    root: Certificate
    dept_key: SM2PrivateKey
    dept: Certificate
    certs: dict[str, Certificate]

    def bundle(
        self,
        keys: list[BundleKey] | None = None,
        *,
        sequence: int = 1,
        issued_at: int = mv.BUNDLE_ISSUED,
        next_update: int = mv.BUNDLE_NEXT,
    ) -> bytes:
        if keys is None:
            keys = [BundleKey(self.dept, None, StatusList(64))]
        return build_bundle(
            self.root_key,
            self.root,
            keys,
            issued_at=issued_at,
            next_update=next_update,
            sequence=sequence,
        )


def make_world() -> World:
    certs = mv.certificates()
    return World(
        root_key=mv.test_key("root"),
        root=certs["root"],
        dept_key=mv.test_key("department"),
        dept=certs["department"],
        certs=certs,
    )
