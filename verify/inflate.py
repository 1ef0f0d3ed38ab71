"""Bounded zlib inflation (RFC 1950) of untrusted input: the zip-bomb guard.

Licenses and trust-bundle status lists arrive compressed from outside; both are
inflated here, never with a bare ``zlib.decompress``.
"""

from __future__ import annotations

import zlib


class InflateError(ValueError):
    """The stream is corrupt, truncated, followed by bytes, or inflates past the limit."""


def inflate(data: bytes, limit: int) -> bytes:
    """Inflate exactly one complete zlib stream to at most ``limit`` bytes."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise InflateError("the zlib stream is corrupt") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise InflateError(f"the zlib stream inflates to larger than {limit} bytes")
    if not inflater.eof:
        raise InflateError("the zlib stream is truncated")
    if inflater.unused_data:
        raise InflateError("bytes follow the zlib stream")
    return out
