"""Tables of the expiry reminders: who wants e-mail, and which reminders went out.

``sent_reminders`` makes "never the same reminder twice" a database fact: one row per
(license, expiry, threshold) under a unique constraint. The reminder job claims a row
(an insert that does nothing on conflict) and commits the claim *before* it sends, so
two concurrent runs never both send; a failed send deletes its claim so that a later
run tries again (docs/holder-directory.md, "Reminders").

``reminder_subscriptions`` holds the e-mail address a holder gave on the 我的证照 page,
keyed by the holder's blind index (certs.holders.holder_index), never by the number.
The address is personal data: it is stored SM4-GCM encrypted (:mod:`authority.pii`,
field ``reminder_email``) in ``email_cipher``. Rows written before migration
``certs_web_0002`` hold it in clear in ``email``; a migration cannot know the KEK, so
such a row is re-sealed (ciphertext written, clear column set to NULL) the next time it
is read or written, or by ``authority reminders reseal`` (docs/holder-directory.md).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from authority import pii
from authority.db import Base, UTCDateTime, utcnow

#: The field name bound into the address's ciphertext (authority.pii associated data):
#: a ciphertext copied here from another column does not decrypt.
EMAIL_FIELD = "reminder_email"


class SentReminder(Base):
    """One reminder for one license, expiry and threshold: claimed, then sent."""

    __tablename__ = "sent_reminders"
    __table_args__ = (
        sa.UniqueConstraint(
            "license_id", "expires_at", "threshold_days", name="uq_sent_reminders_once"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    license_id: Mapped[int] = mapped_column(
        sa.ForeignKey("licenses.id", ondelete="CASCADE"), index=True
    )
    #: The expiry the reminder was about: a superseding version with a new expiry
    #: is a new license, and so gets its own reminders.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    threshold_days: Mapped[int] = mapped_column(sa.Integer)
    #: The notifier that handled it ("log", "smtp", …).
    channel: Mapped[str] = mapped_column(sa.String(32))
    #: "claimed" while being sent, then "sent". A "claimed" row left by a crashed run
    #: is reported by the job and not sent again (at most once, never twice).
    state: Mapped[str] = mapped_column(sa.String(12), default="claimed")
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ReminderSubscription(Base):
    """The e-mail address for reminders about one holder's licenses."""

    __tablename__ = "reminder_subscriptions"
    __table_args__ = (
        # Every row has its address, sealed or (legacy) clear.
        sa.CheckConstraint("email_cipher IS NOT NULL OR email IS NOT NULL", name="has_email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    holder_index: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: SM4-GCM ciphertext of the address (authority.pii, field ``reminder_email``).
    email_cipher: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    #: The clear address of a row written before ``certs_web_0002``; NULL once re-sealed.
    #: Never set by new code: use :func:`seal_email`.
    legacy_email: Mapped[str | None] = mapped_column("email", sa.String(254), nullable=True)
    #: Language of the e-mails ("zh-CN" or "en"), the page's language when subscribing.
    locale: Mapped[str] = mapped_column(sa.String(8), default="zh-CN")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def seal_email(sub: ReminderSubscription, address: str, keys: pii.PiiKeys | None = None) -> None:
    """Store ``address`` in ``sub`` encrypted, dropping any legacy clear copy."""
    sub.email_cipher = pii.encrypt(address, field=EMAIL_FIELD, keys=keys)
    sub.legacy_email = None


def reseal(session: Session, sub: ReminderSubscription, keys: pii.PiiKeys | None = None) -> bool:
    """Encrypt a legacy row's clear address and clear the plain column.

    Returns whether this call re-sealed the row. The update is conditional on the clear
    address still being the one read, so a concurrent change of address (which writes a
    new ciphertext) is never overwritten by the old one. The caller commits.
    """
    clear = sub.legacy_email
    if clear is None:
        return False
    result = session.execute(
        sa.update(ReminderSubscription)
        .where(ReminderSubscription.id == sub.id, ReminderSubscription.legacy_email == clear)
        .values(email_cipher=pii.encrypt(clear, field=EMAIL_FIELD, keys=keys), legacy_email=None)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0))


def subscription_email(
    session: Session, sub: ReminderSubscription, keys: pii.PiiKeys | None = None
) -> str:
    """The subscription's address; a legacy clear row is re-sealed on the way (the caller
    commits). Raises keys.errors.DecryptionError if the ciphertext does not open."""
    clear = sub.legacy_email
    if clear is not None:
        reseal(session, sub, keys)
        return clear
    assert sub.email_cipher is not None  # the table's check constraint
    return pii.decrypt(sub.email_cipher, field=EMAIL_FIELD, keys=keys)


def legacy_ids(session: Session) -> list[int]:
    """Ids of the rows whose address is still in clear, for ``authority reminders reseal``."""
    return list(
        session.scalars(
            sa.select(ReminderSubscription.id)
            .where(ReminderSubscription.legacy_email.is_not(None))
            .order_by(ReminderSubscription.id)
        )
    )
