"""RFC 9285, The Base45 Data Encoding (https://www.rfc-editor.org/rfc/rfc9285).

Written here rather than taken from the ``base45`` package because decoding sits on the
verifier's hot path: the package decodes one character at a time (about 60 µs for a
typical license); this module does the arithmetic on whole lanes of big integers and
byte slices, all inside C loops (under 10 µs). It is also stricter: the package
silently strips a trailing newline. The ``base45`` package is the independent
implementation the tests compare against.
"""

from __future__ import annotations

import array
import functools
import sys

from verify.errors import MalformedLicense

#: RFC 9285, section 4: the 45 characters, in value order.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

# bytes.translate table: character -> its value, 255 for anything else.
_VALUES = bytearray([255] * 256)
for _value, _char in enumerate(ALPHABET):
    _VALUES[ord(_char)] = _value
_VALUES_TABLE = bytes(_VALUES)
_INVALID = 255


@functools.cache
def _triplets() -> tuple[str, ...]:
    """The three characters of every 16-bit value (section 4.1), built on first use.

    Encoding is on the issuer's hot path (once per license): a table lookup per byte
    pair, done in C by ``map``, costs a tenth of computing each group in Python.
    """
    a = ALPHABET
    return tuple(a[n % 45] + a[n // 45 % 45] + a[n // 2025] for n in range(65536))


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text (section 4.1)."""
    pairs = len(data) // 2
    words = array.array("H", data[: 2 * pairs])
    if sys.byteorder == "little":
        words.byteswap()  # section 4.1 reads each pair big-endian: a * 256 + b
    text = "".join(map(_triplets().__getitem__, words))
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        text += ALPHABET[c] + ALPHABET[d]
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
