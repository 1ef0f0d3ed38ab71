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
}

# AUTHORITY_* variables read by other packages (not Settings fields) but known, so
# that the unknown-variable check does not reject them.
FOREIGN_VARS = frozenset({"AUTHORITY_SM2_BACKEND"})


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
    values = {ENV_VARS[name]: value for name, value in environ.items() if name in ENV_VARS}
    return Settings(**values)
