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
from certs.reminder_models import ReminderSubscription, SentReminder
from certs.reminders import reminders_cli, send_due
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
        session.add(
            ReminderSubscription(holder_index=holder_index(number), email=email, locale=locale)
        )


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
