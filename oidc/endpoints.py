"""HTTP endpoints of the OpenID provider.

- ``/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0 §4) and
  ``/jwks.json`` (RFC 7517);
- ``/authorize`` (RFC 6749 §4.1.1, OIDC Core §3.1.2) and the consent form it shows;
- ``/token`` (RFC 6749 §3.2), ``/introspect`` (RFC 7662), ``/revoke`` (RFC 7009);
- ``/userinfo`` (OIDC Core §5.3);
- ``/register`` and ``/register/<client_id>`` (RFC 7591, RFC 7592).

The protocol blueprint is exempt from CSRF protection (its callers are clients, not
forms); the consent form lives on its own blueprint, protected like every form.
Every view commits the request's transaction itself once the protocol outcome is
known, including refusals that must persist (a replayed code's revocation).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, jsonify, render_template, request
from werkzeug.wrappers.response import Response as BaseResponse

from authority import audit, db
from authority.i18n import register_messages, t
from authority.web import allow_form_action
from oidc import (
    accounts,
    api,
    clients,
    consents,
    jwks,
    login,
    registration,
    sessions,
    subjects,
    token_audit,
)
from oidc.config import oidc_settings
from oidc.provider import ALL_AUTH_METHODS, endpoint_url, issuer, server
from oidc.tokens import AuthenticatedUser

protocol = Blueprint("oidc", __name__, template_folder="templates")
consent_bp = Blueprint("oidc_consent", __name__, template_folder="templates")

PROMPTS = {"none", "login", "consent", "select_account"}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

SCOPE_MESSAGES = {
    "openid": {
        "zh-CN": "确认您的身份（匿名标识）",
        "en": "Confirm who you are (an opaque identifier)",
    },
    "profile": {"zh-CN": "您的姓名", "en": "Your name"},
    "phone": {"zh-CN": "您的手机号码", "en": "Your phone number"},
    "id_number": {"zh-CN": "您的公民身份号码", "en": "Your citizen ID number"},
    "organisation": {
        "zh-CN": "您代表的单位（名称、统一社会信用代码、您的身份）",
        "en": "The organisation you act for (name, credit code, your role)",
    },
    "licenses:read": {"zh-CN": "查看您的电子证照", "en": "Read your e-licenses"},
}

register_messages(
    {
        **{f"oidc.scope.{k}": v for k, v in SCOPE_MESSAGES.items()},
        "oidc.consent.title": {"zh-CN": "授权确认", "en": "Allow access"},
        "oidc.consent.intro": {
            "zh-CN": "“{client}” 请求获取以下信息：",
            "en": "“{client}” asks for:",
        },
        "oidc.consent.new": {"zh-CN": "新增", "en": "new"},
        "oidc.consent.allow": {"zh-CN": "同意", "en": "Allow"},
        "oidc.consent.deny": {"zh-CN": "拒绝", "en": "Deny"},
        "oidc.consent.acting": {
            "zh-CN": "您当前以单位身份办理：{org}",
            "en": "You are acting for: {org}",
        },
        "oidc.consent.revoke_hint": {
            "zh-CN": "您可以随时在“我的账户”中撤销授权。",
            "en": "You can revoke this at any time on your account page.",
        },
        "oidc.error.title": {
            "zh-CN": "无法完成登录请求",
            "en": "The sign-in request cannot be completed",
        },
        "oidc.error.unknown_client": {
            "zh-CN": "发起请求的应用未在本平台注册，或已被停用。",
            "en": "The application that sent you here is not registered here, or is disabled.",
        },
        "oidc.error.redirect_uri": {
            "zh-CN": "请求中的回调地址（redirect_uri）缺失或未登记，"
            "为保护您的安全，不会跳转回该应用。",
            "en": "The request's redirect_uri is missing or not registered; for your safety "
            "you are not sent back to the application.",
        },
        "oidc.error.bad_request": {
            "zh-CN": "请求无效，请返回原应用重新发起登录。",
            "en": "The request is invalid; go back to the application and try again.",
        },
        "oidc.error.code": {"zh-CN": "错误代码", "en": "Error code"},
    }
)


# ------------------------------------------------------------------ CORS

#: Endpoints a browser-based relying party calls with fetch(): they use no cookies
#: (client authentication or Bearer tokens only), so any origin may read the answers.
CORS_ENDPOINTS = {
    "oidc.discovery",
    "oidc.jwks_document",
    "oidc.token",
    "oidc.userinfo",
    "oidc.revoke",
}


@protocol.after_request
def _cors(response: Response) -> Response:
    """CORS for single-page relying parties (public clients with PKCE)."""
    if request.endpoint in CORS_ENDPOINTS:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
    return response


# ------------------------------------------------------------------ discovery and keys


@protocol.route("/.well-known/openid-configuration")
def discovery() -> Response:
    """Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2)."""
    algs = jwks.supported_algs()
    body = {
        "issuer": issuer(),
        "authorization_endpoint": endpoint_url("/authorize"),
        "token_endpoint": endpoint_url("/token"),
        "userinfo_endpoint": endpoint_url("/userinfo"),
        "jwks_uri": endpoint_url("/jwks.json"),
        "registration_endpoint": endpoint_url("/register"),
        "introspection_endpoint": endpoint_url("/introspect"),
        "revocation_endpoint": endpoint_url("/revoke"),
        "scopes_supported": list(clients.ALL_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ALL_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": list(
            registration.CLIENT_ASSERTION_ALGS
        ),
        "introspection_endpoint_auth_methods_supported": ALL_AUTH_METHODS[:3],
        "revocation_endpoint_auth_methods_supported": ALL_AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "sid",
            "at_hash",
            "name",
            "phone_number",
            "phone_number_verified",
            "id_number",
            "org_credit_code",
            "org_name",
            "org_role",
            "acting_person_name",
        ],
        "acr_values_supported": [accounts.ACR_PASSWORD, accounts.ACR_MFA],
        "prompt_values_supported": sorted(PROMPTS),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        "ui_locales_supported": ["zh-CN", "en"],
    }
    # Logout is another module (RP-Initiated and Back-Channel Logout); advertise it only
    # when it is plugged in, so discovery never names an endpoint that answers 404.
    rules = {rule.rule for rule in current_app.url_map.iter_rules()}
    if "/logout" in rules:
        body["end_session_endpoint"] = endpoint_url("/logout")
    if current_app.extensions.get(sessions.END_LISTENERS):
        body["backchannel_logout_supported"] = True
        body["backchannel_logout_session_supported"] = True
    return jsonify(body)


@protocol.route("/jwks.json")
def jwks_document() -> Response:
    """The JWK Set of every published signing key (active and retired)."""
    session = db.session()
    jwks.ensure_keys(session)
    document = jwks.jwks(session)
    session.commit()
    response = jsonify(document)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# ------------------------------------------------------------------ authorization


def _error_page(error: OAuth2Error) -> tuple[str, int]:
    if error.error == "invalid_client":
        text = t("oidc.error.unknown_client")
    elif "redirect" in (error.description or "").lower():
        text = t("oidc.error.redirect_uri")
    else:
        text = t("oidc.error.bad_request")
    return (
        render_template(
            "oidc/error.html", error=error.error, text=text, description=error.description
        ),
        400,
    )


def _redirect_error(
    redirect_uri: str, error: str, description: str | None, state: str | None
) -> BaseResponse:
    """An error sent back to the client (OIDC Core §3.1.2.6), with ``iss`` (RFC 9207)."""
    params = [("error", error)]
    if description:
        params.append(("error_description", description))
    if state:
        params.append(("state", state))
    params.append(("iss", issuer()))
    response = Response(status=302)
    response.headers["Location"] = add_params_to_uri(redirect_uri, params)
    return response


def _authorization_error(error: OAuth2Error) -> BaseResponse | tuple[str, int]:
    if error.redirect_uri:
        state = request.values.get("state")
        return _redirect_error(error.redirect_uri, error.error, error.description, state)
    return _error_page(error)


def _request_params() -> dict[str, str]:
    keep = ("csrf_token", "decision")
    return {k: v for k, v in request.values.items() if k not in keep}


def _continue_url(params: dict[str, str]) -> str:
    """Where login sends the browser back: this request, without ``prompt=login``.

    Removing ``login`` from ``prompt`` is what stops the loop: the person has just
    authenticated for this very request.
    """
    params = dict(params)
    prompt = [p for p in params.get("prompt", "").split() if p != "login"]
    if prompt:
        params["prompt"] = " ".join(prompt)
    else:
        params.pop("prompt", None)
    return "/authorize?" + urlencode(params)


@protocol.route("/authorize", methods=["GET", "POST"])
def authorize() -> BaseResponse | tuple[str, int]:
    """The authorization endpoint: authenticate, obtain consent, issue a code."""
    try:
        grant = server().get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return _authorization_error(error)
    return _decide(grant, consent_given=None)


def _decide(grant: Any, *, consent_given: bool | None) -> BaseResponse | tuple[str, int]:
    oauth_request = grant.request
    client: clients.Client = oauth_request.client
    redirect_uri = grant.redirect_uri
    params = _request_params()
    state = params.get("state")

    def fail(error: str, description: str) -> BaseResponse:
        return _redirect_error(redirect_uri, error, description, state)

    if params.get("request") or params.get("request_uri"):
        return fail("request_not_supported", "request objects are not supported")
    prompt = set(params.get("prompt", "").split())
    if not prompt <= PROMPTS:
        return fail("invalid_request", "unsupported prompt value")
    if "none" in prompt and len(prompt) > 1:
        return fail("invalid_request", "prompt=none cannot be combined with other values")
    max_age: int | None = None
    if params.get("max_age"):
        try:
            max_age = int(params["max_age"])
        except ValueError:
            return fail("invalid_request", "max_age must be a non-negative integer")
        if max_age < 0:
            return fail("invalid_request", "max_age must be a non-negative integer")
    elif "default_max_age" in client.client_metadata:
        max_age = int(client.client_metadata["default_max_age"])
    acr_values = params.get("acr_values", "").split()
    require_mfa = accounts.ACR_MFA in acr_values

    sso = sessions.current_session()
    now = int(time.time())
    stale = sso is not None and max_age is not None and now - sso.auth_time > max_age
    need_login = sso is None or "login" in prompt or stale
    need_mfa = require_mfa and (sso is None or sso.acr != accounts.ACR_MFA)
    if need_login or need_mfa:
        if "none" in prompt:
            if need_login:
                return fail("login_required", "the person is not logged in (or must log in again)")
            return fail("interaction_required", "the second factor is required")
        return login.login_redirect(
            _continue_url(params),
            force=sso is not None and need_login,
            require_mfa=require_mfa,
            login_hint=params.get("login_hint"),
        )
    assert sso is not None

    session = db.session()
    scopes = set((oauth_request.scope or "").split())
    if consent_given is None:
        missing = consents.missing_scopes(session, sso.person_id, client, scopes)
        if missing or "consent" in prompt:
            if "none" in prompt:
                return fail("consent_required", "the person has not consented to these scopes")
            return _consent_page(client, scopes, missing, params, redirect_uri, sso)
    elif consent_given:
        consents.grant(session, sso.person_id, client, scopes)
    else:
        audit.record(
            session,
            "oidc.consent.denied",
            actor=f"person:{sso.person_id}",
            subject=client.client_id,
        )
        session.commit()
        return fail("access_denied", "the person denied the request")

    user = AuthenticatedUser(
        person_id=sso.person_id,
        acting_org_id=sso.acting_org_id,
        sid=sso.sid,
        auth_time=sso.auth_time,
        acr=sso.acr,
        amr=tuple(sso.amr or ()),
    )
    response = server().create_authorization_response(grant=grant, grant_user=user)
    sessions.add_client(sso, client.client_id)
    session.commit()
    return response


def _consent_page(
    client: clients.Client,
    scopes: set[str],
    missing: set[str],
    params: dict[str, str],
    redirect_uri: str,
    sso: Any,
) -> tuple[str, int]:
    allow_form_action(redirect_uri)
    acting = None
    if sso.acting_org_id is not None:
        identity = accounts.user_info(db.session(), sso)
        acting = identity.acting_for.name if identity.acting_for else None
    shown = [s for s in clients.ALL_SCOPES if s in scopes and s in SCOPE_MESSAGES]
    return (
        render_template(
            "oidc/consent.html",
            client=client,
            scopes=shown,
            new_scopes=missing,
            params=params,
            acting=acting,
        ),
        200,
    )


@consent_bp.route("/authorize/consent", methods=["POST"])
def consent() -> BaseResponse | tuple[str, int]:
    """The consent form's answer; the authorization request is validated again."""
    try:
        grant = server().get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return _authorization_error(error)
    decision = request.form.get("decision")
    if decision not in ("allow", "deny"):
        return _error_page(OAuth2Error(error="invalid_request", description="no decision"))
    return _decide(grant, consent_given=decision == "allow")


# ------------------------------------------------------------ token, introspection, revocation


@protocol.route("/token", methods=["POST"])
def token() -> Response:
    response = server().create_token_response()
    db.session().commit()
    token_audit.after_token_commit()
    return response


@protocol.route("/introspect", methods=["POST"])
def introspect() -> Response:
    response = server().create_endpoint_response("introspection")
    db.session().commit()
    return response


@protocol.route("/revoke", methods=["POST"])
def revoke() -> Response:
    response = server().create_endpoint_response("revocation")
    db.session().commit()
    return response


# ------------------------------------------------------------------ userinfo


@protocol.route("/userinfo", methods=["GET", "POST"])
@api.require_oauth("openid")
def userinfo() -> Response | tuple[Response, int]:
    """Claims about the person the access token speaks for (OIDC Core §5.3)."""
    info = api.current_token()
    session = db.session()
    row = api.current_token_row()
    client = clients.find(session, info.client_id)
    if row.person_id is None or client is None:
        raise api.bearer_problem("invalid_token", "the token does not belong to a person")
    try:
        claims = accounts.claims_for(session, row.person_id, row.acting_org_id, set(info.scopes))
    except accounts.UnknownPerson:
        raise api.bearer_problem("invalid_token", "the person no longer exists") from None
    body = {"sub": subjects.subject_for(session, client, row.person_id), **claims}
    response = jsonify(body)
    response.headers.update(NO_STORE)
    return response


# ------------------------------------------------------------------ registration (RFC 7591/7592)


def _registration_error(exc: registration.RegistrationError) -> tuple[Response, int]:
    response = jsonify(exc.body())
    response.headers.update(NO_STORE)
    if exc.status_code == 401:
        response.headers["WWW-Authenticate"] = (
            f'Bearer error="invalid_token", error_description="{exc.description}"'
        )
    return response, exc.status_code


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _json_body() -> Any:
    if not request.is_json:
        raise registration.RegistrationError("the request body must be application/json")
    return request.get_json(silent=True)


@protocol.route("/register", methods=["POST"])
def register() -> tuple[Response, int]:
    """Client registration (RFC 7591 §3.1)."""
    session = db.session()
    try:
        if oidc_settings().registration == "token":
            initial = registration.consume_initial_token(session, _bearer())
            via = f"initial_token:{initial.id}"
        else:
            via = "open"
        metadata = registration.validate_metadata(_json_body())
    except registration.RegistrationError as exc:
        session.rollback()
        return _registration_error(exc)
    client, secret = clients.create(session, metadata)
    access_token = registration.new_registration_token(client)
    audit.record(
        session,
        "oidc.client.registered",
        actor=via,
        subject=client.client_id,
        details={"redirect_uris": client.redirect_uris, "auth": client.token_endpoint_auth_method},
    )
    body = registration.client_information(client, issuer())
    body["registration_access_token"] = access_token
    if secret is not None:
        body["client_secret"] = secret
    session.commit()
    response = jsonify(body)
    response.headers.update(NO_STORE)
    return response, 201


@protocol.route("/register/<client_id>", methods=["GET", "PUT", "DELETE"])
def client_configuration(client_id: str) -> tuple[Response, int]:
    """Client read, update and delete (RFC 7592 §2)."""
    session = db.session()
    client = registration.client_for_registration_token(session, client_id, _bearer())
    if client is None:
        return _registration_error(
            registration.InvalidInitialToken("invalid registration access token for this client")
        )
    if request.method == "GET":
        response = jsonify(registration.client_information(client, issuer()))
        response.headers.update(NO_STORE)
        return response, 200
    if request.method == "DELETE":
        audit.record(session, "oidc.client.deleted", actor="registration", subject=client_id)
        session.delete(client)
        session.commit()
        return Response(status=204), 204  # type: ignore[return-value]
    try:
        data = _json_body()
        if not isinstance(data, dict) or data.get("client_id") != client_id:
            raise registration.RegistrationError("client_id must be present and match")
        for field in (
            "registration_access_token",
            "registration_client_uri",
            "client_id_issued_at",
            "client_secret_expires_at",
        ):
            if field in data:
                raise registration.RegistrationError(f"{field} must not be sent (RFC 7592 §2.2)")
        if "client_secret" in data and not client.check_client_secret(str(data["client_secret"])):
            raise registration.RegistrationError("client_secret does not match")
        metadata = registration.validate_metadata(
            {k: v for k, v in data.items() if k not in ("client_id", "client_secret")}
        )
    except registration.RegistrationError as exc:
        return _registration_error(exc)
    secret = None
    needs_secret = metadata["token_endpoint_auth_method"] in (
        "client_secret_basic",
        "client_secret_post",
    )
    if needs_secret and client.secret_digest is None:
        secret = clients.hashing.new_secret()
        client.secret_digest = clients.hashing.digest(secret)
    elif not needs_secret:
        client.secret_digest = None
    client.client_metadata = metadata
    audit.record(
        session,
        "oidc.client.updated",
        actor="registration",
        subject=client_id,
        details={"redirect_uris": client.redirect_uris, "auth": client.token_endpoint_auth_method},
    )
    body = registration.client_information(client, issuer())
    if secret is not None:
        body["client_secret"] = secret
    session.commit()
    response = jsonify(body)
    response.headers.update(NO_STORE)
    return response, 200
