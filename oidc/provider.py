"""All Authlib wiring of the OpenID provider, on one screen.

OAuth 2.0 (RFC 6749) and OpenID Connect Core 1.0 on Authlib's Flask integration:
grants, client authentication methods, extensions and endpoints are registered in
:func:`build_server`; :func:`build_resource_protector` guards Bearer-token APIs
(RFC 6750). The server is built per app and kept in ``app.extensions`` (no
module-level singleton re-initialised at runtime). Protocol state lives in the
database (:mod:`oidc.tokens`, :mod:`oidc.clients`); this module only adapts it.

Authlib defaults we change (docs/oidc.md): PKCE ``plain`` is refused and S256 is
required for public clients (:class:`S256CodeChallenge`); refresh tokens rotate
(:class:`RefreshTokenGrant`); ID tokens are signed by :mod:`oidc.jwks` (RS256, ES256
or SM2SM3) instead of Authlib's encoder; ``iss`` is added to every authorization
response (RFC 9207).
"""

from __future__ import annotations

import hmac
import time
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    UnsupportedTokenTypeError,
    grants,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode as _OpenIDCode
from flask import Flask, current_app, request
from joserfc.jwk import KeySet

from authority import db
from oidc import client_cache, clients, jwks, subjects, token_audit, tokens
from oidc.clients import Client
from oidc.config import oidc_settings

SERVER_KEY = "oidc.server"
#: Flask endpoint name of /token, whose client look-ups use oidc.client_cache.
TOKEN_ENDPOINT = "oidc.token"  # noqa: S105 - an endpoint name, not a secret
PROTECTOR_KEY = "oidc.resource_protector"

ALL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


def issuer() -> str:
    return str(current_app.extensions["authority.settings"].issuer).rstrip("/")


def endpoint_url(path: str) -> str:
    return issuer() + path


# ------------------------------------------------------------------ PKCE (RFC 7636)


def _compare_s256(verifier: str, challenge: str) -> bool:
    return hmac.compare_digest(create_s256_code_challenge(verifier), challenge)


class S256CodeChallenge(CodeChallenge):
    """RFC 7636 with S256 only (RFC 9700 §2.1.1); mandatory for public clients.

    A confidential client may omit PKCE; if its authorization request carried a
    challenge, the token request must carry the matching verifier.
    """

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    CODE_CHALLENGE_METHODS: ClassVar[dict[str, Any]] = {"S256": _compare_s256}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge = data.get("code_challenge")
        method = data.get("code_challenge_method")
        client: Client = grant.request.client
        if not challenge and client.is_public:
            raise InvalidRequestError("code_challenge (method S256) is required for public clients")
        if (challenge or method) and method != "S256":
            raise InvalidRequestError(
                "code_challenge_method must be S256; 'plain' and a missing method are refused"
            )
        super().validate_code_challenge(grant, redirect_uri)


# ------------------------------------------------------------------ grants


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """Authorization code grant (RFC 6749 §4.1) with codes kept by :mod:`oidc.tokens`."""

    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        tokens.save_code(
            db.session(),
            code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            nonce=data.get("nonce"),
            user=request.user,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            ttl=oidc_settings().code_ttl,
        )

    def query_authorization_code(self, code: str, client: Client) -> Any:
        return tokens.redeem_code(db.session(), code, client.client_id)

    def delete_authorization_code(self, authorization_code: Any) -> None:
        # Codes are kept (marked used) so that a replay can be recognised.
        pass

    def authenticate_user(self, authorization_code: tokens.AuthorizationCode) -> Any:
        return authorization_code.user()


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Refresh with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14.2)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Any:
        client = self.request.client
        row = tokens.authenticate_refresh(
            db.session(), refresh_token, client.client_id, grace=oidc_settings().refresh_grace
        )
        self.request.refresh_token = row
        return row

    def authenticate_user(self, refresh_token: tokens.Token) -> Any:
        return refresh_token.user()

    def revoke_old_credential(self, refresh_token: tokens.Token) -> None:
        tokens.spend_refresh(db.session(), refresh_token)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """Client credentials (RFC 6749 §4.4) for department systems."""

    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        # RFC 6749 §3.3: only scopes registered for the client; none asked means all of
        # them (Authlib would pass the raw request scope through).
        client: Client = self.request.client
        requested = scope_to_list(self.request.payload.scope or "") or []
        if not set(requested) <= set(client.scopes):
            raise InvalidScopeError("the client is not registered for the requested scope")
        scope = " ".join(requested or client.scopes)
        token = self.generate_token(scope=scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


# ------------------------------------------------------------------ ID tokens (OIDC Core §2)


class OpenIDCode(_OpenIDCode):
    """OpenID Connect for the code flow; ID tokens signed through :mod:`oidc.jwks`.

    Prompt handling (``prompt``, ``max_age``, ``acr_values``) happens in the
    authorization view (:mod:`oidc.endpoints`), so Authlib's prompt hook is not used.
    """

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_create_token_response", self.process_token)
        if "openid" in scope_to_list(grant.request.payload.scope or ""):
            grant.register_hook(
                "after_validate_authorization_request_payload",
                self.validate_openid_authorization_request,
            )

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return tokens.nonce_used(db.session(), request.payload.client_id, nonce)

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        return id_token_for(request.client, request.authorization_code, token.get("access_token"))

    def generate_user_info(self, user: Any, scope: str) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError("ID tokens are built by id_token_for")


def id_token_for(client: Client, code: tokens.AuthorizationCode, access_token: str | None) -> str:
    """The signed ID token for a redeemed authorization code (OIDC Core §2, §3.1.3.6)."""
    session = db.session()
    now = int(time.time())
    alg = client.id_token_alg
    claims: dict[str, Any] = {
        "iss": issuer(),
        "sub": subjects.subject_for(session, client, code.person_id),
        "aud": client.client_id,
        "iat": now,
        "exp": now + oidc_settings().id_token_ttl,
    }
    if code.auth_time is not None:
        claims["auth_time"] = code.auth_time
    if code.nonce:
        claims["nonce"] = code.nonce
    if code.acr:
        claims["acr"] = code.acr
    if code.amr:
        claims["amr"] = code.get_amr()
    if code.sid:
        claims["sid"] = code.sid
    if access_token:
        claims["at_hash"] = jwks.half_hash(access_token, alg)
    return jwks.sign_jwt(session, claims, alg)


# ------------------------------------------------------------------ client auth (RFC 7523)


class PrivateKeyJWT(JWTBearerClientAssertion):
    """``private_key_jwt`` (RFC 7523 §2.2, OIDC Core §9) with a database jti cache.

    The assertion's ``alg`` must be an asymmetric algorithm the client registered:
    ``none`` and HMAC algorithms are refused before any key is touched, which rules out
    the HS256-with-public-key confusion. ``aud`` must be the token endpoint or the
    issuer.
    """

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __call__(self, query_client: Any, request: Any) -> Any:
        assertion = request.form.get("client_assertion")
        if request.form.get("client_assertion_type") == self.CLIENT_ASSERTION_TYPE and assertion:
            headers, claims = self.extract_assertion(assertion)
            client = query_client(claims.get("sub")) if isinstance(claims.get("sub"), str) else None
            allowed = (
                {client.client_metadata.get("token_endpoint_auth_signing_alg", "RS256")}
                if client is not None
                else set()
            )
            if headers.get("alg") not in allowed:
                raise InvalidClientError(
                    description="client_assertion must be signed with the registered algorithm"
                )
        return super().__call__(query_client, request)

    def get_audiences(self) -> list[str]:
        return [endpoint_url("/token"), issuer()]

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            return False
        return clients.remember_assertion(db.session(), claims["sub"], jti, int(claims["exp"]))

    def resolve_client_public_key(self, client: Client) -> KeySet:
        return KeySet.import_key_set(client.client_metadata.get("jwks") or {"keys": []})


# ------------------------------------------------------------------ endpoints


class UnsupportedTokenType(UnsupportedTokenTypeError):
    """RFC 7009 §2.2.1 errors are RFC 6749 §5.2 errors: 400 (Authlib answers 401)."""

    status_code = 400


def _check_token_params(request: Any) -> None:
    if "token" not in request.form:
        raise InvalidRequestError("missing 'token'")
    hint = request.form.get("token_type_hint")
    if hint and hint not in ("access_token", "refresh_token"):
        raise UnsupportedTokenType()


class RevocationEndpoint(_RevocationEndpoint):
    """RFC 7009. Revoking a refresh token revokes its whole family (§2.1)."""

    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    def check_params(self, request: Any, client: Any) -> None:
        _check_token_params(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        session = db.session()
        if token_type_hint == "refresh_token":  # noqa: S105 - a hint name
            return tokens.find_refresh_token(session, token_string) or tokens.find_access_token(
                session, token_string
            )
        return tokens.find_access_token(session, token_string) or tokens.find_refresh_token(
            session, token_string
        )

    def revoke_token(self, token: tokens.Token, request: Any) -> None:
        session = db.session()
        presented = request.form.get("token", "")
        if token.refresh_digest and tokens.hashing.matches(presented, token.refresh_digest):
            tokens.revoke_family(session, token, reason="revoked_by_client")
        else:
            tokens.revoke(session, token, reason="revoked_by_client")


class IntrospectionEndpoint(_IntrospectionEndpoint):
    """RFC 7662. A client learns only about its own tokens, unless it is a resource
    server (``authority clients create --resource-server``), which may introspect any.
    """

    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def check_params(self, request: Any, client: Any) -> None:
        _check_token_params(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return RevocationEndpoint.query_token(self, token_string, token_type_hint)  # type: ignore[arg-type]

    def check_permission(self, token: tokens.Token, client: Client, request: Any) -> bool:
        return bool(client.resource_server or token.client_id == client.client_id)

    def introspect_token(self, token: tokens.Token) -> dict[str, Any]:
        session = db.session()
        now = int(time.time())
        active = token.revoked_at is None and token.access_expires_at > now
        if not active:
            return {"active": False}
        body: dict[str, Any] = {
            "active": True,
            "client_id": token.client_id,
            "scope": token.scope,
            "token_type": "Bearer",
            "exp": token.access_expires_at,
            "iat": token.issued_at,
            "iss": issuer(),
        }
        client = clients.find(session, token.client_id)
        if token.person_id is not None and client is not None:
            body["sub"] = subjects.subject_for(session, client, token.person_id)
            body["aud"] = token.client_id
        return body


class Issuer(IssuerParameter):
    """RFC 9207: ``iss`` on every authorization response, including errors."""

    def get_issuer(self) -> str:
        return issuer()


# ------------------------------------------------------------------ the server


def _generate_token(
    grant_type: str,
    client: Client,
    user: Any = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    settings = oidc_settings()
    token: dict[str, Any] = {
        "token_type": "Bearer",
        "expires_in": expires_in or settings.access_token_ttl,
        **tokens.new_token_values(include_refresh_token and user is not None),
    }
    if scope:
        token["scope"] = scope
    return token


def _save_token(token: dict[str, Any], request: Any) -> None:
    grant_type = request.payload.grant_type
    code = getattr(request, "authorization_code", None)
    parent = getattr(request, "refresh_token", None) if grant_type == "refresh_token" else None
    try:
        tokens.save_token(
            db.session(),
            token,
            client=request.client,
            grant_type=grant_type,
            user=request.user,
            refresh_ttl=oidc_settings().refresh_token_ttl,
            code_id=code.id if code is not None else None,
            parent=parent,
            # Client credentials change nothing but add the token (and its audit outbox
            # row): written and committed on their own, at once (docs/oidc.md,
            # "Performance"). Codes and refresh tokens change state in the request's
            # transaction, which commits durably.
            standalone=grant_type == "client_credentials",
        )
    except tokens.StaleClient:
        # The client was disabled, deleted or changed after it was read: undo this
        # request's writes (a code stays unspent) and refuse; a retry reads the row.
        client_cache.cache().forget(request.client.client_id)
        db.session().rollback()
        raise InvalidClientError(
            description="the client's registration changed; try again", status_code=401
        ) from None


def _query_client(client_id: str) -> Client | None:
    if request.endpoint == TOKEN_ENDPOINT:
        return client_cache.cache().lookup(db.session(), client_id)
    return clients.find(db.session(), client_id)


def build_server(app: Flask) -> AuthorizationServer:
    """The authorization server of ``app``: grants, auth methods, endpoints, extensions."""
    server = AuthorizationServer()
    client_cache.init_app(app)
    token_audit.init_app(app)
    server.init_app(app, query_client=_query_client, save_token=_save_token)
    # Unknown scopes in an authorization request are ignored, not refused (RFC 6749 §3.3
    # lets the server narrow the scope; many RP libraries ask for "email" by default):
    # Client.get_allowed_scope keeps only the client's registered scopes. Client
    # credentials refuse unregistered scopes explicitly (ClientCredentialsGrant).
    server.scopes_supported = None
    server.register_token_generator("default", _generate_token)
    server.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT())
    server.register_grant(
        AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode(require_nonce=False)]
    )
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
    server.register_extension(Issuer())
    app.extensions[SERVER_KEY] = server
    return server


def server() -> AuthorizationServer:
    srv: AuthorizationServer = current_app.extensions[SERVER_KEY]
    return srv


class _TokenValidator(BearerTokenValidator):
    """Bearer access tokens looked up by digest (RFC 6750 §2.1)."""

    def authenticate_token(self, token_string: str) -> Any:
        return tokens.find_access_token(db.session(), token_string)


def build_resource_protector(app: Flask) -> ResourceProtector:
    protector = ResourceProtector()
    protector.register_token_validator(_TokenValidator())
    app.extensions[PROTECTOR_KEY] = protector
    return protector


def resource_protector() -> ResourceProtector:
    protector: ResourceProtector = current_app.extensions[PROTECTOR_KEY]
    return protector
