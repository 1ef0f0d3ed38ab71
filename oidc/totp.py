"""Time-based one-time passwords (RFC 6238, TOTP) and one-time recovery codes.

- RFC 6238 clause 4 with the parameters every authenticator app supports: HMAC-SHA-1
  (RFC 4226), 30-second steps, 6 digits; secrets of 160 bits (RFC 4226 clause 4,
  R6), shown as an ``otpauth://`` URI in a QR code rendered on the server.
- Clause 5.2 (validation and time-step size): codes of the previous, current and next
  step are accepted (clock drift of ±30 s), and clause 5.2's "the verifier MUST NOT
  accept the second attempt of the same OTP": the last accepted step is stored and
  only a later step is accepted (an atomic compare-and-set, so two workers cannot
  both accept one code).
- Secrets are stored SM4-GCM encrypted (:mod:`authority.pii`).
- Ten recovery codes (50 random bits each), shown once; stored as keyed SM3 hashes;
  each works once.
"""

from __future__ import annotations

import base64
import hmac
import io
import secrets
import time
from typing import TYPE_CHECKING

import pyotp
import qrcode
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from authority import pii
from authority.db import Base


class RecoveryCode(Base):
    """One of a person's ten one-time recovery codes, stored as a keyed hash."""

    __tablename__ = "recovery_codes"
    __table_args__ = (sa.UniqueConstraint("person_id", "code_hash"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False
    )
    code_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    used_at: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)


STEP = 30
DIGITS = 6
WINDOW = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud safely

if TYPE_CHECKING:
    from oidc.accounts import Person


def new_secret() -> str:
    """A fresh 160-bit secret, base32 as authenticator apps expect."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI for authenticator apps (Key Uri Format)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_data_uri(text: str) -> str:
    """A PNG QR code of ``text`` as a ``data:`` URI (CSP allows img-src data:)."""
    img = qrcode.make(text, box_size=6, border=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step within ±WINDOW whose code equals ``code``, or None."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP)
    current = int((time.time() if now is None else now) // STEP)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        # Compare every candidate (no early exit) so timing does not reveal which matched.
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def secret_of(person: Person) -> str | None:
    if person.totp_secret_cipher is None:
        return None
    return pii.decrypt(person.totp_secret_cipher, field="totp_secret")


def _claim_step(session: Session, person: Person, step: int) -> bool:
    """Atomically record ``step`` as used; False when it (or a later one) already was."""
    from oidc.accounts import Person

    result = session.execute(
        sa.update(Person)
        .where(
            Person.id == person.id,
            sa.or_(Person.totp_last_step.is_(None), Person.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        person.totp_last_step = step
        return True
    return False


def verify_totp(session: Session, person: Person, code: str, now: float | None = None) -> bool:
    """Check a TOTP code of a person with a confirmed secret; a code works only once."""
    secret = secret_of(person)
    if secret is None:
        return False
    step = matching_step(secret, code, now)
    return step is not None and _claim_step(session, person, step)


def _recovery_hash(code: str) -> str:
    return pii.blind_index(normalise_recovery_code(code), field="recovery_code")


def normalise_recovery_code(code: str) -> str:
    return "".join(c for c in (code or "").lower() if c.isalnum())


def looks_like_recovery_code(code: str) -> bool:
    return len(normalise_recovery_code(code)) == 10


def use_recovery_code(session: Session, person: Person, code: str) -> bool:
    """Spend one recovery code (atomically); False if unknown or already used."""
    if not looks_like_recovery_code(code):
        return False
    result = session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.person_id == person.id,
            RecoveryCode.code_hash == _recovery_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=int(time.time()))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def remaining_recovery_codes(session: Session, person: Person) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count(RecoveryCode.id)).where(
                RecoveryCode.person_id == person.id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


def new_recovery_codes(session: Session, person: Person) -> list[str]:
    """Replace a person's recovery codes with ten new ones, returned once in clear."""
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.person_id == person.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(person_id=person.id, code_hash=_recovery_hash(raw)))
    session.flush()
    return codes


def begin_enrolment(person: Person) -> str:
    """Start enrolment: a new pending secret (the confirmed one, if any, stays active)."""
    secret = new_secret()
    person.totp_pending_cipher = pii.encrypt(secret, field="totp_secret")
    return secret


def pending_secret(person: Person) -> str | None:
    if person.totp_pending_cipher is None:
        return None
    return pii.decrypt(person.totp_pending_cipher, field="totp_secret")


def confirm_enrolment(
    session: Session, person: Person, code: str, now: float | None = None
) -> list[str] | None:
    """Activate the pending secret if ``code`` matches it; returns new recovery codes."""
    secret = pending_secret(person)
    if secret is None:
        return None
    step = matching_step(secret, code, now)
    if step is None:
        return None
    person.totp_secret_cipher = person.totp_pending_cipher
    person.totp_pending_cipher = None
    person.totp_enabled_at = int(time.time())
    # The confirming code counts as used: it cannot then log in a second time.
    person.totp_last_step = step
    session.flush()
    return new_recovery_codes(session, person)


def disable(session: Session, person: Person) -> None:
    """Remove the second factor and its recovery codes."""
    person.totp_secret_cipher = None
    person.totp_pending_cipher = None
    person.totp_enabled_at = None
    person.totp_last_step = None
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.person_id == person.id))
    session.flush()
