"""verify.encode.encode_many: many licenses under one key, the same as encode one by one."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from keys.sm2 import SM2PrivateKey
from tests.vectors.license import make_vectors as mv
from tests.verify.world import World
from verify.cose import SIGNER_ID
from verify.decode import decode
from verify.encode import encode, encode_many


def test_each_text_is_what_encode_makes_of_its_claims(world: World) -> None:
    claims = [mv.typical_claims(serial) for serial in range(1, 8)]
    texts = encode_many(claims, world.dept_key, world.dept.kid)
    assert len(texts) == len(claims)
    public = world.dept_key.public_key()
    for text, expected in zip(texts, claims, strict=True):
        license = decode(text)
        assert license.claims == expected
        assert license.kid == world.dept.kid
        # Raises if the signature is not over these bytes with the department's key.
        public.verify_raw(license.signature, license.signed_bytes, signer_id=SIGNER_ID)
        # SM2 signatures are randomised: compare everything but the signature.
        single = decode(encode(expected, world.dept_key, world.dept.kid))
        assert single.signed_bytes == license.signed_bytes
        assert single.compressed == license.compressed


class _CountingKey:
    """Stands in for an SM2PrivateKey and counts the signatures asked of it."""

    def __init__(self, key: SM2PrivateKey) -> None:
        self.key = key
        self.signed = 0

    def sign_raw(self, message: bytes, **kwargs: Any) -> bytes:
        self.signed += 1
        return self.key.sign_raw(message, **kwargs)


def test_nothing_is_signed_when_one_claim_breaks_a_limit(world: World) -> None:
    good = mv.typical_claims(1)
    bad = dataclasses.replace(mv.typical_claims(2), holder_name="\u202e反转")
    key = _CountingKey(world.dept_key)
    with pytest.raises(ValueError, match="holder_name"):
        encode_many([good, bad, good], key, world.dept.kid)  # type: ignore[arg-type]
    assert key.signed == 0
    assert len(encode_many([good, good], key, world.dept.kid)) == 2  # type: ignore[arg-type]
    assert key.signed == 2


def test_no_claims_no_texts(world: World) -> None:
    assert encode_many([], world.dept_key, world.dept.kid) == []
