"""``authority clients ...``: the operator's commands for OAuth clients.

Department systems (client credentials, ``--department CODE``), provincial portals
(``--provincial``: public subjects, pre-consented) and resource servers
(``--resource-server``: may introspect any token) are created here only; dynamic
registration never grants them. Secrets and tokens are printed once and stored
as digests.
"""

from __future__ import annotations

import json
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from authority import audit, db
from oidc import clients, registration
from oidc.clients import Client


@click.group("clients", cls=AppGroup)
def clients_group() -> None:
    """OAuth/OIDC clients and initial access tokens."""


def _find(session: Any, client_id: str) -> Client:
    client = session.scalar(sa.select(Client).where(Client.client_id == client_id))
    if client is None:
        raise click.ClickException(f"no client with client_id {client_id}")
    return client


@clients_group.command("create")
@click.option("--name", required=True, help="Name shown on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Repeat for several.")
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(registration.GRANT_TYPES),
    help="Default: authorization_code and refresh_token (with a redirect URI).",
)
@click.option("--scope", "scopes", multiple=True, help="Scopes the client may ask for.")
@click.option(
    "--auth-method",
    type=click.Choice(registration.AUTH_METHODS),
    default="client_secret_basic",
    show_default=True,
)
@click.option("--jwks-file", type=click.File(), help="JWK Set (JSON) for private_key_jwt.")
@click.option("--department", help="Bind to a department (its unified social credit code).")
@click.option("--provincial", is_flag=True, help="Provincial portal: public subject, no consent.")
@click.option("--resource-server", is_flag=True, help="May introspect every client's tokens.")
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True)
@click.option("--backchannel-logout-uri")
@click.option("--native", is_flag=True, help="application_type native (custom URI schemes).")
@click.option("--id-token-alg", default="RS256", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def create(
    name: str,
    redirect_uris: tuple[str, ...],
    grant_types: tuple[str, ...],
    scopes: tuple[str, ...],
    auth_method: str,
    jwks_file: Any,
    department: str | None,
    provincial: bool,
    resource_server: bool,
    post_logout: tuple[str, ...],
    backchannel_logout_uri: str | None,
    native: bool,
    id_token_alg: str,
    as_json: bool,
) -> None:
    """Register a client; prints its client_id and (once) its secret."""
    grants = list(grant_types) or (
        ["authorization_code", "refresh_token"] if redirect_uris else ["client_credentials"]
    )
    data: dict[str, Any] = {
        "client_name": name,
        "grant_types": grants,
        "response_types": ["code"] if "authorization_code" in grants else [],
        "token_endpoint_auth_method": auth_method,
        "application_type": "native" if native else "web",
        "id_token_signed_response_alg": id_token_alg,
        "subject_type": "public" if provincial else "pairwise",
    }
    if redirect_uris:
        data["redirect_uris"] = list(redirect_uris)
    if scopes:
        data["scope"] = " ".join(s for scope in scopes for s in scope.split())
    if jwks_file is not None:
        data["jwks"] = json.load(jwks_file)
    if post_logout:
        data["post_logout_redirect_uris"] = list(post_logout)
    if backchannel_logout_uri:
        data["backchannel_logout_uri"] = backchannel_logout_uri
    if department:
        department = _credit_code(department)
    try:
        metadata = registration.validate_metadata(data, operator=True)
    except registration.RegistrationError as exc:
        raise click.ClickException(f"{exc.error}: {exc.description}") from None
    with db.session_scope(current_app) as session:
        client, secret = clients.create(
            session,
            metadata,
            department=department,
            provincial=provincial,
            resource_server=resource_server,
            created_by="operator",
        )
        audit.record(
            session,
            "oidc.client.created",
            actor="operator",
            subject=client.client_id,
            details={
                "name": name,
                "grant_types": grants,
                "scope": metadata.get("scope", ""),
                "department": department,
                "provincial": provincial,
            },
        )
        result = {"client_id": client.client_id, "client_secret": secret, **metadata}
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"client_id:     {result['client_id']}")
    if secret:
        click.echo(f"client_secret: {secret}")
        click.echo("(the secret is shown only now; it is stored as a digest)")


def _credit_code(value: str) -> str:
    try:
        from keys.validators import validate_credit_code
    except ImportError:  # pragma: no cover - keys/ lands on its own branch
        return value.strip().upper()
    try:
        return validate_credit_code(value)
    except ValueError as exc:
        message = str(getattr(exc, "message_en", exc))
        raise click.BadParameter(message, param_hint="--department") from None


@clients_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_clients(as_json: bool) -> None:
    """List every client."""
    with db.session_scope(current_app) as session:
        rows = [_summary(c) for c in session.scalars(sa.select(Client).order_by(Client.id))]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        flags = ",".join(f for f in ("disabled", "provincial", "resource_server") if row[f]) or "-"
        click.echo(
            f"{row['client_id']}  {row['name']}  grants={','.join(row['grant_types'])}  "
            f"department={row['department'] or '-'}  flags={flags}"
        )


def _summary(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "grant_types": client.grant_types,
        "scope": " ".join(client.scopes),
        "redirect_uris": client.redirect_uris,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "department": client.department,
        "provincial": client.provincial,
        "resource_server": client.resource_server,
        "disabled": client.disabled,
        "created_by": client.created_by,
    }


@clients_group.command("show")
@click.argument("client_id")
def show(client_id: str) -> None:
    """Show one client's metadata (never its secret)."""
    with db.session_scope(current_app) as session:
        client = _find(session, client_id)
        body = {**_summary(client), "metadata": client.client_metadata}
    click.echo(json.dumps(body, ensure_ascii=False, indent=2))


@clients_group.command("disable")
@click.argument("client_id")
def disable(client_id: str) -> None:
    """Disable a client: it can no longer authenticate and its tokens stop working."""
    with db.session_scope(current_app) as session:
        client = _find(session, client_id)
        client.disabled = True
        audit.record(session, "oidc.client.disabled", actor="operator", subject=client_id)
    click.echo(f"disabled {client_id}")


@clients_group.command("enable")
@click.argument("client_id")
def enable(client_id: str) -> None:
    """Enable a disabled client again."""
    with db.session_scope(current_app) as session:
        client = _find(session, client_id)
        client.disabled = False
        audit.record(session, "oidc.client.enabled", actor="operator", subject=client_id)
    click.echo(f"enabled {client_id}")


@clients_group.command("delete")
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(client_id: str, yes: bool) -> None:
    """Delete a client with its codes, tokens and consents."""
    if not yes:
        click.confirm(f"Delete client {client_id} and all its tokens?", abort=True)
    with db.session_scope(current_app) as session:
        client = _find(session, client_id)
        audit.record(session, "oidc.client.deleted", actor="operator", subject=client_id)
        session.delete(client)
    click.echo(f"deleted {client_id}")


@clients_group.command("initial-token")
@click.option("--description", default="", help="Who it is for (kept in the audit log).")
@click.option("--uses", default=1, show_default=True, type=click.IntRange(1, 1000))
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 365))
def initial_token(description: str, uses: int, days: int) -> None:
    """Issue an initial access token for dynamic registration (RFC 7591 §3)."""
    with db.session_scope(current_app) as session:
        row, value = registration.issue_initial_token(
            session, description=description, ttl=days * 86400, max_uses=uses
        )
        expires = row.expires_at
    click.echo(value)
    click.echo(
        f"(valid for {uses} registration(s) until epoch {expires}; shown only now)", err=True
    )
