"""RFC 8949 (CBOR) decoding under the limits of our formats.

cbor2 does the decoding; this module fixes its settings so that hostile input cannot
make it build anything our formats do not use: no indefinite lengths, no duplicate map
keys, a small nesting depth, and no tags at all except the COSE_Sign1 tag (18) that the
caller unwraps. cbor2 turns some tags into Python objects by itself (dates, bignums,
regular expressions, shared and cyclic values...), so every tag it knows is overridden
here to fail; any tag it might learn in a later version would still produce an object
that the strict type checks of the claims and the bundle refuse.
"""

from __future__ import annotations

import io
from typing import Any

import cbor2

from verify.errors import VerifyError

#: RFC 9052, section 2: the CBOR tag of a COSE_Sign1 message.
COSE_SIGN1_TAG = 18

# The tags cbor2 6.x decodes by itself (found by probing every tag from 0 to 300 plus the
# registered higher ones it documents). tests/verify/test_strict_cbor.py re-probes them.
_SEMANTIC_TAGS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 100)
_SEMANTIC_TAGS += (256, 258, 260, 261, 1004, 55799)


class _TagRefused(Exception):
    pass


def _refuse(*_args: Any) -> Any:
    raise _TagRefused


def _only_cose_sign1(tag: Any, *_args: Any) -> Any:
    if tag.tag == COSE_SIGN1_TAG:
        return tag
    raise _TagRefused


_REFUSE_ALL = dict.fromkeys(_SEMANTIC_TAGS, _refuse)


def loads(data: bytes, *, error: type[VerifyError], max_depth: int, cose: bool = False) -> Any:
    """Decode one CBOR data item from ``data`` (all of it) or raise ``error``.

    With ``cose=True`` the COSE_Sign1 tag is allowed (and returned as a ``cbor2.CBORTag``);
    every other tag is refused either way.
    """
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(
            stream,
            tag_hook=_only_cose_sign1 if cose else _refuse,
            semantic_decoders=_REFUSE_ALL,
            max_depth=max_depth,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        ).decode()
    except _TagRefused:
        raise error("CBOR tag not allowed here") from None
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError, MemoryError):
        raise error("not well-formed CBOR, or beyond the format's limits") from None
    except Exception:
        # cbor2 wraps exceptions of hooks in its own; anything else is still a refusal.
        raise error("not well-formed CBOR, or beyond the format's limits") from None
    # cbor2 reads ahead in chunks but seeks a seekable stream back to the item's end.
    if stream.tell() != len(data):
        raise error("bytes after the end of the CBOR data item")
    return value


def dumps(value: Any) -> bytes:
    """Encode with RFC 8949 section 4.2.1 core deterministic encoding (sorted map keys)."""
    return cbor2.dumps(value, canonical=True)
