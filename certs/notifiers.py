"""Pluggable notifiers for expiry reminders: a log line, or e-mail over SMTP.

A notifier has a ``name`` and ``send(reminder)``; it raises :class:`NotifierError`
(with a short ``reason`` code) when the reminder did not go out, so that the job
releases its claim and a later run tries again. New channels register a factory with
:func:`register` (for instance an SMS gateway) and are chosen with
``AUTHORITY_CERTS_NOTIFIER``.

E-mail: RFC 5322 messages built with :mod:`email.message`, sent with :mod:`smtplib`
(RFC 5321) over STARTTLS (RFC 3207) by default, or implicit TLS (RFC 8314); a server
that does not offer STARTTLS when it is required gets nothing (fail closed).

Personal data: the log notifier writes the license identifier, type code, expiry and
threshold — never the holder's name, ID number or e-mail address.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from certs.settings import CertsSettings

log = logging.getLogger("authority.certs.reminders")

_BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Reminder:
    """What a notifier needs to tell a holder that a license expires soon."""

    license_identifier: str
    type_code: str
    type_name_zh: str
    type_name_en: str
    holder_name: str
    expires_at: datetime
    threshold_days: int
    days_left: int
    directory_url: str
    #: The holder's e-mail address, when they subscribed on the directory page.
    email: str | None = None
    locale: str = "zh-CN"


class NotifierError(Exception):
    """The reminder was not delivered; ``reason`` is a short code for the job's report."""

    reason = "failed"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class NoRecipient(NotifierError):
    """The holder left no address for this channel."""

    reason = "no_recipient"


class Notifier(Protocol):
    name: str

    def send(self, reminder: Reminder) -> None: ...


class LogNotifier:
    """Writes one INFO line per reminder (the default; for development and audits)."""

    name = "log"

    def send(self, reminder: Reminder) -> None:
        log.info(
            "license expiry reminder: %s (%s) expires %s, %d day(s) left, threshold %d",
            reminder.license_identifier,
            reminder.type_code,
            reminder.expires_at.date().isoformat(),
            reminder.days_left,
            reminder.threshold_days,
            extra={
                "license": reminder.license_identifier,
                "license_type": reminder.type_code,
                "threshold_days": reminder.threshold_days,
                "has_email": reminder.email is not None,
            },
        )


def compose(reminder: Reminder, sender: str) -> EmailMessage:
    """The reminder e-mail, in the holder's language with the other one below."""
    date_zh = reminder.expires_at.astimezone(_BEIJING).strftime("%Y年%m月%d日")
    date_en = reminder.expires_at.astimezone(_BEIJING).strftime("%d %B %Y")
    zh = (
        f"{reminder.holder_name}，您好：\n\n"
        f"您的{reminder.type_name_zh}（证照编号 {reminder.license_identifier}）"
        f"将于 {date_zh} 到期，还剩 {reminder.days_left} 天。请及时向签发部门申请延续或换发。\n\n"
        f"查看我的证照：{reminder.directory_url}\n"
    )
    en = (
        f"Dear {reminder.holder_name},\n\n"
        f"your {reminder.type_name_en} (license {reminder.license_identifier}) expires on "
        f"{date_en}, in {reminder.days_left} day(s). Please apply to the issuing department "
        f"for a renewal in time.\n\n"
        f"My licenses: {reminder.directory_url}\n"
    )
    subject_zh = f"证照到期提醒：{reminder.type_name_zh}将于{date_zh}到期"
    subject_en = f"Reminder: your {reminder.type_name_en} expires on {date_en}"
    msg = EmailMessage()
    msg["From"] = sender
    assert reminder.email is not None
    msg["To"] = reminder.email
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please.
    if reminder.locale == "en":
        msg["Subject"] = subject_en
        msg["Content-Language"] = "en, zh-CN"
        msg.set_content(en + "\n----\n\n" + zh)
    else:
        msg["Subject"] = subject_zh
        msg["Content-Language"] = "zh-CN, en"
        msg.set_content(zh + "\n----\n\n" + en)
    return msg


class SMTPNotifier:
    """Sends the reminder e-mail through an SMTP relay."""

    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.security, self.timeout = security, timeout
        self.username, self.password = username, password
        self.tls_context = tls_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.tls_context
            )
        conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            conn.ehlo()
            if not conn.has_extn("starttls"):
                conn.close()
                raise NotifierError(
                    "the SMTP server does not offer STARTTLS; not sending in clear",
                    reason="no_starttls",
                )
            conn.starttls(context=self.tls_context)
            conn.ehlo()
        return conn

    def send(self, reminder: Reminder) -> None:
        if not reminder.email:
            raise NoRecipient("the holder has not given an e-mail address")
        message = compose(reminder, self.sender)
        try:
            conn = self._connect()
            try:
                if self.username is not None and self.password is not None:
                    conn.login(self.username, self.password)
                refused = conn.send_message(message)
            finally:
                try:
                    conn.quit()
                except smtplib.SMTPException:
                    conn.close()
        except NotifierError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            # The class name says what failed without echoing server text that may
            # contain the address.
            raise NotifierError(
                f"SMTP delivery failed ({type(exc).__name__})", reason="smtp_error"
            ) from None
        if refused:
            raise NotifierError("the SMTP server refused the recipient", reason="refused")


Factory = Callable[[CertsSettings], Notifier]

_FACTORIES: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Make a notifier available as ``AUTHORITY_CERTS_NOTIFIER=<name>``."""
    _FACTORIES[name] = factory


def _smtp(settings: CertsSettings) -> Notifier:
    assert settings.smtp_from is not None  # CertsSettings.validate() checks it
    return SMTPNotifier(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout,
    )


register("log", lambda _settings: LogNotifier())
register("smtp", _smtp)


def notifier_for(settings: CertsSettings, name: str | None = None) -> Notifier:
    """The notifier named by ``name`` or the settings."""
    chosen = name or settings.notifier
    factory = _FACTORIES.get(chosen)
    if factory is None:
        raise NotifierError(f"unknown notifier {chosen!r}", reason="unknown_notifier")
    return factory(settings)
