"""Status lists: two bits per license, per signing key, without personal data.

Layout after draft-ietf-oauth-status-list (Token Status List), section 4.1, with
``bits = 2``: the status of index ``i`` is in byte ``i // 4`` at bit offset
``2 * (i % 4)`` counted from the least significant bit; the byte array is compressed
with zlib (RFC 1950). Values are ours (docs/trust-bundle.md, "Status lists"):
0 valid, 1 suspended, 2 revoked, 3 reserved (read as revoked: fail closed).
"""

from __future__ import annotations

import zlib
from enum import IntEnum

from verify.inflate import InflateError, inflate

#: Largest status list accepted when reading a bundle: 16 MiB, 64 million licenses.
MAX_BYTES = 16 * 1024 * 1024


class LicenseStatus(IntEnum):
    """The states a status list records."""

    VALID = 0
    SUSPENDED = 1
    REVOKED = 2
    RESERVED = 3


class StatusListError(ValueError):
    """A compressed status list is corrupt or larger than MAX_BYTES."""


class StatusList:
    """A growable list of 2-bit statuses indexed from 0."""

    __slots__ = ("_data",)

    def __init__(self, size: int = 0) -> None:
        """An all-valid list with room for at least ``size`` indexes."""
        if size < 0:
            raise ValueError("size must not be negative")
        self._data = bytearray((size + 3) // 4)

    def __len__(self) -> int:
        """How many indexes the list covers (a multiple of four)."""
        return len(self._data) * 4

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StatusList) and self._data == other._data

    __hash__ = None  # type: ignore[assignment]

    def get(self, index: int) -> LicenseStatus:
        """The status at ``index``; IndexError if the list does not cover it."""
        if index < 0 or index >= len(self._data) * 4:
            raise IndexError("status index outside the list")
        return LicenseStatus((self._data[index >> 2] >> ((index & 3) << 1)) & 3)

    def set(self, index: int, state: int) -> None:
        """Record ``state`` (a LicenseStatus) at ``index``, growing the list as needed."""
        state = LicenseStatus(state)
        if index < 0:
            raise IndexError("status index must not be negative")
        if index >= len(self._data) * 4:
            self._data.extend(bytes((index >> 2) + 1 - len(self._data)))
        shift = (index & 3) << 1
        byte = self._data[index >> 2]
        self._data[index >> 2] = (byte & ~(3 << shift) & 0xFF) | (state << shift)

    def to_bytes(self) -> bytes:
        """The zlib-compressed byte array (what a trust bundle carries)."""
        return zlib.compress(bytes(self._data), 9)

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int = MAX_BYTES) -> StatusList:
        """Read a compressed list, refusing corrupt data or more than ``max_bytes``."""
        try:
            raw = inflate(data, max_bytes)
        except InflateError as exc:
            raise StatusListError(f"status list: {exc}") from None
        status = cls()
        status._data = bytearray(raw)
        return status
