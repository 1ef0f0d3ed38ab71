"""Plugging in the holder-facing parts: ``setup_holder_web(app)`` (called by setup_certs).

Registers the holder directory (我的证照) and QR images, the consent-based sharing API,
public verification (API and page, with this package's static files) and the
``authority reminders`` command group.
"""

from __future__ import annotations

from flask import Flask


def setup_holder_web(app: Flask) -> None:
    from authority.web import csrf
    from certs import directory, sharing, verification
    from certs.reminders import reminders_cli
    from certs.settings import setup_settings

    setup_settings(app)
    # Bearer-token API (RFC 6750 §5.3: no cookies, so no CSRF) and the stateless,
    # read-only verification endpoint (docs/verification-page.md, "CSRF").
    csrf.exempt(sharing.api)
    csrf.exempt(verification.api)
    app.register_blueprint(verification.bp)
    app.register_blueprint(verification.api)
    app.register_blueprint(sharing.api)
    app.register_blueprint(directory.bp)
    app.cli.add_command(reminders_cli)
