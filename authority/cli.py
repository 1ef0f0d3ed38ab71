"""The operator's command line: ``authority <command>`` (also ``python -m authority``).

Commands: ``init [--demo]``, ``serve``, ``db upgrade``, ``keys list|rotate``,
``audit verify|list``. Packages add their groups with ``app.cli.add_command`` in their
``setup_<package>(app)``. docs/operations.md describes each command.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo

from authority import audit, db, demo, migrate
from authority.app import create_app
from authority.config import ConfigError
from authority.keystore import keystore


def _create_app() -> Flask:
    # Operators read the command's own output; the JSON logs on stderr show only
    # warnings (e.g. a generated development KEK) unless AUTHORITY_LOG_LEVEL says more.
    overrides = {} if "AUTHORITY_LOG_LEVEL" in os.environ else {"log_level": "WARNING"}
    try:
        return create_app(overrides)
    except ConfigError as exc:
        # A configuration mistake is the operator's to fix: say what, not a traceback.
        raise click.ClickException(f"configuration: {exc}") from None


class AuthorityGroup(FlaskGroup):
    """Flask's group, but a configuration error in ``--help`` is one line, not a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        try:
            ctx.ensure_object(ScriptInfo).load_app()
        except click.ClickException as exc:
            click.echo(f"(package commands not listed: {exc.message})", err=True)
            return sorted(self.commands)
        return super().list_commands(ctx)


@click.group(cls=AuthorityGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Authority: unified identity and e-license service."""


def _settings() -> Any:
    return current_app.extensions["authority.settings"]


def _database_url() -> str:
    return db.engine(current_app).url.render_as_string(hide_password=False)


def _shown_url() -> str:
    return db.engine(current_app).url.render_as_string(hide_password=True)


# ---------------------------------------------------------------- db


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    migrate.upgrade(_database_url())
    click.echo("database is up to date")


# ---------------------------------------------------------------- init


@main.command("init")
@click.option("--demo", "with_demo", is_flag=True, help="Also seed demo data (quick start).")
def init_command(with_demo: bool) -> None:
    """Prepare this instance; safe to run again (it only adds what is missing).

    Migrates the database, creates the provincial root SM2 key and its self-signed
    certificate if absent, and with --demo runs every package's demo seeder.
    """
    from authority.root import ensure_root

    settings = _settings()
    click.echo(f"database: {_shown_url()}")
    migrate.upgrade(_database_url())
    click.echo("  schema migrated to the latest version")
    click.echo(f"key-encryption key: {current_app.extensions['authority.kek_source']}")
    with db.session_scope(current_app) as session:
        created, stored, cert = ensure_root(session, settings)
        verb = "created" if created else "kept existing"
        click.echo(f"provincial root: {verb} SM2 key {stored.kid}")
        click.echo(f"  certificate: CN={cert.subject_cn}, valid until {cert.not_after:%Y-%m-%d}")
        click.echo(f"  fingerprint (SM3, pin this in verifiers): {cert.fingerprint().hex()}")
        if created:
            audit.record(session, "authority.initialised", details={"root_kid": stored.kid})
    if with_demo:
        with db.session_scope(current_app) as session:
            lines = demo.seed_all(session)
        click.echo("demo data:")
        for line in lines or ["(no package registered demo data)"]:
            click.echo(f"  {line}")
    click.echo("ready.")


# ---------------------------------------------------------------- serve


def port_is_free(host: str, port: int) -> bool:
    """True if nothing is listening on host:port (we can bind it ourselves)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def serve_command(host: str, port: int, workers: int) -> None:
    """Serve the app with gunicorn (WSGI entry point wsgi:app)."""
    wsgi = migrate.ROOT / "wsgi.py"
    if not wsgi.is_file():
        raise click.ClickException(f"{wsgi} not found: run serve from a checkout of Authority")
    if not port_is_free(host, port):
        raise click.ClickException(
            f"port {port} on {host} is already in use. Stop the other server, or choose "
            f"another port: authority serve --port {port + 1}"
        )
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}"
    click.echo(f"Authority is serving at {url}/  (Ctrl-C to stop)")
    env = dict(os.environ)
    if "AUTHORITY_ISSUER" in env:
        if env["AUTHORITY_ISSUER"].rstrip("/") != url:
            click.echo(f"public issuer URL: {env['AUTHORITY_ISSUER']}")
    elif host in ("0.0.0.0", "::"):  # noqa: S104 - comparing, not binding
        click.echo("set AUTHORITY_ISSUER to the public URL when listening on all interfaces")
    else:
        # Without a configured issuer, the issuer is where we serve (OIDC clients
        # compare it exactly with what discovery and tokens say).
        env["AUTHORITY_ISSUER"] = url
    # Workers must share this process's instance folder (SQLite, development secrets)
    # even though gunicorn changes directory to the checkout.
    env["AUTHORITY_INSTANCE_PATH"] = current_app.instance_path
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"{shown_host}:{port}",
        "--chdir",
        str(migrate.ROOT),
        "--graceful-timeout",
        "10",
        # No control socket: its default path is shared by every gunicorn of the user,
        # so a second server (a benchmark, another checkout) would collide with it.
        "--no-control-socket",
        "wsgi:app",
    ]
    sys.stdout.flush()
    # exec, not a child: Ctrl-C and signals from `make run` reach gunicorn directly.
    os.execve(sys.executable, argv, env)  # noqa: S606 - fixed argv, no shell


# ---------------------------------------------------------------- keys


@main.group("keys")
def keys_group() -> None:
    """Signing keys in the key store."""


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@keys_group.command("list")
@click.option("--purpose", help="Only keys of this purpose (e.g. root, oidc:RS256).")
def keys_list(purpose: str | None) -> None:
    """List keys: purpose, kid, algorithm, status, created."""
    with db.session_scope(current_app) as session:
        stored = keystore(session).all(purpose)
        rows = [
            (
                k.purpose,
                k.kid,
                k.algorithm,
                k.status + ("" if k.published or k.status == "compromised" else " (unpublished)"),
                _when(k.created_at),
                _when(k.retired_at),
            )
            for k in stored
        ]
    if not rows:
        click.echo("no keys yet: run `authority init`")
        return
    _table(("PURPOSE", "KID", "ALG", "STATUS", "CREATED (UTC)", "RETIRED"), rows)


@keys_group.command("rotate")
@click.argument("purpose")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (root rotation).")
def keys_rotate(purpose: str, yes: bool) -> None:
    """Replace PURPOSE's active key; the old one is retired but stays published."""
    from authority.root import certify_successor

    if purpose == "root" and not yes:
        click.confirm(
            "Rotating the root changes the fingerprint every verifier pins, and department "
            "certificates must be reissued. Continue?",
            abort=True,
        )
    with db.session_scope(current_app) as session:
        store = keystore(session)
        try:
            old = store.active(purpose)
        except LookupError:
            raise click.ClickException(f"no active key for purpose {purpose!r}") from None
        certify = certify_successor(session, _settings(), old)
        new = store.rotate(purpose, certify=certify)
        old_kid, new_kid, certified = old.kid, new.kid, new.certificate_pem is not None
    click.echo(f"{purpose}: retired {old_kid} (still published), new active key {new_kid}")
    if certified:
        click.echo("  the new key has a certificate")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


# ---------------------------------------------------------------- audit


@main.group("audit")
def audit_group() -> None:
    """The SM3-chained audit log."""


def _append_late_events() -> None:
    """Chain what packages recorded late (their outboxes) before reading the log."""
    with db.session_scope(current_app) as session:
        appended = audit.append_late_events(session)
    if appended:
        click.echo(f"appended {appended} late entries (outboxes) to the chain first", err=True)


@audit_group.command("verify")
def audit_verify() -> None:
    """Check every link of the chain; exit 1 naming the first broken entry."""
    _append_late_events()
    with db.session_scope(current_app) as session:
        report = audit.verify_chain(session)
        guard = audit.append_only_guard(session)
    if not report.ok:
        click.echo(
            f"audit log BROKEN at entry {report.broken_seq}: {report.reason} "
            f"({report.checked} entries before it are intact)",
            err=True,
        )
        sys.exit(1)
    click.echo(f"audit log intact: {report.checked} entries")
    if report.head_hash:
        click.echo(f"head hash (record it to detect truncation): {report.head_hash}")
    if guard is not None:
        click.echo(f"append-only trigger: {guard}")
    if guard in ("disabled", "missing"):
        # The chain is intact, but the database no longer refuses edits: someone with
        # owner rights changed it. Fail so that monitoring notices.
        click.echo(f"audit log is not protected: the append-only trigger is {guard}", err=True)
        sys.exit(1)


@audit_group.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--event", help="Only this event, or a dotted prefix (e.g. login).")
def audit_list(limit: int, event: str | None) -> None:
    """Show the latest entries, newest first."""
    _append_late_events()
    with db.session_scope(current_app) as session:
        entries = audit.recent(session, limit=limit, event=event)
        rows = [
            (
                str(e.seq),
                e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                e.event,
                e.actor or "-",
                e.subject or "-",
                e.details if e.details != "{}" else "",
            )
            for e in entries
        ]
    if not rows:
        click.echo("no audit entries" + (f" for {event}" if event else ""))
        return
    _table(("SEQ", "TIME (UTC)", "EVENT", "ACTOR", "SUBJECT", "DETAILS"), rows)
