"""Tables of the expiry reminders: who wants e-mail, and which reminders went out.

``sent_reminders`` makes "never the same reminder twice" a database fact: one row per
(license, expiry, threshold) under a unique constraint. The reminder job claims a row
(an insert that does nothing on conflict) and commits the claim *before* it sends, so
two concurrent runs never both send; a failed send deletes its claim so that a later
run tries again (docs/holder-directory.md, "Reminders").

``reminder_subscriptions`` holds the e-mail address a holder gave on the 我的证照 page,
keyed by the holder's blind index (certs.holders.holder_index), never by the number.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from authority.db import Base, UTCDateTime, utcnow


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

    id: Mapped[int] = mapped_column(primary_key=True)
    holder_index: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    #: Language of the e-mails ("zh-CN" or "en"), the page's language when subscribing.
    locale: Mapped[str] = mapped_column(sa.String(8), default="zh-CN")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
