"""Plugging the license service into the app: ``setup_certs(app)``."""

from __future__ import annotations

from flask import Flask


def setup_certs(app: Flask) -> None:
    """Register the license API, the trust-bundle endpoints, the CLI and demo data."""
    from authority.web import csrf
    from certs import cli, demo
    from certs.api import api, wellknown

    # Bearer-token REST API: no cookies, so no CSRF tokens (RFC 6750 §5.3).
    csrf.exempt(api)
    csrf.exempt(wellknown)
    app.register_blueprint(api)
    app.register_blueprint(wellknown)
    cli.register(app)
    # Holder directory, QR images, sharing API, public verification, reminders (certs-web).
    from certs.holder_web import setup_holder_web

    setup_holder_web(app)
    del demo  # imported for its seeder's registration with authority.demo
