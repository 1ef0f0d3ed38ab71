"""OAuth 2.0 clients (RFC 6749 §2) and their registered metadata (RFC 7591 §2).

A client row holds what the operator or dynamic registration decided: its metadata
(validated by :mod:`oidc.registration`), the SM3 digest of its secret (never the
secret: it is shown once, at creation), the department it is bound to (credit code,
for department systems using client credentials), whether it is *provincial* (public
subject identifiers, operator pre-consent), and whether it is disabled.

The methods named ``get_*``/``check_*`` are Authlib's ``ClientMixin`` interface.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, ClassVar
from urllib.parse import urlsplit

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy.orm import Mapped, Session, mapped_column

from authority.db import Base
from oidc import hashing

#: Scopes a person can grant to a relying party (docs/oidc.md, "Scopes and claims").
USER_SCOPES = ("openid", "profile", "phone", "id_number", "organisation", "licenses:read")
#: Scopes for department systems (client credentials); only the operator grants them.
API_SCOPES = ("licenses:issue", "licenses:status", "licenses:read", "catalogue:admin")
ALL_SCOPES = tuple(dict.fromkeys(USER_SCOPES + API_SCOPES))


class Client(Base, ClientMixin):
    """A registered relying party or department system."""

    __tablename__ = "oidc_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    secret_digest: Mapped[str | None] = mapped_column(sa.String(64))
    client_id_issued_at: Mapped[int] = mapped_column(sa.BigInteger)
    client_secret_expires_at: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    client_metadata: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    registration_token_digest: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    department: Mapped[str | None] = mapped_column(sa.String(18))
    provincial: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    #: A resource server may introspect any client's tokens (RFC 7662 §4).
    resource_server: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    #: "operator" (CLI) or "registration" (RFC 7591).
    created_by: Mapped[str] = mapped_column(sa.String(16), default="registration")
    #: Incremented by the ORM on every UPDATE: the token endpoint's cached copy of a
    #: client is only good while the row still has its version (oidc/client_cache.py).
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, server_default="1")

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}

    # ---------------------------------------------------------- metadata accessors

    @property
    def name(self) -> str:
        return str(self.client_metadata.get("client_name") or self.client_id)

    @property
    def redirect_uris(self) -> list[str]:
        return list(self.client_metadata.get("redirect_uris") or [])

    @property
    def grant_types(self) -> list[str]:
        return list(self.client_metadata.get("grant_types") or ["authorization_code"])

    @property
    def response_types(self) -> list[str]:
        return list(self.client_metadata.get("response_types") or ["code"])

    @property
    def token_endpoint_auth_method(self) -> str:
        return str(self.client_metadata.get("token_endpoint_auth_method", "client_secret_basic"))

    @property
    def scopes(self) -> list[str]:
        return scope_to_list(self.client_metadata.get("scope") or "") or []

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 - a method name

    @property
    def subject_type(self) -> str:
        return "public" if self.provincial else "pairwise"

    @property
    def id_token_alg(self) -> str:
        return str(self.client_metadata.get("id_token_signed_response_alg", "RS256"))

    @property
    def sector_identifier(self) -> str:
        """The host that pairwise subjects are computed for (OIDC Core §8.1).

        Registration requires every redirect URI of a pairwise client to share one host
        (we do not fetch ``sector_identifier_uri``), so that host is the sector.
        """
        hosts = sorted({urlsplit(u).hostname or u for u in self.redirect_uris})
        return hosts[0] if hosts else self.client_id

    # ---------------------------------------------------------- Authlib ClientMixin

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC Core §3.1.2.1 makes redirect_uri REQUIRED, so there is no default.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.scopes)
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string comparison (RFC 9700 §4.1.3): no prefix, no normalisation.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.disabled or self.secret_digest is None:
            return False
        if self.client_secret_expires_at and self.client_secret_expires_at < time.time():
            return False
        return hashing.matches(client_secret, self.secret_digest)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return not self.disabled and method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


class UsedAssertion(Base):
    """``jti`` values of client assertions already accepted (RFC 7523 §3, item 7).

    Kept until the assertion would have expired anyway; the key is the SM3 of
    ``client_id`` and ``jti`` so that its length is bounded.
    """

    __tablename__ = "oidc_used_assertions"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(sa.BigInteger, index=True)


def find(session: Session, client_id: str | None) -> Client | None:
    """The enabled client with this ``client_id``, or None."""
    if not client_id or not isinstance(client_id, str) or len(client_id) > 64:
        return None
    client = session.scalar(sa.select(Client).where(Client.client_id == client_id))
    if client is None or client.disabled:
        return None
    return client


def create(
    session: Session,
    metadata: dict[str, Any],
    *,
    department: str | None = None,
    provincial: bool = False,
    resource_server: bool = False,
    created_by: str = "registration",
) -> tuple[Client, str | None]:
    """Add a client with already-validated ``metadata``; returns it and its secret.

    The secret (None for public and private_key_jwt clients) is returned once and
    stored only as a digest.
    """
    needs_secret = metadata.get("token_endpoint_auth_method", "client_secret_basic") in (
        "client_secret_basic",
        "client_secret_post",
    )
    secret = hashing.new_secret() if needs_secret else None
    client = Client(
        client_id=secrets.token_urlsafe(18),
        secret_digest=hashing.digest(secret) if secret else None,
        client_id_issued_at=int(time.time()),
        client_secret_expires_at=0,
        client_metadata=dict(metadata),
        department=department,
        provincial=provincial,
        disabled=False,
        resource_server=resource_server,
        created_by=created_by,
    )
    session.add(client)
    session.flush()
    return client, secret


def remember_assertion(session: Session, client_id: str, jti: str, expires_at: int) -> bool:
    """Record a client assertion's ``jti``; False if it was already used (a replay)."""
    key = hashing.digest(f"{client_id}\x00{jti}")
    now = int(time.time())
    session.execute(sa.delete(UsedAssertion).where(UsedAssertion.expires_at < now - 300))
    if session.get(UsedAssertion, key) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(UsedAssertion(key=key, expires_at=max(expires_at, now)))
    except sa.exc.IntegrityError:
        # Another request inserted the same jti between our look-up and insert.
        return False
    return True
