"""``setup_oidc(app)``: plugs the OpenID provider into the app factory.

Registers the blueprints (the provider's and the accounts pages'), the CLI groups,
the Authlib server and resource protector (:mod:`oidc.provider`), the provider
settings (:mod:`oidc.config`) and the CSRF exemption of the OAuth endpoints (their
callers are clients authenticating themselves, not browser forms).
"""

from __future__ import annotations

from flask import Flask

from authority.web import csrf
from oidc import config, provider


def setup_oidc(app: Flask) -> None:
    """Wire the provider into ``app``."""
    from oidc import accounts_cli, cli, demo_client, endpoints, login

    config.init_app(app)
    provider.build_server(app)
    provider.build_resource_protector(app)
    csrf.exempt(endpoints.protocol)
    app.register_blueprint(endpoints.protocol)
    app.register_blueprint(endpoints.consent_bp)
    app.register_blueprint(login.bp)
    for name in ("account", "logout"):
        # The accounts and logout pages are other helpers' modules; each exposes `bp`.
        module = _optional(f"oidc.{name}")
        if module is not None and hasattr(module, "bp"):
            app.register_blueprint(module.bp)
    app.cli.add_command(cli.clients_group)
    accounts_cli.setup_accounts_cli(app)  # accounts CLI + demo citizen (oidc-accounts)
    del demo_client  # imported for its seeder registration


def _optional(name: str) -> object | None:
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
