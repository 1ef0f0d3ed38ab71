"""Status lists: 2 bits per index, LSB first, zlib, bounded reading."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.status import LicenseStatus, StatusList, StatusListError


def test_bit_layout_follows_token_status_list() -> None:
    status = StatusList(8)
    status.set(0, LicenseStatus.SUSPENDED)
    status.set(1, LicenseStatus.REVOKED)
    status.set(3, LicenseStatus.REVOKED)
    status.set(5, LicenseStatus.SUSPENDED)
    # Index 0 in the two least significant bits of byte 0 (draft-ietf-oauth-status-list 4.1).
    assert zlib.decompress(status.to_bytes()) == bytes([0b10_00_10_01, 0b00_00_01_00])
    assert [status.get(i) for i in range(8)] == [1, 2, 0, 2, 0, 1, 0, 0]


def test_set_overwrites_and_grows() -> None:
    status = StatusList()
    assert len(status) == 0
    status.set(9, LicenseStatus.REVOKED)
    assert len(status) == 12
    status.set(9, LicenseStatus.VALID)
    assert status.get(9) is LicenseStatus.VALID
    with pytest.raises(IndexError):
        status.get(12)
    with pytest.raises(IndexError):
        status.set(-1, 0)
    with pytest.raises(ValueError):
        status.set(0, 4)


@given(st.dictionaries(st.integers(0, 5000), st.sampled_from(list(LicenseStatus)), max_size=50))
def test_round_trip(changes: dict[int, LicenseStatus]) -> None:
    status = StatusList(100)
    for index, state in changes.items():
        status.set(index, state)
    again = StatusList.from_bytes(status.to_bytes())
    assert again == status
    for index, state in changes.items():
        assert again.get(index) is state


def test_reading_is_bounded() -> None:
    bomb = zlib.compress(bytes(1 << 20), 9)
    assert len(StatusList.from_bytes(bomb)) == 4 << 20
    with pytest.raises(StatusListError, match="larger"):
        StatusList.from_bytes(bomb, max_bytes=1 << 16)


@pytest.mark.parametrize(
    "data",
    [b"", b"not zlib", zlib.compress(b"\x00" * 10)[:-3], zlib.compress(b"\x00") + b"x"],
)
def test_corrupt_lists_are_refused(data: bytes) -> None:
    with pytest.raises(StatusListError):
        StatusList.from_bytes(data)


def test_a_million_licenses_compress_small() -> None:
    status = StatusList(1_000_000)
    for index in range(0, 1_000_000, 997):
        status.set(index, LicenseStatus.REVOKED)
    assert len(status.to_bytes()) < 8000
