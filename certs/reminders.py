"""Expiry reminders: which licenses are due, and sending each reminder at most once.

A reminder is due for a *valid* license (not suspended, revoked or superseded) that
expires within the window (``--days N``, default ``AUTHORITY_CERTS_REMINDER_DAYS``).
Thresholds (``AUTHORITY_CERTS_REMINDER_THRESHOLDS``, default 30, 7 and 1 days, plus
the window itself) split the window: a license gets the reminder of the *smallest*
threshold not below its days left, so a license found 5 days before expiry gets the
7-day reminder only, never a belated 30-day one.

Exactly-once is not possible across a network; we choose *at most once*. Each
reminder is claimed by inserting (license, expiry, threshold) into ``sent_reminders``
— a unique key, with ON CONFLICT DO NOTHING on both SQLite and PostgreSQL — and the
claim is committed before anything is sent. A concurrent run's insert conflicts and it
moves on. If the notifier reports a failure the claim is deleted (a later run tries
again); if the process dies between claim and confirmation, the row stays "claimed",
the reminder is not sent again, and ``reminders send`` reports it as unconfirmed.

The subscribed address is stored encrypted (certs.reminder_models); ``reminders
reseal`` encrypts the addresses that rows from before ``certs_web_0002`` hold in clear.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from tqdm import tqdm

from authority import db, pii
from certs.models import License, LicenseType
from certs.notifiers import Notifier, NotifierError, Reminder
from certs.reminder_models import (
    ReminderSubscription,
    SentReminder,
    legacy_ids,
    reseal,
    subscription_email,
)
from certs.settings import certs_settings

#: A claim older than this without confirmation is reported as unconfirmed.
UNCONFIRMED_AFTER = timedelta(minutes=15)


@dataclass
class RunReport:
    """What one run did; printed by the CLI (``--json`` prints it as an object)."""

    due: int = 0
    sent: int = 0
    already_sent: int = 0
    not_sent: Counter[str] = field(default_factory=Counter)
    unconfirmed: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "due": self.due,
            "sent": self.sent,
            "already_sent": self.already_sent,
            "not_sent": dict(self.not_sent),
            "unconfirmed": self.unconfirmed,
        }


def thresholds_for(window_days: int, configured: tuple[int, ...]) -> list[int]:
    """The thresholds used for a window: those inside it, plus the window itself."""
    return sorted({t for t in configured if t <= window_days} | {window_days})


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days until expiry, rounded up (expiring in 6.2 days is "7 days left")."""
    return max(1, math.ceil((expires_at - now) / timedelta(days=1)))


def threshold_for(left: int, thresholds: list[int]) -> int:
    return min(t for t in thresholds if t >= left)


def expiring(session: Session, now: datetime, window_days: int) -> list[tuple[int, datetime]]:
    """(license id, expiry) of valid licenses expiring within ``window_days`` of ``now``."""
    rows = session.execute(
        sa.select(License.id, License.expires_at)
        .where(
            License.status == "valid",
            License.superseded_by.is_(None),
            License.expires_at.is_not(None),
            License.expires_at > now,
            License.expires_at <= now + timedelta(days=window_days),
        )
        .order_by(License.expires_at, License.id)
    )
    return [(int(i), e) for i, e in rows]


def _claim(
    session: Session,
    license_id: int,
    expires_at: datetime,
    threshold: int,
    channel: str,
    now: datetime,
) -> int | None:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(SentReminder)
        .values(
            license_id=license_id,
            expires_at=expires_at,
            threshold_days=threshold,
            channel=channel,
            state="claimed",
            claimed_at=now,
        )
        .on_conflict_do_nothing(index_elements=["license_id", "expires_at", "threshold_days"])
        .returning(SentReminder.id)
    )
    found = session.execute(stmt).scalar_one_or_none()
    return int(found) if found is not None else None


def reminder_for(
    session: Session,
    lic: License,
    *,
    threshold: int,
    now: datetime,
    directory_url: str,
    keys: pii.PiiKeys | None = None,
) -> Reminder:
    """The reminder for ``lic``, addressed to its holder's subscription if there is one
    (a legacy clear address is re-sealed on the way; the caller commits)."""
    entry: LicenseType = lic.license_type
    subscription = session.scalar(
        sa.select(ReminderSubscription).where(ReminderSubscription.holder_index == lic.holder_index)
    )
    email = subscription_email(session, subscription, keys) if subscription else None
    assert lic.expires_at is not None
    return Reminder(
        license_identifier=lic.identifier,
        type_code=lic.type_code,
        type_name_zh=entry.name_zh,
        type_name_en=entry.name_en,
        holder_name=lic.holder_name,
        expires_at=lic.expires_at,
        threshold_days=threshold,
        days_left=days_left(lic.expires_at, now),
        directory_url=directory_url,
        email=email,
        locale=subscription.locale if subscription else "zh-CN",
    )


def send_due(
    app: Flask,
    notifier: Notifier,
    *,
    window_days: int | None = None,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunReport:
    """Send every due reminder once through ``notifier``; safe to run concurrently."""
    settings = certs_settings(app)
    window = window_days or settings.reminder_days
    thresholds = thresholds_for(window, settings.reminder_thresholds)
    now = now or db.utcnow()
    base = app.extensions["authority.settings"].issuer.rstrip("/")
    directory_url = f"{base}/licenses"
    # The job runs without an app context: the address sub-key is derived once per run.
    keys = pii.keys_for(app)
    report = RunReport()
    with db.session_scope(app) as session:
        candidates = expiring(session, now, window)
    report.due = len(candidates)
    for license_id, expires_at in candidates:
        threshold = threshold_for(days_left(expires_at, now), thresholds)
        with db.session_scope(app) as session:
            claim = _claim(session, license_id, expires_at, threshold, notifier.name, now)
        if claim is None:
            report.already_sent += 1
        else:
            _deliver(app, notifier, claim, license_id, threshold, now, directory_url, keys, report)
        if progress is not None:
            progress(1)
    with db.session_scope(app) as session:
        report.unconfirmed = int(
            session.scalar(
                sa.select(sa.func.count())
                .select_from(SentReminder)
                .where(
                    SentReminder.state == "claimed",
                    SentReminder.claimed_at < now - UNCONFIRMED_AFTER,
                )
            )
            or 0
        )
    return report


def _deliver(
    app: Flask,
    notifier: Notifier,
    claim: int,
    license_id: int,
    threshold: int,
    now: datetime,
    directory_url: str,
    keys: pii.PiiKeys,
    report: RunReport,
) -> None:
    with db.session_scope(app) as session:
        lic = session.get(License, license_id)
        assert lic is not None
        reminder = reminder_for(
            session, lic, threshold=threshold, now=now, directory_url=directory_url, keys=keys
        )
    try:
        notifier.send(reminder)
    except NotifierError as exc:
        # Not delivered: release the claim so that a later run (or another notifier,
        # or the holder's new address) can send it.
        with db.session_scope(app) as session:
            session.execute(sa.delete(SentReminder).where(SentReminder.id == claim))
        report.not_sent[exc.reason] += 1
        return
    with db.session_scope(app) as session:
        session.execute(
            sa.update(SentReminder)
            .where(SentReminder.id == claim)
            .values(state="sent", sent_at=db.utcnow())
        )
    report.sent += 1


def reseal_legacy(
    app: Flask, *, batch: int = 500, progress: Callable[[int], None] | None = None
) -> int:
    """Encrypt every address still stored in clear (rows from before ``certs_web_0002``).

    Commits every ``batch`` rows, so an interrupted run keeps what it did and running it
    again finishes the job; returns how many rows this run re-sealed.
    """
    from authority import audit

    keys = pii.keys_for(app)
    with db.session_scope(app) as session:
        ids = legacy_ids(session)
    done = 0
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        with db.session_scope(app) as session:
            rows = session.scalars(
                sa.select(ReminderSubscription).where(ReminderSubscription.id.in_(chunk))
            ).all()
            sealed = sum(reseal(session, sub, keys) for sub in rows)
            if sealed:
                audit.record(session, "reminders.resealed", actor="cli", details={"count": sealed})
        done += sealed
        if progress is not None:
            progress(len(chunk))
    return done


def expiring_soon(lic: License, now: datetime, window_days: int) -> bool:
    """Whether the directory page shows the reminder banner for ``lic``."""
    return (
        lic.status == "valid"
        and lic.expires_at is not None
        and now < lic.expires_at <= now + timedelta(days=window_days)
    )


# ---------------------------------------------------------------- command line

reminders_cli = AppGroup("reminders", help="Expiry reminders for license holders.")


@reminders_cli.command("send")
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=None,
    help="Window: licenses expiring within N days (default AUTHORITY_CERTS_REMINDER_DAYS).",
)
@click.option(
    "--notifier",
    "notifier_name",
    default=None,
    help="Notifier to use (default AUTHORITY_CERTS_NOTIFIER: log or smtp).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@with_appcontext
def send_command(days: int | None, notifier_name: str | None, as_json: bool) -> None:
    """Send each due reminder once; running it again (or twice at once) sends nothing twice."""
    from flask import current_app

    from certs.notifiers import notifier_for

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        notifier = notifier_for(certs_settings(app), notifier_name)
    except NotifierError as exc:
        raise click.ClickException(str(exc)) from None
    with tqdm(desc="reminders", unit="license", disable=as_json or None, file=sys.stderr) as bar:
        report = send_due(app, notifier, window_days=days, progress=bar.update)
    if as_json:
        click.echo(json.dumps(report.as_dict(), sort_keys=True))
        return
    click.echo(
        f"due: {report.due}, sent: {report.sent} via {notifier.name}, "
        f"already sent: {report.already_sent}"
    )
    for reason, count in sorted(report.not_sent.items()):
        click.echo(f"not sent ({reason}): {count}")
    if report.unconfirmed:
        click.echo(
            f"warning: {report.unconfirmed} reminder(s) were claimed by an interrupted run "
            "and are not sent again (at most once)",
            err=True,
        )
    if any(reason != "no_recipient" for reason in report.not_sent):
        # A delivery failed: exit non-zero so that cron or a timer notices.
        sys.exit(1)


@reminders_cli.command("reseal")
@with_appcontext
def reseal_command() -> None:
    """Encrypt the reminder e-mail addresses still stored in clear (after certs_web_0002)."""
    from flask import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with tqdm(desc="reseal", unit="address", disable=None, file=sys.stderr) as bar:
        sealed = reseal_legacy(app, progress=bar.update)
    with db.session_scope(app) as session:
        left = len(legacy_ids(session))
    click.echo(f"re-sealed: {sealed}, still in clear: {left}")
    if left:
        # Only rows written in clear by an older version while this ran; run it again.
        sys.exit(1)
