"""Expiry reminders: due licenses, thresholds, log and SMTP notifiers, never twice."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest
import sqlalchemy as sa

from certs.notifiers import LogNotifier, NotifierError, Reminder
from certs.reminder_models import (
    EMAIL_FIELD,
    ReminderSubscription,
    SentReminder,
    reseal,
    seal_email,
)
from certs.reminders import reminders_cli, reseal_legacy, send_due
from certs.settings import CertsConfigError, CertsSettings, settings_from_env
from tests.certs.conftest import PERSON_ID, count, person_body
from tests.certs.holder_support import change_status, issue, smtp_server


def utcnow() -> Any:
    from authority.db import utcnow as now

    return now()


def expiring_in(app: Any, days: float, **body: Any) -> str:
    """Issue a 365-day QUALCERT license whose expiry is ``days`` from now."""
    return issue(app, person_body(**body), now=utcnow() - timedelta(days=365 - days))


def use_settings(app: Any, **overrides: Any) -> None:
    app.extensions["certs.settings"] = CertsSettings().with_overrides(overrides)


class RecordingNotifier:
    name = "recording"

    def __init__(self, delay: float = 0.0) -> None:
        self.sent: list[Reminder] = []
        self.delay = delay
        self.lock = threading.Lock()

    def send(self, reminder: Reminder) -> None:
        time.sleep(self.delay)
        with self.lock:
            self.sent.append(reminder)


def subscribe(app: Any, number: str, email: str, locale: str = "zh-CN") -> None:
    from authority import db
    from certs.holders import holder_index

    with app.app_context(), db.session_scope(app) as session:
        sub = ReminderSubscription(holder_index=holder_index(number), locale=locale)
        seal_email(sub, email)
        session.add(sub)


def subscribe_in_clear(app: Any, number: str, email: str) -> None:
    """A row as written before certs_web_0002: the address in clear, no ciphertext."""
    from authority import db
    from certs.holders import holder_index

    with app.app_context(), db.session_scope(app) as session:
        session.add(ReminderSubscription(holder_index=holder_index(number), legacy_email=email))


def stored_rows(app: Any) -> list[tuple[str | None, bytes | None]]:
    """(clear column, ciphertext column) of every subscription, as the database holds them."""
    from authority import db

    with db.engine(app).connect() as conn:
        rows = conn.execute(
            sa.text("SELECT email, email_cipher FROM reminder_subscriptions ORDER BY id")
        )
        return [(clear, None if cipher is None else bytes(cipher)) for clear, cipher in rows]


def opened(app: Any, cipher: bytes | None) -> str:
    from authority import pii

    assert cipher is not None
    return pii.decrypt(cipher, field=EMAIL_FIELD, keys=pii.keys_for(app))


def test_due_licenses_get_one_reminder_at_their_threshold(app: Any, setup_dept: str) -> None:
    soon = expiring_in(app, 5)
    later = expiring_in(app, 20)
    expiring_in(app, 100)  # outside the window
    revoked = expiring_in(app, 3)
    change_status(app, revoked, "revoke")
    notifier = RecordingNotifier()
    report = send_due(app, notifier, window_days=30)
    assert (report.due, report.sent, report.already_sent) == (2, 2, 0)
    by_id = {r.license_identifier: r for r in notifier.sent}
    assert set(by_id) == {soon, later}
    assert by_id[soon].threshold_days == 7 and by_id[soon].days_left == 5
    assert by_id[later].threshold_days == 30
    # Again: nothing new.
    again = send_due(app, notifier, window_days=30)
    assert (again.sent, again.already_sent) == (0, 2)
    assert len(notifier.sent) == 2
    assert count(app, SentReminder) == 2


def test_next_threshold_sends_again_but_never_a_belated_wider_one(
    app: Any, setup_dept: str
) -> None:
    ident = expiring_in(app, 20)
    notifier = RecordingNotifier()
    send_due(app, notifier, window_days=30)
    # Fourteen days later it expires in six days: the 7-day reminder is due.
    later = utcnow() + timedelta(days=14)
    report = send_due(app, notifier, window_days=30, now=later)
    assert report.sent == 1
    assert [r.threshold_days for r in notifier.sent] == [30, 7]
    # Five more days: the 1-day reminder; then nothing more.
    send_due(app, notifier, window_days=30, now=later + timedelta(days=5, hours=1))
    send_due(app, notifier, window_days=30, now=later + timedelta(days=5, hours=2))
    assert [r.threshold_days for r in notifier.sent] == [30, 7, 1]
    assert {r.license_identifier for r in notifier.sent} == {ident}
    # A license first seen 5 days before expiry gets the 7-day reminder only.
    fresh = expiring_in(app, 5)
    send_due(app, notifier, window_days=30)
    assert [r.threshold_days for r in notifier.sent if r.license_identifier == fresh] == [7]


def test_days_option_widens_the_window(app: Any, setup_dept: str) -> None:
    expiring_in(app, 45)
    notifier = RecordingNotifier()
    assert send_due(app, notifier, window_days=30).sent == 0
    report = send_due(app, notifier, window_days=60)
    assert report.sent == 1
    assert notifier.sent[0].threshold_days == 60


def test_suspended_and_superseded_licenses_get_no_reminder(app: Any, setup_dept: str) -> None:
    suspended = expiring_in(app, 5)
    change_status(app, suspended, "suspend")
    notifier = RecordingNotifier()
    assert send_due(app, notifier, window_days=30).due == 0


@pytest.mark.parametrize("runs", [4])
def test_concurrent_runs_send_each_reminder_once(app: Any, setup_dept: str, runs: int) -> None:
    identifiers = {expiring_in(app, d) for d in (2, 4, 6, 10, 15, 25)}
    notifier = RecordingNotifier(delay=0.02)
    reports: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(send_due(app, notifier, window_days=30))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    sent = [r.license_identifier for r in notifier.sent]
    assert sorted(sent) == sorted(identifiers)  # each exactly once
    assert sum(r.sent for r in reports) == len(identifiers)
    assert sum(r.already_sent for r in reports) == len(identifiers) * (runs - 1)


def test_log_notifier_writes_no_personal_data(
    app: Any, setup_dept: str, caplog: pytest.LogCaptureFixture
) -> None:
    ident = expiring_in(app, 5)
    subscribe(app, PERSON_ID, "zhang.san@example.cn")
    with caplog.at_level(logging.INFO, logger="authority.certs.reminders"):
        report = send_due(app, LogNotifier(), window_days=30)
    assert report.sent == 1
    lines = [r for r in caplog.records if r.name == "authority.certs.reminders"]
    assert len(lines) == 1
    text = lines[0].getMessage() + json.dumps(
        {k: str(v) for k, v in vars(lines[0]).items()}, ensure_ascii=False
    )
    assert ident in text
    for secret in (PERSON_ID, PERSON_ID[:6] + "********", "张三", "zhang.san@example.cn"):
        assert secret not in text


def test_cli_send_reports_and_is_idempotent(app: Any, runner: Any, setup_dept: str) -> None:
    expiring_in(app, 5)
    expiring_in(app, 12)
    first = runner.invoke(reminders_cli, ["send", "--days", "30", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output.strip().splitlines()[-1]) == {
        "due": 2,
        "sent": 2,
        "already_sent": 0,
        "not_sent": {},
        "unconfirmed": 0,
    }
    second = runner.invoke(reminders_cli, ["send", "--days", "30"])
    assert second.exit_code == 0, second.output
    assert "due: 2, sent: 0 via log, already sent: 2" in second.output
    bad = runner.invoke(reminders_cli, ["send", "--days", "0"])
    assert bad.exit_code == 2
    unknown = runner.invoke(reminders_cli, ["send", "--notifier", "pigeon"])
    assert unknown.exit_code == 1
    assert "unknown notifier 'pigeon'" in unknown.output


def test_smtp_notifier_sends_to_the_subscribed_holder(app: Any, setup_dept: str) -> None:
    from certs.notifiers import notifier_for

    ident = expiring_in(app, 5)
    other = expiring_in(
        app, 6, holder={"id": "11010519491231002X", "name": "李四"}
    )  # no subscription
    subscribe(app, PERSON_ID, "zhang.san@example.cn")
    with smtp_server() as (port, box):
        use_settings(
            app,
            notifier="smtp",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            smtp_from="noreply@authority.example.cn",
        )
        from certs.settings import certs_settings

        notifier = notifier_for(certs_settings(app))
        report = send_due(app, notifier, window_days=30)
    assert report.sent == 1
    assert dict(report.not_sent) == {"no_recipient": 1}
    assert len(box.messages) == 1
    received = box.messages[0]
    assert received["to"] == ["zhang.san@example.cn"]
    message = message_from_bytes(received["data"])
    subject = str(make_header(decode_header(message["Subject"])))
    assert "职业资格证书" in subject and "到期" in subject
    body = message.get_payload(decode=True).decode("utf-8")
    assert ident in body and "张三" in body and "/licenses" in body
    assert PERSON_ID not in body and PERSON_ID not in received["data"].decode("utf-8", "replace")
    assert message["Auto-Submitted"] == "auto-generated"
    # The unsubscribed holder's claim was released: a later subscription still gets it.
    from authority import db

    with app.app_context(), db.session_scope(app) as session:
        rows = session.scalars(sa.select(SentReminder)).all()
        assert [(r.state, r.channel) for r in rows] == [("sent", "smtp")]
    assert other


def test_the_address_is_stored_encrypted(app: Any, setup_dept: str) -> None:
    from authority import pii
    from keys.errors import DecryptionError

    subscribe(app, PERSON_ID, "zhang.san@example.cn")
    [(clear, cipher)] = stored_rows(app)
    assert clear is None and cipher is not None
    assert cipher[:1] == pii.VERSION
    for part in (b"zhang.san@example.cn", b"zhang.san", b"example.cn"):
        assert part not in cipher
    assert opened(app, cipher) == "zhang.san@example.cn"
    # Bound to its field: the same bytes do not open as another kind of personal data.
    with pytest.raises(DecryptionError):
        pii.decrypt(cipher, field="phone", keys=pii.keys_for(app))


def test_the_job_sends_to_a_legacy_clear_address_and_seals_it(app: Any, setup_dept: str) -> None:
    from certs.notifiers import SMTPNotifier

    expiring_in(app, 5)
    subscribe_in_clear(app, PERSON_ID, "zhang.san@example.cn")
    with smtp_server() as (port, box):
        notifier = SMTPNotifier(
            host="127.0.0.1", port=port, sender="noreply@example.cn", security="none"
        )
        assert send_due(app, notifier, window_days=30).sent == 1
    assert box.messages[0]["to"] == ["zhang.san@example.cn"]
    [(clear, cipher)] = stored_rows(app)
    assert clear is None
    assert opened(app, cipher) == "zhang.san@example.cn"


def test_cli_reseal_seals_every_legacy_row(app: Any, runner: Any, setup_dept: str) -> None:
    from authority import db
    from authority.models import AuditEntry
    from tests.certs.conftest import id_number

    numbers = [id_number(f"3501021990030712{i}") for i in range(5)]
    for i, number in enumerate(numbers[:4]):
        subscribe_in_clear(app, number, f"holder{i}@example.cn")
    subscribe(app, numbers[4], "sealed@example.cn")
    result = runner.invoke(reminders_cli, ["reseal"])
    assert result.exit_code == 0, result.output
    assert "re-sealed: 4, still in clear: 0" in result.output
    rows = stored_rows(app)
    assert [clear for clear, _ in rows] == [None] * 5
    assert [opened(app, cipher) for _, cipher in rows] == [
        "holder0@example.cn",
        "holder1@example.cn",
        "holder2@example.cn",
        "holder3@example.cn",
        "sealed@example.cn",
    ]
    with app.app_context(), db.session_scope(app) as session:
        audited = session.scalars(
            sa.select(AuditEntry).where(AuditEntry.event == "reminders.resealed")
        ).all()
        assert [(e.actor, json.loads(e.details)) for e in audited] == [("cli", {"count": 4})]
    again = runner.invoke(reminders_cli, ["reseal"])
    assert again.exit_code == 0, again.output
    assert "re-sealed: 0, still in clear: 0" in again.output


def test_reseal_works_in_batches(app: Any, setup_dept: str) -> None:
    from tests.certs.conftest import id_number

    for i in range(5):
        subscribe_in_clear(app, id_number(f"3501021990030712{i}"), f"holder{i}@example.cn")
    progress: list[int] = []
    assert reseal_legacy(app, batch=2, progress=progress.append) == 5
    assert progress == [2, 2, 1]
    assert all(clear is None for clear, _ in stored_rows(app))


def test_reseal_never_overwrites_a_newer_address(app: Any, setup_dept: str) -> None:
    from authority import db

    subscribe_in_clear(app, PERSON_ID, "old@example.cn")
    with app.app_context(), db.session_scope(app) as stale:
        sub = stale.scalars(sa.select(ReminderSubscription)).one()
        # Meanwhile the holder gives a new address on the page.
        with db.session_scope(app) as page:
            seal_email(page.scalars(sa.select(ReminderSubscription)).one(), "new@example.cn")
        assert reseal(stale, sub) is False
    [(clear, cipher)] = stored_rows(app)
    assert clear is None and opened(app, cipher) == "new@example.cn"


def test_smtp_requires_starttls_by_default(app: Any, setup_dept: str) -> None:
    from certs.notifiers import SMTPNotifier

    expiring_in(app, 5)
    subscribe(app, PERSON_ID, "zhang.san@example.cn")
    with smtp_server() as (port, box):
        notifier = SMTPNotifier(host="127.0.0.1", port=port, sender="noreply@example.cn")
        report = send_due(app, notifier, window_days=30)
    assert report.sent == 0
    assert dict(report.not_sent) == {"no_starttls": 1}
    assert box.messages == []
    assert "MAIL" not in box.commands
    assert count(app, SentReminder) == 0  # released for a later run


def test_smtp_failure_releases_the_claim_and_a_later_run_sends(app: Any, setup_dept: str) -> None:
    from certs.notifiers import SMTPNotifier

    expiring_in(app, 5)
    subscribe(app, PERSON_ID, "zhang.san@example.cn", locale="en")
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    down = SMTPNotifier(
        host="127.0.0.1", port=closed_port, sender="noreply@example.cn", security="none", timeout=2
    )
    report = send_due(app, down, window_days=30)
    assert dict(report.not_sent) == {"smtp_error": 1}
    assert count(app, SentReminder) == 0
    with smtp_server() as (port, box):
        up = SMTPNotifier(host="127.0.0.1", port=port, sender="noreply@example.cn", security="none")
        assert send_due(app, up, window_days=30).sent == 1
        assert send_due(app, up, window_days=30).sent == 0
    assert len(box.messages) == 1
    message = message_from_bytes(box.messages[0]["data"])
    assert str(make_header(decode_header(message["Subject"]))).startswith("Reminder: your")


def test_failing_notifier_is_reported_by_the_cli(app: Any, runner: Any, setup_dept: str) -> None:
    from certs import notifiers

    class Broken:
        name = "broken"

        def send(self, reminder: Reminder) -> None:
            raise NotifierError("down", reason="gateway_down")

    notifiers.register("broken-test", lambda _s: Broken())
    expiring_in(app, 5)
    result = runner.invoke(reminders_cli, ["send", "--notifier", "broken-test"])
    assert result.exit_code == 1
    assert "not sent (gateway_down): 1" in result.output
    assert count(app, SentReminder) == 0


def test_settings_from_environment() -> None:
    settings = settings_from_env(
        {
            "AUTHORITY_CERTS_REMINDER_DAYS": "45",
            "AUTHORITY_CERTS_REMINDER_THRESHOLDS": "7, 30,1",
            "AUTHORITY_CERTS_NOTIFIER": "smtp",
            "AUTHORITY_CERTS_SMTP_FROM": "noreply@example.cn",
            "AUTHORITY_CERTS_SMTP_PORT": "465",
            "AUTHORITY_CERTS_SMTP_SECURITY": "ssl",
        }
    )
    assert settings.reminder_days == 45
    assert settings.reminder_thresholds == (30, 7, 1)
    assert (settings.notifier, settings.smtp_port, settings.smtp_security) == ("smtp", 465, "ssl")
    with pytest.raises(CertsConfigError, match="AUTHORITY_CERTS_REMINDER_DAY"):
        settings_from_env({"AUTHORITY_CERTS_REMINDER_DAY": "3"})
    with pytest.raises(CertsConfigError, match="SMTP_FROM is required"):
        settings_from_env({"AUTHORITY_CERTS_NOTIFIER": "smtp"})
    with pytest.raises(CertsConfigError, match="not a number"):
        settings_from_env({"AUTHORITY_CERTS_REMINDER_DAYS": "soon"})
    with pytest.raises(CertsConfigError, match="1-366"):
        settings_from_env({"AUTHORITY_CERTS_REMINDER_DAYS": "0"})


def test_authority_settings_accept_the_certs_variables() -> None:
    from authority.config import settings_from_env as authority_settings

    authority_settings({"AUTHORITY_CERTS_REMINDER_DAYS": "10", "AUTHORITY_ENV": "testing"})
