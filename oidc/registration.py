"""Dynamic client registration and management.

RFC 7591 (OAuth 2.0 Dynamic Client Registration), OpenID Connect Dynamic Client
Registration 1.0, RFC 7592 (management with registration access tokens).
https://www.rfc-editor.org/rfc/rfc7591 · https://www.rfc-editor.org/rfc/rfc7592

Policy (``AUTHORITY_OIDC_REGISTRATION``): ``token`` (production default) requires an
initial access token, issued by the operator (``authority clients initial-token``)
and presented as a Bearer token; ``open`` lets anyone register. Either way a
registered client only gets the person-facing scopes (``clients.USER_SCOPES``), the
``authorization_code`` and ``refresh_token`` grants, and pairwise subjects; department
systems (client credentials, ``licenses:issue``...) and provincial clients are created
by the operator CLI only.

Metadata rules (each refusal names the field, RFC 7591 §3.2.2):

- ``redirect_uris``: absolute, no fragment, compared exactly; ``https``; or ``http``
  on a loopback host (127.0.0.1, [::1], localhost) for native and development clients;
  or a private-use scheme with a dot (``com.example.app:/cb``, RFC 8252 §7.1) for
  ``application_type=native`` only. All redirect URIs share one host, which is the
  client's pairwise sector (``sector_identifier_uri`` is not fetched: refused).
- ``response_types`` ⊆ {code}; ``grant_types`` consistent with them (RFC 7591 §2.1).
- ``token_endpoint_auth_method``: client_secret_basic (default), client_secret_post,
  private_key_jwt (with ``jwks``; ``jwks_uri`` is not fetched: refused), none (public,
  PKCE S256 mandatory).
- ``subject_type``: pairwise; ``public`` is reserved for provincial clients.
- ``id_token_signed_response_alg``: RS256 (default), ES256, SM2SM3; never ``none``.
- ``post_logout_redirect_uris``: same rules as redirect URIs.
- ``backchannel_logout_uri``: https (or loopback http), no fragment.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Mapped, Session, mapped_column

from authority import audit
from authority.db import Base
from oidc import hashing, jwks
from oidc.clients import API_SCOPES, USER_SCOPES, Client

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
CLIENT_ASSERTION_ALGS = ("RS256", "PS256", "ES256")
DEFAULT_SCOPE = "openid profile phone"
#: Metadata we accept and keep; anything else is ignored (RFC 7591 §2).
STRING_FIELDS = ("client_name", "client_uri", "logo_uri", "policy_uri", "tos_uri", "software_id")
URI_FIELDS = ("client_uri", "logo_uri", "policy_uri", "tos_uri", "initiate_login_uri")
UNSUPPORTED_FIELDS = {
    "jwks_uri": "jwks_uri is not fetched by this provider; send the keys in jwks",
    "sector_identifier_uri": "sector_identifier_uri is not supported; all redirect_uris must "
    "share one host, which is the sector",
    "request_uris": "request objects are not supported",
    "id_token_encrypted_response_alg": "ID token encryption is not supported",
    "id_token_encrypted_response_enc": "ID token encryption is not supported",
    "userinfo_signed_response_alg": "signed userinfo responses are not supported",
    "userinfo_encrypted_response_alg": "userinfo encryption is not supported",
    "request_object_signing_alg": "request objects are not supported",
    "software_statement": "software statements are not supported",
}


class RegistrationError(Exception):
    """Refused client metadata, carrying its RFC 7591 §3.2.2 error code."""

    error = "invalid_client_metadata"
    status_code = 400

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class InvalidRedirectURI(RegistrationError):
    error = "invalid_redirect_uri"


class InvalidInitialToken(RegistrationError):
    """No valid initial access token (RFC 6750 §3.1)."""

    error = "invalid_token"
    status_code = 401


class InitialAccessToken(Base):
    """An operator-issued token that allows registering clients (RFC 7591 §3)."""

    __tablename__ = "oidc_initial_access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[int] = mapped_column(sa.BigInteger)
    expires_at: Mapped[int] = mapped_column(sa.BigInteger)
    max_uses: Mapped[int] = mapped_column(sa.Integer, default=1)
    uses: Mapped[int] = mapped_column(sa.Integer, default=0)


def issue_initial_token(
    session: Session, *, description: str = "", ttl: int = 7 * 24 * 3600, max_uses: int = 1
) -> tuple[InitialAccessToken, str]:
    """Create an initial access token; returns the row and the token (shown once)."""
    value = hashing.new_secret()
    now = int(time.time())
    row = InitialAccessToken(
        digest=hashing.digest(value),
        description=description,
        created_at=now,
        expires_at=now + ttl,
        max_uses=max_uses,
        uses=0,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "oidc.initial_token.issued",
        actor="operator",
        details={"id": row.id, "max_uses": max_uses, "expires_at": row.expires_at},
    )
    return row, value


def consume_initial_token(session: Session, value: str | None) -> InitialAccessToken:
    """Spend one use of an initial access token, or raise :class:`InvalidInitialToken`."""
    if not value:
        raise InvalidInitialToken("an initial access token is required to register a client")
    row = session.scalar(
        sa.select(InitialAccessToken)
        .where(InitialAccessToken.digest == hashing.digest(value))
        .with_for_update()
    )
    if row is None or row.expires_at <= time.time() or row.uses >= row.max_uses:
        raise InvalidInitialToken("the initial access token is invalid, expired or used up")
    row.uses += 1
    return row


# ------------------------------------------------------------------ metadata validation


def _check_uri(value: Any, field: str, *, native: bool, error: type[RegistrationError]) -> str:
    if not isinstance(value, str) or not value or len(value) > 2000:
        raise error(f"{field}: each URI must be a non-empty string")
    if any(c.isspace() for c in value):
        raise error(f"{field}: {value!r} contains whitespace")
    parts = urlsplit(value)
    if parts.fragment or "#" in value:
        raise error(f"{field}: {value!r} must not contain a fragment")
    scheme = parts.scheme.lower()
    if scheme == "https":
        if not parts.hostname:
            raise error(f"{field}: {value!r} has no host")
    elif scheme == "http":
        if parts.hostname not in LOOPBACK_HOSTS:
            raise error(f"{field}: {value!r} must use https (http only on a loopback host)")
    elif scheme and "." in scheme:
        if not native:
            raise error(
                f"{field}: private-use scheme {scheme!r} is only for application_type native"
            )
    else:
        raise error(f"{field}: {value!r} must be an https URI")
    if parts.username is not None or parts.password is not None:
        raise error(f"{field}: {value!r} must not contain user information")
    return value


def _uri_list(
    data: dict[str, Any], field: str, *, native: bool, error: type[RegistrationError]
) -> list[str]:
    value = data.get(field)
    if not isinstance(value, list) or not value:
        raise error(f"{field} must be a non-empty array of URIs")
    return [_check_uri(v, field, native=native, error=error) for v in value]


def _str_list(data: dict[str, Any], field: str, default: list[str]) -> list[str]:
    value = data.get(field, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistrationError(f"{field} must be an array of strings")
    return list(dict.fromkeys(value))


def validate_metadata(data: Any, *, operator: bool = False) -> dict[str, Any]:
    """Validated, normalised client metadata, or :class:`RegistrationError`.

    ``operator=True`` (the CLI) also allows client credentials and API scopes.
    """
    if not isinstance(data, dict):
        raise RegistrationError("the request body must be a JSON object")
    for field, reason in UNSUPPORTED_FIELDS.items():
        if data.get(field) not in (None, "", []):
            raise RegistrationError(f"{field}: {reason}")
    out: dict[str, Any] = {}
    app_type = data.get("application_type", "web")
    if app_type not in ("web", "native"):
        raise RegistrationError("application_type must be web or native")
    out["application_type"] = app_type
    native = app_type == "native"

    response_types = _str_list(data, "response_types", ["code"])
    if not set(response_types) <= {"code"}:
        raise RegistrationError("response_types: only 'code' is supported")
    default_grants = ["authorization_code"] if response_types else []
    grant_types = _str_list(data, "grant_types", default_grants)
    unknown = set(grant_types) - set(GRANT_TYPES)
    if unknown:
        raise RegistrationError(f"grant_types: unsupported {', '.join(sorted(unknown))}")
    if "client_credentials" in grant_types and not operator:
        raise RegistrationError(
            "grant_types: client_credentials clients are created by the operator"
        )
    if ("code" in response_types) != ("authorization_code" in grant_types):
        raise RegistrationError(
            "response_types 'code' and grant_types 'authorization_code' go together"
        )
    if "refresh_token" in grant_types and "authorization_code" not in grant_types:
        raise RegistrationError("grant_types: refresh_token needs authorization_code")
    if not grant_types:
        raise RegistrationError("grant_types must not be empty")
    out["response_types"] = response_types
    out["grant_types"] = grant_types

    if "authorization_code" in grant_types:
        out["redirect_uris"] = _uri_list(
            data, "redirect_uris", native=native, error=InvalidRedirectURI
        )
        hosts = {urlsplit(u).hostname or urlsplit(u).scheme for u in out["redirect_uris"]}
        if len(hosts) > 1:
            raise InvalidRedirectURI(
                "redirect_uris must share one host (the pairwise sector identifier)"
            )
    elif data.get("redirect_uris"):
        raise InvalidRedirectURI("redirect_uris are only for the authorization_code grant")

    method = data.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise RegistrationError(
            f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}"
        )
    if method == "none" and "client_credentials" in grant_types:
        raise RegistrationError("token_endpoint_auth_method none cannot use client_credentials")
    out["token_endpoint_auth_method"] = method
    if method == "private_key_jwt":
        out["jwks"] = _validate_jwks(data.get("jwks"))
        alg = data.get("token_endpoint_auth_signing_alg", "RS256")
        if alg not in CLIENT_ASSERTION_ALGS:
            raise RegistrationError(
                "token_endpoint_auth_signing_alg must be one of " + ", ".join(CLIENT_ASSERTION_ALGS)
            )
        out["token_endpoint_auth_signing_alg"] = alg
    elif data.get("jwks") not in (None, {}):
        raise RegistrationError("jwks is only used with token_endpoint_auth_method private_key_jwt")

    subject_type = data.get("subject_type", "pairwise")
    if subject_type not in ("pairwise", "public"):
        raise RegistrationError("subject_type must be pairwise or public")
    if subject_type == "public" and not operator:
        raise RegistrationError("subject_type public is reserved for provincial clients")
    out["subject_type"] = subject_type

    alg = data.get("id_token_signed_response_alg", jwks.DEFAULT_ALG)
    if alg not in jwks.supported_algs():
        raise RegistrationError(
            "id_token_signed_response_alg must be one of " + ", ".join(jwks.supported_algs())
        )
    out["id_token_signed_response_alg"] = alg

    allowed_scopes = set(USER_SCOPES) | (set(API_SCOPES) if operator else set())
    scope = data.get("scope", DEFAULT_SCOPE if "authorization_code" in grant_types else "")
    if not isinstance(scope, str):
        raise RegistrationError("scope must be a space-separated string")
    scopes = list(dict.fromkeys(scope.split()))
    refused = [s for s in scopes if s not in allowed_scopes]
    if refused:
        raise RegistrationError(f"scope: not available to this client: {' '.join(refused)}")
    if "authorization_code" in grant_types and "openid" not in scopes:
        scopes.insert(0, "openid")
    out["scope"] = " ".join(scopes)

    if data.get("post_logout_redirect_uris"):
        out["post_logout_redirect_uris"] = _uri_list(
            data, "post_logout_redirect_uris", native=native, error=RegistrationError
        )
    if data.get("backchannel_logout_uri"):
        uri = _check_uri(
            data["backchannel_logout_uri"],
            "backchannel_logout_uri",
            native=False,
            error=RegistrationError,
        )
        if not uri.lower().startswith(("https://", "http://")):
            raise RegistrationError("backchannel_logout_uri must be an https URI")
        out["backchannel_logout_uri"] = uri
        session_required = data.get("backchannel_logout_session_required", False)
        if not isinstance(session_required, bool):
            raise RegistrationError("backchannel_logout_session_required must be a boolean")
        out["backchannel_logout_session_required"] = session_required

    for field in STRING_FIELDS:
        if field in data:
            if not isinstance(data[field], str) or len(data[field]) > 200:
                raise RegistrationError(f"{field} must be a string of at most 200 characters")
            out[field] = data[field]
    for field in URI_FIELDS:
        if field in data:
            out[field] = _check_uri(data[field], field, native=False, error=RegistrationError)
    if "contacts" in data:
        out["contacts"] = _str_list(data, "contacts", [])
    if "default_max_age" in data:
        if not isinstance(data["default_max_age"], int) or data["default_max_age"] < 0:
            raise RegistrationError("default_max_age must be a non-negative integer")
        out["default_max_age"] = data["default_max_age"]
    if "require_auth_time" in data:
        if not isinstance(data["require_auth_time"], bool):
            raise RegistrationError("require_auth_time must be a boolean")
        out["require_auth_time"] = data["require_auth_time"]
    return out


def _validate_jwks(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list) or not value["keys"]:
        raise RegistrationError("jwks must be a JWK Set with at least one key for private_key_jwt")
    for key in value["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC"):
            raise RegistrationError("jwks: only RSA and EC public keys are accepted")
        if any(k in key for k in ("d", "p", "q", "dp", "dq", "qi")):
            raise RegistrationError("jwks must hold public keys only")
    try:
        KeySet.import_key_set(value)
    except (JoseError, ValueError, TypeError) as exc:
        raise RegistrationError("jwks: a key could not be read") from exc
    return value


# ------------------------------------------------------------------ registration responses


def client_information(client: Client, issuer: str) -> dict[str, Any]:
    """The client information response body (RFC 7591 §3.2.1), without secrets."""
    body: dict[str, Any] = dict(client.client_metadata)
    body.update(
        client_id=client.client_id,
        client_id_issued_at=client.client_id_issued_at,
        registration_client_uri=f"{issuer}/register/{client.client_id}",
    )
    if client.secret_digest is not None:
        body["client_secret_expires_at"] = client.client_secret_expires_at
    return body


def new_registration_token(client: Client) -> str:
    """Give ``client`` a fresh registration access token (RFC 7592 §3); returns it."""
    value = hashing.new_secret()
    client.registration_token_digest = hashing.digest(value)
    return value


def client_for_registration_token(
    session: Session, client_id: str, value: str | None
) -> Client | None:
    """The client whose registration access token is ``value`` (and whose id matches)."""
    if not value:
        return None
    client = session.scalar(
        sa.select(Client).where(Client.registration_token_digest == hashing.digest(value))
    )
    if client is None or client.client_id != client_id or client.disabled:
        return None
    return client
