"""License holders: validation of their numbers, masking, and the blind index.

A holder is a person (18-character citizen identity number, GB 11643-1999) or an
organisation (unified social credit code, GB 32100-2015). The number itself is never
stored: a license keeps the masked form, the salted SM3 digest that goes into the QR
(verify.claims.holder_digest) and a keyed SM3 blind index for look-up by holder
(HMAC-SM3 under a key derived with HKDF-SM3 from the key-encryption key, so that a
database dump alone cannot be searched for a number).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from authority.keystore import EXTENSION_KEY as KEK_EXTENSION
from certs.errors import InvalidHolder, NotInitialised
from keys import validators
from keys.sm3 import hmac_sm3

PERSON = "person"
ORGANISATION = "organisation"
HOLDER_KINDS = (PERSON, ORGANISATION)

_INDEX_LABEL = "certs/holder-index/v1"
_INDEX_KEY_EXTENSION = "certs.holder_index_key"


@dataclass(frozen=True)
class Holder:
    kind: str
    number: str  # normalised; never logged nor stored

    @property
    def masked(self) -> str:
        if self.kind == PERSON:
            return validators.mask_id_number(self.number)
        # A credit code is public (printed on every business license), so it is shown.
        return self.number


def parse_holder(kind: str, number: object) -> Holder:
    """Validate ``number`` for a holder of ``kind``; refusals name the specific reason."""
    if not isinstance(number, str) or not number:
        raise InvalidHolder("holder.id is required", reason="missing", pointer="/holder/id")
    try:
        if kind == PERSON:
            return Holder(PERSON, validators.validate_id_number(number))
        return Holder(ORGANISATION, validators.validate_credit_code(number))
    except ValueError as exc:
        reason = getattr(exc, "reason", "invalid")
        message = getattr(exc, "message_en", None) or "the number is not valid"
        what = "citizen ID number" if kind == PERSON else "unified social credit code"
        raise InvalidHolder(
            f"holder.id is not a valid {what}: {message}",
            reason=reason,
            reason_zh=getattr(exc, "message_zh", None),
            pointer="/holder/id",
            holder_kind=kind,
        ) from None


def _index_key(app: Flask) -> bytes:
    cached: bytes | None = app.extensions.get(_INDEX_KEY_EXTENSION)
    if cached is not None:
        return cached
    kek = app.extensions.get(KEK_EXTENSION)
    if kek is None:
        raise NotInitialised("no key-encryption key is loaded")
    # HKDF-SM3 under the KEK with our own label: independent of every other derived key.
    # The result depends only on the KEK loaded at start-up, so it is derived once.
    key: bytes = kek.derive_key(_INDEX_LABEL, 32)
    app.extensions[_INDEX_KEY_EXTENSION] = key
    return key


def holder_index(number: str, app: Flask | None = None) -> str:
    """The blind index of a holder number (hex), for looking licenses up by holder.

    The number is normalised first (stripped, upper case: a final ``x`` of an ID number
    is the same check character as ``X``).
    """
    return hmac_sm3(_index_key(app or current_app), number.strip().upper().encode()).hex()


def keyed_hash(data: bytes, app: Flask | None = None) -> str:
    """A keyed SM3 hash (hex), for request fingerprints that contain holder numbers."""
    return hmac_sm3(_index_key(app or current_app), b"request:" + data).hex()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def licenses_for_holder(session: Session, holder_id: str, *, app: Flask | None = None) -> list[Any]:
    """Every license of a holder (person ID number or credit code), newest first.

    The number is normalised (upper case, stripped) before the blind index is computed;
    an unparseable number simply has no licenses.
    """
    from certs.models import License

    number = holder_id
    return list(
        session.scalars(
            sa.select(License)
            .where(License.holder_index == holder_index(number, app))
            .order_by(License.issued_at.desc(), License.id.desc())
        )
    )
