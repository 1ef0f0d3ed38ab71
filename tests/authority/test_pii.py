"""authority.pii: the stored format of personal data does not change when the code moves.

The ciphertexts and blind indexes below were produced by ``oidc/pii.py`` before it
became ``authority/pii.py`` (KEK ``00112233445566778899aabbccddeeff``, the test KEK of
tests/conftest.py). If a label, the version byte or the associated-data format changed,
every row already in a database would become unreadable; these known answers catch it.
"""

from __future__ import annotations

import pytest

from authority import pii
from keys.errors import DecryptionError
from keys.keystore import KeyEncryptionKey

KEK = "00112233445566778899aabbccddeeff"
ENC_KEY = "4e444b722e373431ee4b68e0aec59fef"
INDEX_KEY = "51b5cf8d632de3df55b211b892e499cee13e5df71bfbab681c05097ed654269a"
ID_NUMBER = "110101199003074514"
ID_NUMBER_CIPHER = (
    "01ef3475a342d70d489db001a00be59951bd87c5440ba3acc129c45736dc8f55a56ad732fd4d963ac950e2275121cc"
)
ID_NUMBER_INDEX = "2d99c6ea43e9eda14f8153c26b3e712ed6c986cd91cdd41b35f89d5f93bd69c2"
EMAIL = "zhang.san@example.cn"
EMAIL_CIPHER = (
    "013200d432993634fdc1c853319b0eeb911676b2c6e3463da8792ee822c766e8509e75cb21e43d5dd7ae91e8"
    "745e16ee55"
)


@pytest.fixture
def keys() -> pii.PiiKeys:
    return pii.PiiKeys.derive(KeyEncryptionKey.from_hex(KEK))


def test_sub_keys_are_the_ones_derived_before_the_move(keys: pii.PiiKeys) -> None:
    assert keys.enc.hex() == ENC_KEY
    assert keys.index.hex() == INDEX_KEY
    assert "redacted" in repr(keys) and ENC_KEY not in repr(keys)


def test_ciphertexts_written_before_the_move_still_decrypt(keys: pii.PiiKeys) -> None:
    assert pii.decrypt(bytes.fromhex(ID_NUMBER_CIPHER), field="id_number", keys=keys) == ID_NUMBER
    assert pii.decrypt(bytes.fromhex(EMAIL_CIPHER), field="reminder_email", keys=keys) == EMAIL


def test_blind_index_is_unchanged(keys: pii.PiiKeys) -> None:
    assert pii.blind_index(ID_NUMBER, field="id_number", keys=keys) == ID_NUMBER_INDEX


def test_a_ciphertext_is_bound_to_its_field(keys: pii.PiiKeys) -> None:
    with pytest.raises(DecryptionError):
        pii.decrypt(bytes.fromhex(EMAIL_CIPHER), field="id_number", keys=keys)


def test_round_trip_has_the_version_byte_and_a_fresh_nonce(keys: pii.PiiKeys) -> None:
    a = pii.encrypt(EMAIL, field="reminder_email", keys=keys)
    b = pii.encrypt(EMAIL, field="reminder_email", keys=keys)
    assert a[:1] == pii.VERSION == b"\x01"
    assert a != b
    assert pii.decrypt(a, field="reminder_email", keys=keys) == EMAIL
    with pytest.raises(DecryptionError):
        pii.decrypt(b"\x02" + a[1:], field="reminder_email", keys=keys)
