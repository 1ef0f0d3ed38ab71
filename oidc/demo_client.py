"""The quick start's demo relying party (``authority init --demo``).

A confidential client "演示应用 Demo portal" with loopback redirect URIs, so that a
newcomer can try a login at once with any OIDC library. Its secret is derived from
a fixed, public demo string so that the seeder is idempotent and README can print
it; it is a *demo* credential and the seeder refuses to run in production.
"""

from __future__ import annotations

from collections.abc import Iterable

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


@demo.register
def seed_demo_client(session: Session) -> Iterable[str]:
    """Create the demo client once; report its credentials."""
    settings = current_app.extensions["authority.settings"]
    if settings.env == "production":
        return ["demo client: skipped (production)"]
    existing = session.scalar(sa.select(Client).where(Client.client_id == DEMO_CLIENT_ID))
    if existing is None:
        metadata = registration.validate_metadata(
            {
                "client_name": "演示应用 Demo portal",
                "redirect_uris": DEMO_REDIRECT_URIS,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
                "scope": "openid profile phone id_number organisation licenses:read",
                "post_logout_redirect_uris": ["http://127.0.0.1:8000/"],
            },
            operator=True,
        )
        session.add(
            Client(
                client_id=DEMO_CLIENT_ID,
                secret_digest=hashing.digest(DEMO_CLIENT_SECRET),
                client_id_issued_at=0,
                client_secret_expires_at=0,
                client_metadata=metadata,
                department=None,
                provincial=False,
                disabled=False,
                resource_server=False,
                created_by="operator",
            )
        )
        session.flush()
    issuer = str(settings.issuer).rstrip("/")
    return [
        f"demo OIDC client: client_id {DEMO_CLIENT_ID} / client_secret {DEMO_CLIENT_SECRET}",
        f"  redirect_uri {DEMO_REDIRECT_URIS[0]} ; discovery "
        f"{issuer}/.well-known/openid-configuration",
    ]
