"""The application factory: a short list of ``setup_*`` calls, one per part."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from authority import db
from authority.config import Settings, settings_from_env


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app from the environment, with ``config`` overriding settings."""
    settings = settings_from_env().with_overrides(config or {})
    app = Flask("authority", instance_path=settings.instance_path)
    app.extensions["authority.settings"] = settings
    setup_secret_key(app, settings)
    db.init_app(app, settings.database_url or _default_database_url(settings))
    return app


def _default_database_url(settings: Settings) -> str:
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(settings.instance_path) / 'authority.sqlite3'}"


def setup_secret_key(app: Flask, settings: Settings) -> None:
    """Use SECRET_KEY; in development or testing without one, keep a generated key."""
    key = settings.secret_key
    if key is None:
        # validate() has already refused production without a key.
        path = Path(settings.instance_path) / "dev-secret-key"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        key = path.read_text().strip()
    app.config["SECRET_KEY"] = key
