"""Typed settings of the holder-facing license features, from ``AUTHORITY_CERTS_*``.

Every field is documented here and in docs/holder-directory.md ("Configuration").
authority/config.py lists these names in ``FOREIGN_VARS`` so that its unknown-variable
check accepts them; unknown ``AUTHORITY_CERTS_*`` names are rejected here, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from flask import Flask, current_app

NOTIFIERS = ("log", "smtp")
SMTP_SECURITY = ("starttls", "ssl", "none")
EXTENSION_KEY = "certs.settings"


class CertsConfigError(Exception):
    """An ``AUTHORITY_CERTS_*`` setting is unusable; the message names it."""


@dataclass(frozen=True)
class CertsSettings:
    """Settings of the holder directory and the expiry reminders."""

    #: AUTHORITY_CERTS_REMINDER_DAYS: licenses expiring within this many days show a
    #: banner in the holder directory; also the default window of ``reminders send``.
    reminder_days: int = 30
    #: AUTHORITY_CERTS_REMINDER_THRESHOLDS: comma-separated days before expiry at which
    #: a reminder is due (each threshold sends at most one reminder per license expiry).
    reminder_thresholds: tuple[int, ...] = (30, 7, 1)
    #: AUTHORITY_CERTS_NOTIFIER: ``log`` (the default; writes one log line per reminder,
    #: without personal data) or ``smtp`` (e-mail to the address the holder gave).
    notifier: str = "log"
    #: AUTHORITY_CERTS_SMTP_HOST / _PORT: the mail relay.
    smtp_host: str = "localhost"
    smtp_port: int = 587
    #: AUTHORITY_CERTS_SMTP_SECURITY: ``starttls`` (default; refuses to send if the
    #: server does not offer it), ``ssl`` (implicit TLS, port 465) or ``none``
    #: (plain, for a relay on the same host only).
    smtp_security: str = "starttls"
    #: AUTHORITY_CERTS_SMTP_FROM: the sender address (required with ``smtp``).
    smtp_from: str | None = None
    #: AUTHORITY_CERTS_SMTP_USERNAME / _PASSWORD: optional SMTP AUTH credentials.
    smtp_username: str | None = None
    smtp_password: str | None = None
    #: AUTHORITY_CERTS_SMTP_TIMEOUT: seconds to wait for the relay.
    smtp_timeout: float = 10.0

    def validate(self) -> CertsSettings:
        if not isinstance(self.reminder_days, int) or not 1 <= self.reminder_days <= 366:
            raise CertsConfigError("AUTHORITY_CERTS_REMINDER_DAYS must be 1-366")
        if not self.reminder_thresholds or any(
            not isinstance(d, int) or not 1 <= d <= 366 for d in self.reminder_thresholds
        ):
            raise CertsConfigError(
                "AUTHORITY_CERTS_REMINDER_THRESHOLDS must be a list of days, each 1-366"
            )
        if self.notifier not in NOTIFIERS:
            raise CertsConfigError(
                f"AUTHORITY_CERTS_NOTIFIER must be one of {', '.join(NOTIFIERS)}"
            )
        if self.smtp_security not in SMTP_SECURITY:
            raise CertsConfigError(
                f"AUTHORITY_CERTS_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}"
            )
        if self.notifier == "smtp" and not self.smtp_from:
            raise CertsConfigError("AUTHORITY_CERTS_SMTP_FROM is required with the smtp notifier")
        if not 0 < self.smtp_port < 65536:
            raise CertsConfigError("AUTHORITY_CERTS_SMTP_PORT must be a TCP port")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise CertsConfigError(
                "AUTHORITY_CERTS_SMTP_USERNAME and AUTHORITY_CERTS_SMTP_PASSWORD go together"
            )
        return self

    def with_overrides(self, overrides: Mapping[str, Any]) -> CertsSettings:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise CertsConfigError(f"unknown certs setting(s): {', '.join(unknown)}")
        return replace(self, **dict(overrides)).validate()


PREFIX = "AUTHORITY_CERTS_"
ENV_VARS: dict[str, str] = {PREFIX + f.name.upper(): f.name for f in fields(CertsSettings)}


def _parse(name: str, raw: str) -> Any:
    env = next(k for k, v in ENV_VARS.items() if v == name)
    try:
        if name == "reminder_thresholds":
            return tuple(sorted({int(p) for p in raw.split(",") if p.strip()}, reverse=True))
        if name in ("reminder_days", "smtp_port"):
            return int(raw)
        if name == "smtp_timeout":
            return float(raw)
    except ValueError:
        raise CertsConfigError(f"{env} is not a number: {raw!r}") from None
    return raw


def settings_from_env(environ: Mapping[str, str] | None = None) -> CertsSettings:
    """Read :class:`CertsSettings`, rejecting unknown ``AUTHORITY_CERTS_*`` names."""
    environ = os.environ if environ is None else environ
    unknown = sorted(n for n in environ if n.startswith(PREFIX) and n not in ENV_VARS)
    if unknown:
        raise CertsConfigError(f"unknown environment variable(s): {', '.join(unknown)}")
    values = {ENV_VARS[n]: _parse(ENV_VARS[n], v) for n, v in environ.items() if n in ENV_VARS}
    return CertsSettings(**values).validate()


def setup_settings(app: Flask) -> None:
    """Read the settings once at start-up (a bad value stops the app from starting)."""
    app.extensions.setdefault(EXTENSION_KEY, settings_from_env())


def certs_settings(app: Flask | None = None) -> CertsSettings:
    """The settings of ``app`` (tests may replace ``app.extensions["certs.settings"]``)."""
    app = app or current_app
    found: CertsSettings | None = app.extensions.get(EXTENSION_KEY)
    if found is None:
        found = settings_from_env()
        app.extensions[EXTENSION_KEY] = found
    return found
