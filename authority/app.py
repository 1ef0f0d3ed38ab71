"""The application factory: a short list of ``setup_*`` calls, one per part."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from authority import db
from authority.config import Settings, settings_from_env
from authority.errors import setup_problem_details
from authority.i18n import setup_i18n
from authority.instance_files import read_or_create_secret
from authority.keystore import setup_kek
from authority.logs import setup_logging
from authority.security_headers import setup_security_headers
from authority.web import csrf
from certs.web import setup_certs
from oidc.web import setup_oidc

log = logging.getLogger("authority")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app from the environment, with ``config`` overriding settings."""
    settings = settings_from_env().with_overrides(config or {})
    app = Flask("authority", instance_path=str(Path(settings.instance_path).resolve()))
    app.extensions["authority.settings"] = settings
    setup_logging(app, settings.log_level)
    setup_secret_key(app, settings)
    setup_kek(app, settings)
    setup_database(app, settings)
    setup_proxies(app, settings)
    setup_security_headers(app, settings)
    setup_problem_details(app)
    setup_csrf(app)
    setup_i18n(app)
    setup_pages(app)
    setup_oidc(app)
    setup_certs(app)
    # Packages plug in here, one call each: setup_oidc(app), setup_certs(app), ...
    log_startup(app, settings)
    return app


def setup_secret_key(app: Flask, settings: Settings) -> None:
    """Use SECRET_KEY; in development or testing without one, keep a generated key."""
    key = settings.secret_key
    if key is None:
        # validate() has already refused production without a key.
        key = read_or_create_secret(Path(app.instance_path) / "dev-secret-key")
    app.config["SECRET_KEY"] = key
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    # JSON responses in UTF-8 (not \uXXXX escapes: most of our text is Chinese) with
    # keys in the order the code builds them; both halve the cost of a batch response.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]


def setup_database(app: Flask, settings: Settings) -> None:
    """One engine and session factory; SQLite in the instance folder unless DATABASE_URL."""
    db.init_app(app, settings.database_url or _default_database_url(app))


def _default_database_url(app: Flask) -> str:
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(app.instance_path) / 'authority.sqlite3'}"


def setup_proxies(app: Flask, settings: Settings) -> None:
    """Behind N reverse proxies, take the client address and scheme from their headers.

    Per-address login lockout and the audit log need the real client address; trusting
    the headers without a proxy would let any client choose its own address.
    """
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]


def setup_csrf(app: Flask) -> None:
    """CSRF tokens on every form POST; OAuth and API blueprints exempt themselves."""
    app.config["WTF_CSRF_SSL_STRICT"] = True
    csrf.init_app(app)


def setup_pages(app: Flask) -> None:
    """Shared templates and static files (authority/templates, authority/static), home, health."""
    from authority import health, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(health.bp)
    csrf.exempt(health.bp)


def log_startup(app: Flask, settings: Settings) -> None:
    """One line saying how this process is configured, with the SM2 backend in use."""
    from authority.health import sm2_backend

    backend = sm2_backend()
    log.info(
        "authority started: env=%s, database=%s, SM2 backend=%s",
        settings.env,
        db.engine(app).url.render_as_string(hide_password=True),
        backend,
        extra={"sm2_backend": backend, "env": settings.env},
    )
