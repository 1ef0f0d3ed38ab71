"""RFC 9285, The Base45 Data Encoding (https://www.rfc-editor.org/rfc/rfc9285).

Written here rather than taken from the ``base45`` package because decoding sits on the
verifier's hot path: the package decodes one character at a time (about 60 µs for a
typical license); this module does the arithmetic on whole lanes of big integers and
byte slices, all inside C loops (under 10 µs). It is also stricter: the package
silently strips a trailing newline. The ``base45`` package is the independent
implementation the tests compare against.
"""

from __future__ import annotations

import functools

from verify.errors import MalformedLicense

#: RFC 9285, section 4: the 45 characters, in value order.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

# bytes.translate table: character -> its value, 255 for anything else.
_VALUES = bytearray([255] * 256)
for _value, _char in enumerate(ALPHABET):
    _VALUES[ord(_char)] = _value
_VALUES_TABLE = bytes(_VALUES)
_INVALID = 255


# bytes.translate table: value 0..44 -> its character (encoding).
_CHARS_TABLE = ALPHABET.encode("ascii").ljust(256, b"?")

# Exact divisions by 45 as multiply-and-shift: n // 45 == (n * 11651) >> 19 for every
# n < 65536, and q // 45 == (q * 1457) >> 16 for every q < 1457 (checked over both
# whole ranges by tests/verify/test_base45.py). Every product stays below 2**32.
DIV45_WORD = (11651, 19)
DIV45_QUOTIENT = (1457, 16)


@functools.lru_cache(maxsize=64)
def _lane_masks(words: int) -> tuple[int, int]:
    """0x7FF and 0x3F in each of ``words`` 32-bit little-endian lanes (kept for the few
    lengths licenses have: building them is a sixth of an encoding; bounded, as any
    length may be encoded)."""
    return (
        int.from_bytes(b"\xff\x07\x00\x00" * words, "little"),
        int.from_bytes(b"\x3f\x00\x00\x00" * words, "little"),
    )


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text (section 4.1).

    Encoding is on the issuer's hot path (once per license). Like :func:`b45decode`, it
    works on whole lanes: every 16-bit word n = a * 256 + b of the data sits in a 32-bit
    lane of one big integer, and a few big-integer operations split all of them at once
    into n = c + 45 d + 2025 e (q = n // 45 and e = q // 45 by multiply-and-shift, exact
    over the ranges involved; no carry or borrow crosses a lane, and the masks drop
    what a shift brings down from the next lane). A table of 65,536 three-character
    strings was as fast when warm but missed the CPU cache under a real request load.
    """
    words = len(data) // 2
    text = ""
    if words:
        size = 4 * words
        spread = bytearray(size)
        spread[0::4] = data[1 : 2 * words : 2]  # b, the low byte of the lane
        spread[1::4] = data[0 : 2 * words : 2]  # a
        n = int.from_bytes(spread, "little")
        mask11, mask6 = _lane_masks(words)
        q = ((n * DIV45_WORD[0]) >> DIV45_WORD[1]) & mask11
        e = ((q * DIV45_QUOTIENT[0]) >> DIV45_QUOTIENT[1]) & mask6
        out = bytearray(3 * words)
        out[0::3] = (n - 45 * q).to_bytes(size, "little")[0::4]  # c
        out[1::3] = (q - 45 * e).to_bytes(size, "little")[0::4]  # d
        out[2::3] = e.to_bytes(size, "little")[0::4]
        text = out.translate(_CHARS_TABLE).decode("ascii")
    if len(data) % 2:
        d1, c1 = divmod(data[-1], 45)
        text += ALPHABET[c1] + ALPHABET[d1]
    return text


def b45length(size: int) -> int:
    """Length of the Base45 text of ``size`` bytes (section 4: 3 per pair, 2 for a last byte)."""
    return 3 * (size // 2) + 2 * (size % 2)


def b45decode(text: str) -> bytes:
    """Decode Base45 text (section 4.2); raise MalformedLicense on anything invalid.

    Invalid means: a character outside the alphabet, a length of 3n+1, a group of three
    characters above 65535, or a final group of two characters above 255.
    """
    try:
        values = text.encode("ascii").translate(_VALUES_TABLE)
    except UnicodeEncodeError:
        raise MalformedLicense("Base45 text has a character outside the alphabet") from None
    if _INVALID in values:
        raise MalformedLicense("Base45 text has a character outside the alphabet")
    full = len(values) - len(values) % 3
    if len(values) - full == 1:
        raise MalformedLicense("Base45 text has an impossible length")
    groups = full // 3
    # Group k is c + 45 d + 2025 e (section 4.2). Spread the c, d and e of every group
    # into 32-bit little-endian lanes of three big integers, so that one big-integer
    # sum computes all groups at once: no lane exceeds 44 * 2071 < 2**32, no carries.
    lanes = []
    for offset in range(3):
        spread = bytearray(4 * groups)
        spread[0::4] = values[offset:full:3]
        lanes.append(int.from_bytes(spread, "little"))
    total = (lanes[0] + 45 * lanes[1] + 2025 * lanes[2]).to_bytes(4 * groups, "little")
    if total[2::4] != bytes(groups):  # a group above 0xFFFF
        raise MalformedLicense("Base45 text has an invalid group")
    out = bytearray(2 * groups)
    out[0::2] = total[1::4]  # each group becomes two bytes, most significant first
    out[1::2] = total[0::4]
    if full != len(values):
        tail = values[full] + 45 * values[full + 1]
        if tail > 0xFF:
            raise MalformedLicense("Base45 text has an invalid final group")
        out.append(tail)
    return bytes(out)
