"""Hostile input never crashes or hangs the decoder or the verifier.

A few thousand inputs here; ``bench/fuzz_verify.py --count 100000`` runs the long
campaign with the same generators.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz_verify import check_one, mutations
from tests.verify.world import Vectors

FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))


@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_mutated_vectors(vectors: Vectors, data: st.DataObject) -> None:
    seeds = [v["qr"] for v in vectors.document["vectors"]]
    text = data.draw(mutations(seeds))
    check_one(text, vectors.bundle)


@FUZZ
@given(text=st.text(max_size=700))
def test_random_text(vectors: Vectors, text: str) -> None:
    check_one(text, vectors.bundle)
    check_one("LC1:" + text, vectors.bundle)


@FUZZ
@given(raw=st.binary(max_size=700), compressed=st.booleans())
def test_random_bytes_behind_valid_prefixes(vectors: Vectors, raw: bytes, compressed: bool) -> None:
    import zlib

    from verify.rfc9285 import b45encode

    body = zlib.compress(raw) if compressed else raw
    check_one(("LC1Z:" if compressed else "LC1:") + b45encode(body), vectors.bundle)


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_mutated_bundles_load_or_raise_bundle_error(vectors: Vectors, data: st.DataObject) -> None:
    from verify.bundle import TrustBundle
    from verify.errors import BundleError

    raw = bytearray(vectors.bundle_bytes)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip":
            raw[index] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "cut":
            del raw[index : index + data.draw(st.integers(1, 64))]
        else:
            raw[index:index] = data.draw(st.binary(min_size=1, max_size=16))
    try:
        bundle = TrustBundle.load(bytes(raw), pinned_root=None)
    except BundleError:
        return
    # A mutation that still loads must not have touched what the root signed.
    assert bundle.sequence == vectors.bundle.sequence
    assert bundle.keys.keys() == vectors.bundle.keys.keys()
