"""Typed settings of the OpenID provider, read from ``AUTHORITY_OIDC_*`` variables.

Every field is documented here and in docs/oidc.md ("Configuration"). The names are
listed in :data:`ENV_VARS`; authority/config.py knows them (FOREIGN_VARS) so that
its unknown-variable check accepts them. Unknown ``AUTHORITY_OIDC_*`` names are
rejected here, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from flask import Flask, current_app

REGISTRATION_POLICIES = ("open", "token")
ISSUANCE_AUDIT_MODES = ("background", "inline")


class OIDCConfigError(Exception):
    """An ``AUTHORITY_OIDC_*`` setting is unusable; the message names it."""


@dataclass(frozen=True)
class OIDCSettings:
    """Provider settings. Environment variable names are given per field."""

    #: AUTHORITY_OIDC_REGISTRATION: ``token`` (an initial access token is required to
    #: register a client; the default) or ``open`` (anyone may register; the default
    #: when AUTHORITY_ENV=development, i.e. the quick start).
    registration: str = "token"
    #: AUTHORITY_OIDC_CODE_TTL: lifetime of an authorization code, seconds.
    code_ttl: int = 60
    #: AUTHORITY_OIDC_ACCESS_TOKEN_TTL: lifetime of an access token, seconds.
    access_token_ttl: int = 600
    #: AUTHORITY_OIDC_REFRESH_TOKEN_TTL: lifetime of each refresh token, seconds
    #: (every refresh rotates it, so this is the longest a client may stay idle).
    refresh_token_ttl: int = 14 * 24 * 3600
    #: AUTHORITY_OIDC_REFRESH_GRACE: seconds during which a just-rotated refresh token
    #: may be presented again (two concurrent refreshes) without revoking its family.
    refresh_grace: int = 10
    #: AUTHORITY_OIDC_ID_TOKEN_TTL: lifetime of an ID token, seconds.
    id_token_ttl: int = 600
    #: AUTHORITY_OIDC_ISSUANCE_AUDIT: who chains the ``oidc.token.issued`` entries of the
    #: token rows (oidc/token_audit.py): ``background`` (a thread per process; the
    #: default) or ``inline`` (the token request, after its commit; the default when
    #: AUTHORITY_ENV=testing, so tests see entries at once).
    issuance_audit: str = "background"

    def validate(self) -> OIDCSettings:
        if self.registration not in REGISTRATION_POLICIES:
            raise OIDCConfigError(
                "AUTHORITY_OIDC_REGISTRATION must be one of " + ", ".join(REGISTRATION_POLICIES)
            )
        if self.issuance_audit not in ISSUANCE_AUDIT_MODES:
            raise OIDCConfigError(
                "AUTHORITY_OIDC_ISSUANCE_AUDIT must be one of " + ", ".join(ISSUANCE_AUDIT_MODES)
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (not isinstance(value, int) or value < 0):
                raise OIDCConfigError(f"{_env_name(f.name)} must be a non-negative integer")
        if self.code_ttl < 1 or self.access_token_ttl < 1:
            raise OIDCConfigError("code and access token lifetimes must be at least 1 second")
        return self

    def with_overrides(self, overrides: Mapping[str, Any]) -> OIDCSettings:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise OIDCConfigError(f"unknown OIDC setting(s): {', '.join(unknown)}")
        return replace(self, **dict(overrides)).validate()


#: Environment variable -> field name.
ENV_VARS: dict[str, str] = {
    "AUTHORITY_OIDC_REGISTRATION": "registration",
    "AUTHORITY_OIDC_CODE_TTL": "code_ttl",
    "AUTHORITY_OIDC_ACCESS_TOKEN_TTL": "access_token_ttl",
    "AUTHORITY_OIDC_REFRESH_TOKEN_TTL": "refresh_token_ttl",
    "AUTHORITY_OIDC_REFRESH_GRACE": "refresh_grace",
    "AUTHORITY_OIDC_ID_TOKEN_TTL": "id_token_ttl",
    "AUTHORITY_OIDC_ISSUANCE_AUDIT": "issuance_audit",
}


def _env_name(field_name: str) -> str:
    return next(k for k, v in ENV_VARS.items() if v == field_name)


def oidc_settings_from_env(environ: Mapping[str, str] | None = None) -> OIDCSettings:
    """Read :class:`OIDCSettings`, rejecting unknown ``AUTHORITY_OIDC_*`` names."""
    environ = os.environ if environ is None else environ
    unknown = sorted(n for n in environ if n.startswith("AUTHORITY_OIDC_") and n not in ENV_VARS)
    if unknown:
        raise OIDCConfigError(f"unknown environment variable(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, field_name in ENV_VARS.items():
        if name not in environ:
            continue
        raw = environ[name]
        if field_name in ("registration", "issuance_audit"):
            values[field_name] = raw.strip().lower()
        else:
            try:
                values[field_name] = int(raw)
            except ValueError:
                raise OIDCConfigError(f"{name} must be an integer, not {raw!r}") from None
    return OIDCSettings(**values).validate()


EXTENSION_KEY = "oidc.settings"


def init_app(app: Flask) -> None:
    settings = oidc_settings_from_env()
    shell = app.extensions.get("authority.settings")
    if (
        "AUTHORITY_OIDC_REGISTRATION" not in os.environ
        and shell is not None
        and shell.env == "development"
    ):
        # The quick start (`make run`) lets any RP library register itself; production
        # and testing keep the initial-access-token default.
        settings = replace(settings, registration="open")
    if (
        "AUTHORITY_OIDC_ISSUANCE_AUDIT" not in os.environ
        and shell is not None
        and shell.env == "testing"
    ):
        # Tests read the audit log right after a token request.
        settings = replace(settings, issuance_audit="inline")
    app.extensions[EXTENSION_KEY] = settings


def oidc_settings(app: Flask | None = None) -> OIDCSettings:
    """The current app's provider settings."""
    settings: OIDCSettings = (app or current_app).extensions[EXTENSION_KEY]
    return settings


def configure(app: Flask, **overrides: Any) -> OIDCSettings:
    """Replace some settings of ``app`` (tests and the benchmark use it)."""
    settings = oidc_settings(app).with_overrides(overrides)
    app.extensions[EXTENSION_KEY] = settings
    return settings
