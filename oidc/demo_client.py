"""The quick start's demo clients (``authority init --demo``).

- "演示应用 Demo portal", a confidential relying party with loopback redirect URIs, so
  that a newcomer can try a login at once with any OIDC library;
- "演示部门系统", the demo department's system: client credentials with
  ``licenses:issue``, bound to the department certs seeds, so that a newcomer can
  issue a license through the API at once.

Their secrets are fixed, public demo strings so that the seeder is idempotent and
README can print them; they are *demo* credentials and the seeder refuses to run in
production.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from authority import demo
from oidc import hashing, registration
from oidc.clients import Client

DEMO_CLIENT_ID = "demo-portal"
DEMO_CLIENT_SECRET = "demo-portal-secret-change-me"  # noqa: S105 - a published demo value
DEMO_REDIRECT_URIS = [
    "http://127.0.0.1:8000/callback",
    "http://127.0.0.1:8000/oidc/callback",
    "http://127.0.0.1:8000/auth/callback",
]


DEMO_DEPARTMENT_CLIENT_ID = "demo-department"
DEMO_DEPARTMENT_CLIENT_SECRET = "demo-department-secret-change-me"  # noqa: S105 - published demo value


def _ensure_client(
    session: Session,
    client_id: str,
    secret: str,
    metadata: dict[str, Any],
    *,
    department: str | None = None,
) -> None:
    """Add the demo client ``client_id`` unless it exists (validated like any other)."""
    if session.scalar(sa.select(Client.id).where(Client.client_id == client_id)) is not None:
        return
    session.add(
        Client(
            client_id=client_id,
            secret_digest=hashing.digest(secret),
            client_id_issued_at=0,
            client_secret_expires_at=0,
            client_metadata=registration.validate_metadata(metadata, operator=True),
            department=department,
            provincial=False,
            disabled=False,
            resource_server=False,
            created_by="operator",
        )
    )
    session.flush()


@demo.register
def seed_demo_client(session: Session) -> Iterable[str]:
    """Create the demo relying party and the demo department's client once; report both."""
    settings = current_app.extensions["authority.settings"]
    if settings.env == "production":
        return ["demo client: skipped (production)"]
    _ensure_client(
        session,
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        {
            "client_name": "演示应用 Demo portal",
            "redirect_uris": DEMO_REDIRECT_URIS,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "openid profile phone id_number organisation licenses:read",
            "post_logout_redirect_uris": ["http://127.0.0.1:8000/"],
        },
    )
    # The demo department's system: client credentials bound to the department that
    # certs seeds, so a newcomer can issue a license through the API at once.
    _ensure_client(
        session,
        DEMO_DEPARTMENT_CLIENT_ID,
        DEMO_DEPARTMENT_CLIENT_SECRET,
        {
            "client_name": "演示部门系统 Demo department system",
            "grant_types": ["client_credentials"],
            "response_types": [],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "licenses:issue licenses:status",
        },
        department=demo.DEMO_DEPARTMENT_CODE,
    )
    issuer = str(settings.issuer).rstrip("/")
    return [
        f"demo OIDC client: client_id {DEMO_CLIENT_ID} / client_secret {DEMO_CLIENT_SECRET}",
        f"  redirect_uri {DEMO_REDIRECT_URIS[0]} ; discovery "
        f"{issuer}/.well-known/openid-configuration",
        f"demo department client: client_id {DEMO_DEPARTMENT_CLIENT_ID} / client_secret "
        f"{DEMO_DEPARTMENT_CLIENT_SECRET} (client_credentials, licenses:issue for "
        f"{demo.DEMO_DEPARTMENT_CODE}; README shows a first license)",
    ]
