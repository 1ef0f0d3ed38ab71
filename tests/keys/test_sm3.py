"""SM3 and HMAC-SM3 (keys/sm3.py) against GB/T 32905-2016 and the openssl CLI."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from keys.sm3 import hmac_sm3, sm3
from tests.keys.vectors import load

VECTORS = load("sm3/gbt32905-appendix-a.txt")


@pytest.mark.parametrize("vector", VECTORS, ids=["example-1", "example-2"])
def test_gbt32905_examples(vector: dict[str, bytes]) -> None:
    assert sm3(vector["message"]) == vector["digest"]


def test_example_two_is_sixteen_abcd() -> None:
    # Guard against a mistyped vector file: example 2 is "abcd" x 16 (512 bits).
    assert VECTORS[1]["message"] == b"abcd" * 16


def test_empty_and_long_inputs_match_openssl() -> None:
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command line is needed as the independent check"
    for data in (b"", b"a" * 55, b"b" * 56, b"c" * 64, bytes(range(256)) * 40):
        out = subprocess.run(
            [openssl, "dgst", "-sm3", "-binary"], input=data, capture_output=True, check=True
        ).stdout
        assert sm3(data) == out


@pytest.mark.parametrize(
    ("key", "data"),
    [(b"key", b"The quick brown fox"), (b"k" * 64, b""), (b"K" * 100, b"x" * 1000)],
)
def test_hmac_sm3_matches_openssl(key: bytes, data: bytes) -> None:
    out = subprocess.run(
        ["openssl", "mac", "-digest", "SM3", "-macopt", f"hexkey:{key.hex()}", "-binary",
         "HMAC"],
        input=data, capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert hmac_sm3(key, data) == out
    assert len(out) == 32


def test_hmac_depends_on_key_and_data() -> None:
    assert hmac_sm3(b"a", b"m") != hmac_sm3(b"b", b"m")
    assert hmac_sm3(b"a", b"m") != hmac_sm3(b"a", b"n")
