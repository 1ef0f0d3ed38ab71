"""The operator's command line: ``authority <command>`` (also ``python -m authority``)."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from authority.app import create_app


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False)
def main() -> None:
    """Authority: unified identity and e-license service."""


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from flask import current_app

    from authority import db, migrate

    migrate.upgrade(str(db.engine(current_app).url.render_as_string(hide_password=False)))
    click.echo("database is up to date")
