"""OpenID Connect RP-Initiated Logout 1.0: the ``end_session_endpoint`` (``/logout``).

https://openid.net/specs/openid-connect-rpinitiated-1_0.html

Parameters (§2): ``id_token_hint``, ``client_id``, ``post_logout_redirect_uri``,
``state``, ``ui_locales`` (``logout_hint`` is accepted and ignored), by GET or by POST
form. Decisions (docs/logout.md):

- ``id_token_hint`` must be an ID token *we* issued: compact JWS, ``alg`` one of our
  signing algorithms (``none`` and every HMAC algorithm are refused before any key is
  looked at, which rules out the HS256-with-public-key confusion), ``kid`` one of our
  published keys for that algorithm (active or retired), a valid signature, ``iss``
  our issuer. An expired hint is accepted (§2: the OP SHOULD accept it; it only
  identifies the session). With ``client_id`` too, the client must be in its ``aud``.
- ``post_logout_redirect_uri`` is honoured only when it is, character for character,
  one of the ``post_logout_redirect_uris`` registered by the client that the hint or
  ``client_id`` identifies (§3). Otherwise the person is not sent anywhere: our own
  page says why (§4: no redirect after an error).
- Confirmation (§2, §5 "the OP SHOULD ask the End-User whether to log out"): when the
  request carries a valid ``id_token_hint`` for the browser's current session, the
  request comes from a relying party that holds this session's ID token, so we log out
  at once; in every other case (no hint, a hint for another session or person, no
  session to speak of) the person confirms on a CSRF-protected form, so that a
  third-party page cannot log people out with a link.
- A POST without the session cookie (a cross-site form post: our ``SameSite=Lax``
  cookie is not sent with it) is turned into the equivalent GET (303), which the
  browser sends with the cookie.
- Logging out ends the SSO session (:func:`oidc.sessions.end_session`, audited as
  ``session.ended``), revokes the tokens issued within it (Back-Channel Logout §2.7)
  and records ``oidc.logout``, all in one transaction; then every client of the
  session is notified through Back-Channel Logout (:mod:`oidc.backchannel`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from cryptography.exceptions import InvalidSignature as CryptographyInvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from flask import Blueprint, Flask, g, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers.response import Response as BaseResponse

from authority import audit, db
from authority.i18n import normalise_locale, register_messages
from authority.keystore import keystore
from authority.web import allow_form_action, csrf
from oidc import backchannel, clients, jwks, sessions, subjects
from oidc.provider import issuer

bp = Blueprint("oidc_logout", __name__, template_folder="templates")

#: Longest parameter values we read; anything longer is refused (or cut, for state).
MAX_HINT = 16_384
MAX_STATE = 1024

register_messages(
    {
        "logout.title": {"zh-CN": "退出登录", "en": "Log out"},
        "logout.question": {
            "zh-CN": "确定要退出统一身份认证吗？",
            "en": "Do you want to log out of the unified identity service?",
        },
        "logout.from_client": {
            "zh-CN": "“{client}” 请求您退出登录。",
            "en": "“{client}” asks you to log out.",
        },
        "logout.everywhere": {
            "zh-CN": "退出后，您在所有通过本平台登录的应用中都将退出。",
            "en": "You will be logged out of every application you entered through this service.",
        },
        "logout.confirm": {"zh-CN": "退出登录", "en": "Log out"},
        "logout.cancel": {"zh-CN": "取消", "en": "Cancel"},
        "logout.done.title": {"zh-CN": "您已退出登录", "en": "You are logged out"},
        "logout.done.text": {
            "zh-CN": "您已安全退出。如需继续办理业务，请重新登录。",
            "en": "You have been logged out safely. Log in again to continue.",
        },
        "logout.not_logged_in": {
            "zh-CN": "您当前没有登录。",
            "en": "You are not logged in.",
        },
        "logout.login_again": {"zh-CN": "重新登录", "en": "Log in again"},
        "logout.error.title": {"zh-CN": "退出请求无效", "en": "Invalid logout request"},
        "logout.error.no_redirect": {
            "zh-CN": "为保护您的安全，退出后不会跳转回发起请求的应用。",
            "en": "For your safety you will not be sent back to the application that "
            "sent you here.",
        },
        "logout.error.invalid_hint": {
            "zh-CN": "应用提供的身份令牌（id_token_hint）无效。",
            "en": "The identity token the application sent (id_token_hint) is not valid.",
        },
        "logout.error.unknown_client": {
            "zh-CN": "发起请求的应用未在本平台注册，或已被停用。",
            "en": "The application that sent you here is not registered here, or is disabled.",
        },
        "logout.error.client_mismatch": {
            "zh-CN": "请求中的应用标识（client_id）与身份令牌不一致。",
            "en": "The request's client_id does not match its identity token.",
        },
        "logout.error.redirect_uri": {
            "zh-CN": "请求中的退出后跳转地址（post_logout_redirect_uri）未登记。",
            "en": "The request's post_logout_redirect_uri is not registered.",
        },
        "logout.error.redirect_unverifiable": {
            "zh-CN": "请求未说明来自哪个应用，无法核实退出后跳转地址。",
            "en": "The request does not say which application sent it, so its "
            "post_logout_redirect_uri cannot be checked.",
        },
        "logout.error.bad_request": {
            "zh-CN": "请求参数无效。",
            "en": "The request's parameters are invalid.",
        },
    }
)


# ------------------------------------------------------------------ errors


class LogoutRequestError(Exception):
    """A logout request we will not redirect for (§4), with its page message."""

    error = "invalid_request"
    message_key = "logout.error.bad_request"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InvalidIdTokenHint(LogoutRequestError):
    message_key = "logout.error.invalid_hint"


class UnknownClient(LogoutRequestError):
    error = "invalid_client"
    message_key = "logout.error.unknown_client"


class ClientMismatch(LogoutRequestError):
    message_key = "logout.error.client_mismatch"


class UnregisteredRedirectURI(LogoutRequestError):
    message_key = "logout.error.redirect_uri"


class UnverifiableRedirectURI(LogoutRequestError):
    message_key = "logout.error.redirect_unverifiable"


# ------------------------------------------------------------------ id_token_hint


def _b64decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidIdTokenHint("id_token_hint is not base64url") from exc


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidIdTokenHint(f"id_token_hint {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidIdTokenHint(f"id_token_hint {what} is not a JSON object")
    return value


def _verify_signature(alg: str, public_pem: bytes, signature: bytes, signed: bytes) -> None:
    """Raise :class:`InvalidIdTokenHint` unless ``signature`` is valid for ``alg``."""
    try:
        if alg == "SM2SM3":
            from keys.errors import InvalidSignature as SM2InvalidSignature
            from keys.sm2 import SM2PublicKey

            try:
                SM2PublicKey.from_pem(public_pem).verify_raw(signature, signed)
            except SM2InvalidSignature as exc:
                raise CryptographyInvalidSignature() from exc
            return
        key = serialization.load_pem_public_key(public_pem)
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            return
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                raise CryptographyInvalidSignature()
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
            return
    except CryptographyInvalidSignature as exc:
        raise InvalidIdTokenHint("id_token_hint signature is not valid") from exc
    # The stored key does not match its purpose's algorithm: never accept.
    raise InvalidIdTokenHint("id_token_hint key does not match its algorithm")


def verify_id_token_hint(session: Session, token: str) -> dict[str, Any]:
    """The claims of an ID token this provider issued, or :class:`InvalidIdTokenHint`.

    Expiry is not checked (RP-Initiated Logout §2); everything else is.
    """
    if not isinstance(token, str) or len(token) > MAX_HINT:
        raise InvalidIdTokenHint("id_token_hint is missing or too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidIdTokenHint("id_token_hint must be a signed JWT (three parts)")
    header = _json_object(_b64decode(parts[0]), "header")
    alg = header.get("alg")
    # Only our own asymmetric algorithms: "none", HS256 and friends never reach a key.
    if not isinstance(alg, str) or alg not in jwks.supported_algs():
        raise InvalidIdTokenHint(f"id_token_hint alg {alg!r} is not accepted")
    if "crit" in header:
        raise InvalidIdTokenHint("id_token_hint has critical header parameters")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidIdTokenHint("id_token_hint has no kid")
    published = [k for k in keystore(session).published(jwks.purpose(alg)) if k.kid == kid]
    if not published:
        raise InvalidIdTokenHint("id_token_hint was not signed by one of our keys")
    stored = published[0]
    pem = stored.public_pem if isinstance(stored.public_pem, bytes) else stored.public_pem.encode()
    signed = f"{parts[0]}.{parts[1]}".encode("ascii", errors="replace")
    _verify_signature(alg, pem, _b64decode(parts[2]), signed)
    claims = _json_object(_b64decode(parts[1]), "payload")
    if claims.get("iss") != issuer():
        raise InvalidIdTokenHint("id_token_hint was issued by another provider")
    if not isinstance(claims.get("sub"), str) or not _audiences(claims):
        raise InvalidIdTokenHint("id_token_hint lacks sub or aud")
    return claims


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return list(aud)
    return []


# ------------------------------------------------------------------ the request


@dataclass(frozen=True)
class LogoutRequest:
    """A validated logout request."""

    client: clients.Client | None = None
    hint: dict[str, Any] | None = None
    #: The post-logout redirect URI, only when it is registered for ``client``.
    redirect_uri: str | None = None
    state: str | None = None
    ui_locales: str | None = None

    def hint_matches(self, sso: sessions.SSOSession) -> bool:
        """Whether the verified hint was issued within ``sso`` (same ``sid``).

        An ID token without ``sid`` matches when its ``sub`` is the session's person
        as this client sees them.
        """
        if self.hint is None or self.client is None:
            return False
        sid = self.hint.get("sid")
        if isinstance(sid, str):
            return hmac.compare_digest(sid.encode(), sso.sid.encode())
        expected = subjects.subject_for(db.session(), self.client, sso.person_id)
        return hmac.compare_digest(str(self.hint.get("sub")).encode(), expected.encode())

    def form_fields(self) -> dict[str, str]:
        """What the confirmation form carries (re-validated when it comes back)."""
        fields = {}
        if self.client is not None:
            fields["client_id"] = self.client.client_id
        if self.redirect_uri:
            fields["post_logout_redirect_uri"] = self.redirect_uri
            if self.state:
                fields["state"] = self.state
        if self.ui_locales:
            fields["ui_locales"] = self.ui_locales
        return fields


def parse_request(session: Session, values: MultiDict[str, str]) -> LogoutRequest:
    """Validate the logout parameters (§2, §3); raise :class:`LogoutRequestError`."""
    for name in ("id_token_hint", "client_id", "post_logout_redirect_uri", "state"):
        if len(values.getlist(name)) > 1:
            raise LogoutRequestError(f"{name} is repeated")
    hint_text = values.get("id_token_hint") or None
    client_id = values.get("client_id") or None
    redirect_uri = values.get("post_logout_redirect_uri") or None
    state = values.get("state") or None
    if state is not None and len(state) > MAX_STATE:
        raise LogoutRequestError("state is too long")
    ui_locales = (values.get("ui_locales") or "")[:100] or None

    hint = verify_id_token_hint(session, hint_text) if hint_text else None
    client = None
    if client_id is not None:
        client = clients.find(session, client_id)
        if client is None:
            raise UnknownClient("client_id is not a registered, enabled client")
        if hint is not None and client_id not in _audiences(hint):
            raise ClientMismatch("client_id is not an audience of id_token_hint")
    elif hint is not None:
        audiences = _audiences(hint)
        azp = hint.get("azp")
        client = clients.find(session, azp if isinstance(azp, str) else audiences[0])
        if client is None:
            raise UnknownClient("the client of id_token_hint is not registered or disabled")

    if redirect_uri is not None:
        if client is None:
            raise UnverifiableRedirectURI(
                "post_logout_redirect_uri needs id_token_hint or client_id"
            )
        registered = client.client_metadata.get("post_logout_redirect_uris") or []
        # Exact comparison: no prefix, no normalisation (as for redirect_uri).
        if redirect_uri not in registered:
            raise UnregisteredRedirectURI(
                "post_logout_redirect_uri is not registered for this client"
            )
    return LogoutRequest(
        client=client,
        hint=hint,
        redirect_uri=redirect_uri,
        state=state if redirect_uri else None,
        ui_locales=ui_locales,
    )


def _apply_ui_locales(ui_locales: str | None) -> None:
    """Show our pages in the first language of ``ui_locales`` we have (§2).

    An explicit ``?lang=`` (the language switch on the page) still wins.
    """
    if not ui_locales or normalise_locale(request.args.get("lang")):
        return
    for tag in ui_locales.split():
        locale = normalise_locale(tag)
        if locale is not None:
            g._locale = locale
            return


# ------------------------------------------------------------------ views


def _finish(req: LogoutRequest, *, logged_out: bool) -> BaseResponse | tuple[str, int]:
    """Send the browser back to the client (§3), or show our page."""
    if req.redirect_uri:
        target = req.redirect_uri
        if req.state:
            separator = "&" if "?" in target else "?"
            target += separator + urlencode({"state": req.state})
        return redirect(target, code=303)
    return render_template("oidc/logout_done.html", logged_out=logged_out), 200


def end(sso: sessions.SSOSession, req: LogoutRequest, *, confirmed: bool) -> None:
    """End ``sso``: session, its tokens, the audit entry (one commit), then notify."""
    session = db.session()
    person = f"person:{sso.person_id}"
    sid = sso.sid
    pairs = sessions.end_session(sso)
    revoked = backchannel.revoke_session_tokens(session, sid, actor=person)
    audit.record(
        session,
        "oidc.logout",
        actor=person,
        subject=req.client.client_id if req.client is not None else None,
        details={
            "confirmed": confirmed,
            "clients": len(pairs),
            "tokens_revoked": revoked,
            "redirect": req.redirect_uri is not None,
        },
    )
    session.commit()
    sessions.notify_ended(pairs)


def _confirmation_page(
    req: LogoutRequest, error: LogoutRequestError | None = None
) -> tuple[str, int]:
    if req.redirect_uri:
        # The confirmation form's answer redirects to the client: CSP form-action
        # governs redirects that follow a form submission.
        allow_form_action(req.redirect_uri)
    return (
        render_template(
            "oidc/logout.html",
            client=req.client,
            fields=req.form_fields(),
            error=error,
            logged_in=sessions.current_session() is not None,
        ),
        400 if error is not None else 200,
    )


@bp.route("/logout", methods=["GET", "POST"])
def end_session_endpoint() -> BaseResponse | tuple[str, int]:
    """The ``end_session_endpoint`` (RP-Initiated Logout 1.0 §2)."""
    values = request.form if request.method == "POST" else request.args
    if request.method == "POST" and sessions.COOKIE not in request.cookies:
        query = urlencode(list(values.items(multi=True)))
        return redirect(url_for("oidc_logout.end_session_endpoint") + "?" + query, code=303)
    _apply_ui_locales(values.get("ui_locales"))
    try:
        req = parse_request(db.session(), values)
    except LogoutRequestError as error:
        # §4: no redirect after an error; the person may still log out here.
        return _confirmation_page(LogoutRequest(ui_locales=values.get("ui_locales")), error)
    sso = sessions.current_session()
    if sso is None:
        return _finish(req, logged_out=False)
    if req.hint_matches(sso):
        end(sso, req, confirmed=False)
        return _finish(req, logged_out=True)
    return _confirmation_page(req)


@bp.route("/logout/confirm", methods=["POST"])
def confirm() -> BaseResponse | tuple[str, int]:
    """The confirmation form's answer (CSRF-protected like every form)."""
    values = request.form
    _apply_ui_locales(values.get("ui_locales"))
    try:
        # The form carries no id_token_hint: client_id and the redirect URI are checked
        # again against the registration, so the form cannot be bent into a redirector.
        req = parse_request(db.session(), MultiDict(_without(values, "id_token_hint")))
    except LogoutRequestError as error:
        return _confirmation_page(LogoutRequest(), error)
    sso = sessions.current_session()
    if sso is None:
        return _finish(req, logged_out=False)
    end(sso, req, confirmed=True)
    return _finish(req, logged_out=True)


def _without(values: MultiDict[str, str], name: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in values.items(multi=True) if k != name]


csrf.exempt(end_session_endpoint)


@bp.record_once
def _register_listener(state: Any) -> None:
    # Sessions ending anywhere (logout, another person logging in, a password change)
    # are announced to the clients through back-channel logout.
    app: Flask = state.app
    backchannel.setup_backchannel(app)
