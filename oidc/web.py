"""``setup_oidc(app)``: plugs the OpenID provider into the app factory.

Registers the blueprints (the provider's and the accounts pages'), the CLI groups,
the Authlib server and resource protector (:mod:`oidc.provider`), the provider
settings (:mod:`oidc.config`) and the CSRF exemption of the OAuth endpoints (their
callers are clients authenticating themselves, not browser forms).
"""

from __future__ import annotations

from flask import Flask

from authority.web import csrf, set_signed_in_name
from oidc import config, provider


def setup_oidc(app: Flask) -> None:
    """Wire the provider into ``app``."""
    from oidc import account, accounts_cli, cli, demo_client, endpoints, login, logout

    config.init_app(app)
    provider.build_server(app)
    provider.build_resource_protector(app)
    csrf.exempt(endpoints.protocol)
    app.register_blueprint(endpoints.protocol)
    app.register_blueprint(endpoints.consent_bp)
    app.register_blueprint(login.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(logout.bp)
    set_signed_in_name(app, _signed_in_name)
    app.cli.add_command(cli.clients_group)
    accounts_cli.setup_accounts_cli(app)  # accounts CLI + demo citizen (oidc-accounts)
    del demo_client  # imported for its seeder registration


def _signed_in_name() -> str | None:
    """The name the shared layout shows for the browser's signed-in person."""
    from oidc import api

    user = api.current_user()
    return user.name if user is not None else None
