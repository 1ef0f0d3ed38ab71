"""Typed settings for the whole service, read from the environment.

Every field is documented here and in docs/configuration.md. Unknown ``AUTHORITY_*``
variables and unknown keys passed to :func:`create_app` are rejected, so that a typo
never silently falls back to a default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("development", "testing", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _is_kek_hex(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdefABCDEF" for c in value)


class ConfigError(Exception):
    """The configuration is unusable; the message says which setting and why."""


@dataclass(frozen=True)
class Settings:
    """Service settings. Environment variable names are given per field."""

    #: AUTHORITY_ENV: development | testing | production (default: production).
    env: str = "production"
    #: SECRET_KEY: signs Flask session cookies and CSRF tokens; required outside development.
    secret_key: str | None = None
    #: DATABASE_URL: SQLAlchemy URL; default is a SQLite file in the instance folder.
    database_url: str | None = None
    #: AUTHORITY_ISSUER: the public base URL, used as the OIDC issuer and in links.
    issuer: str = "http://127.0.0.1:5000"
    #: AUTHORITY_KEK: key-encryption key for the key store, 32 hex digits (SM4-128).
    kek: str | None = None
    #: AUTHORITY_KEK_FILE: a file holding the key-encryption key (hex), outside the database.
    kek_file: str | None = None
    #: AUTHORITY_INSTANCE_PATH: where SQLite files and development secrets live.
    instance_path: str = field(default_factory=lambda: str(Path.cwd() / "instance"))
    #: AUTHORITY_LOG_LEVEL: logging level name (default INFO).
    log_level: str = "INFO"
    #: AUTHORITY_MAX_CONTENT_LENGTH: largest request body accepted, in bytes (default 16 MiB).
    max_content_length: int = 16 * 1024 * 1024
    #: AUTHORITY_TRUSTED_PROXIES: how many reverse proxies in front of the app set
    #: X-Forwarded-For/-Proto/-Host (default 0: the headers are ignored, as they must be
    #: when clients reach the app directly).
    trusted_proxies: int = 0
    #: AUTHORITY_ROOT_NAME: common name of the provincial root certificate made by ``init``.
    root_name: str = "Provincial E-License Root CA"
    #: AUTHORITY_ORGANISATION: organisation named in the root certificate and on pages.
    organisation: str = "Provincial Government Services"

    @property
    def is_https(self) -> bool:
        """True when the public issuer URL is https (then HSTS and Secure cookies apply)."""
        return self.issuer.lower().startswith("https://")

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def is_testing(self) -> bool:
        return self.env == "testing"

    def validate(self) -> Settings:
        if self.env not in ENVIRONMENTS:
            raise ConfigError(f"AUTHORITY_ENV must be one of {', '.join(ENVIRONMENTS)}")
        if self.env == "production" and not self.secret_key:
            raise ConfigError("SECRET_KEY is required outside development and testing")
        if self.secret_key is not None and self.env == "production" and len(self.secret_key) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters")
        if not self.issuer.lower().startswith(("http://", "https://")):
            raise ConfigError(
                "AUTHORITY_ISSUER must be an http(s) URL, e.g. https://id.example.gov.cn"
            )
        if self.env == "production" and not self.is_https:
            raise ConfigError("AUTHORITY_ISSUER must be https in production")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(f"AUTHORITY_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        if not 0 <= self.trusted_proxies <= 5:
            raise ConfigError("AUTHORITY_TRUSTED_PROXIES must be a whole number from 0 to 5")
        if self.max_content_length < 1024:
            raise ConfigError("AUTHORITY_MAX_CONTENT_LENGTH must be at least 1024 bytes")
        if self.kek is not None and not _is_kek_hex(self.kek):
            raise ConfigError("AUTHORITY_KEK must be 32 hexadecimal digits (a 128-bit SM4 key)")
        if self.kek and self.kek_file:
            raise ConfigError("set AUTHORITY_KEK or AUTHORITY_KEK_FILE, not both")
        return self

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        return replace(self, **dict(overrides)).validate()


# Environment variable -> field name.
ENV_VARS: dict[str, str] = {
    "AUTHORITY_ENV": "env",
    "SECRET_KEY": "secret_key",
    "DATABASE_URL": "database_url",
    "AUTHORITY_ISSUER": "issuer",
    "AUTHORITY_KEK": "kek",
    "AUTHORITY_KEK_FILE": "kek_file",
    "AUTHORITY_INSTANCE_PATH": "instance_path",
    "AUTHORITY_LOG_LEVEL": "log_level",
    "AUTHORITY_MAX_CONTENT_LENGTH": "max_content_length",
    "AUTHORITY_TRUSTED_PROXIES": "trusted_proxies",
    "AUTHORITY_ROOT_NAME": "root_name",
    "AUTHORITY_ORGANISATION": "organisation",
}

#: Fields that are not strings, with the function that parses their environment value.
_PARSERS: dict[str, Any] = {"max_content_length": int, "trusted_proxies": int}

# AUTHORITY_* variables read by other packages (not Settings fields) but known, so
# that the unknown-variable check does not reject them.
FOREIGN_VARS = frozenset(
    {
        "AUTHORITY_SM2_BACKEND",  # keys/sm2.py
        "AUTHORITY_TEST_REQUIRE",  # tests/conftest.py (CI: postgres,browser)
        # oidc/config.py (OIDCSettings), documented in docs/oidc.md.
        "AUTHORITY_OIDC_REGISTRATION",
        "AUTHORITY_OIDC_CODE_TTL",
        "AUTHORITY_OIDC_ACCESS_TOKEN_TTL",
        "AUTHORITY_OIDC_REFRESH_TOKEN_TTL",
        "AUTHORITY_OIDC_REFRESH_GRACE",
        "AUTHORITY_OIDC_ID_TOKEN_TTL",
        "AUTHORITY_OIDC_ISSUANCE_AUDIT",
        # certs/settings.py (holder directory, expiry reminders, SMTP notifier).
        "AUTHORITY_CERTS_REMINDER_DAYS",
        "AUTHORITY_CERTS_REMINDER_THRESHOLDS",
        "AUTHORITY_CERTS_NOTIFIER",
        "AUTHORITY_CERTS_SMTP_HOST",
        "AUTHORITY_CERTS_SMTP_PORT",
        "AUTHORITY_CERTS_SMTP_SECURITY",
        "AUTHORITY_CERTS_SMTP_FROM",
        "AUTHORITY_CERTS_SMTP_USERNAME",
        "AUTHORITY_CERTS_SMTP_PASSWORD",
        "AUTHORITY_CERTS_SMTP_TIMEOUT",
    }
)


def current_settings() -> Settings:
    """The settings of the current Flask app (inside an app or request context)."""
    from flask import current_app

    settings: Settings = current_app.extensions["authority.settings"]
    return settings


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Read :class:`Settings` from the environment, rejecting unknown AUTHORITY_* names."""
    environ = os.environ if environ is None else environ
    unknown = sorted(
        name
        for name in environ
        if name.startswith("AUTHORITY_") and name not in ENV_VARS and name not in FOREIGN_VARS
    )
    if unknown:
        raise ConfigError(f"unknown environment variable(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, value in environ.items():
        if name in ENV_VARS:
            key = ENV_VARS[name]
            try:
                values[key] = _PARSERS.get(key, str)(value)
            except ValueError:
                raise ConfigError(f"{name} is not valid: {value!r}") from None
    return Settings(**values)
