"""Login pages: password, second factor, and the choice of whom to act for.

- First factor: ID number (GB 11643-1999) or mainland mobile number, plus password
  (argon2id, :mod:`oidc.passwords`). The same message and the same work (one argon2
  verification) answer an unknown login and a wrong password, so the page does not
  reveal who has an account (OWASP Authentication Cheat Sheet, "authentication responses").
- Lockout with exponential back-off per account and per client address
  (:mod:`oidc.lockout`); the page says when to try again.
- Second factor: TOTP (RFC 6238) or a recovery code (:mod:`oidc.totp`). A person who
  enrolled TOTP always gives it; ``require_mfa`` (``acr_values`` asking for
  ``urn:authority:acr:mfa``) upgrades a password-only session without asking for the
  password again (step-up).
- ``next`` must be a same-origin relative path (no open redirect).

The provider sends browsers here with :func:`login_redirect`.
"""

from __future__ import annotations

import math
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import Session
from werkzeug.wrappers.response import Response as BaseResponse

from authority import audit, db
from authority.i18n import register_messages, t
from oidc import accounts, lockout, passwords, sessions, totp
from oidc.accounts import ACR_MFA, ACR_PASSWORD, AMR_MFA, AMR_PASSWORD, Person

bp = Blueprint("oidc_login", __name__, template_folder="templates")

DEFAULT_NEXT = "/account"


# ---------------------------------------------------------------- redirects


def safe_next(value: str | None, default: str = DEFAULT_NEXT) -> str:
    """``value`` if it is a path on this site, else ``default`` (no open redirects).

    Accepted: an absolute path such as ``/authorize?client_id=...``. Refused: anything
    with a scheme or host (``https://evil``, ``//evil``, ``/\\evil``), backslashes,
    control characters, and overlong values.
    """
    if not value or len(value) > 4096:
        return default
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def login_url(
    next_url: str,
    *,
    force: bool = False,
    require_mfa: bool = False,
    login_hint: str | None = None,
) -> str:
    """The login page's URL that returns to ``next_url`` afterwards."""
    params = {"next": safe_next(next_url)}
    if force:
        params["prompt"] = "login"
    if require_mfa:
        params["mfa"] = "1"
    if login_hint:
        params["login_hint"] = login_hint[:64]
    return url_for("oidc_login.login") + "?" + urlencode(params)


def login_redirect(
    next_url: str,
    *,
    force: bool = False,
    require_mfa: bool = False,
    login_hint: str | None = None,
) -> BaseResponse:
    """Send the browser to log in, and back to ``next_url`` (a same-origin path) after.

    ``force``: authenticate again even with a live session (``prompt=login``, ``max_age``).
    ``require_mfa``: the second factor is required; a password-only session is upgraded
    by the second-factor page alone. ``login_hint`` prefills the login field.

    After a forced login the browser comes back to ``next_url`` unchanged: a caller that
    forced it because of ``prompt=login`` must not force it again for the same request
    (compare ``current_session().auth_time`` with the time of the request).
    """
    return redirect(
        login_url(next_url, force=force, require_mfa=require_mfa, login_hint=login_hint),
        code=303,
    )


def _flags() -> dict[str, str]:
    """The login options carried from page to page (hidden fields or query)."""
    source = request.form if request.method == "POST" else request.args
    flags = {"next": safe_next(source.get("next"))}
    if source.get("mfa") == "1":
        flags["mfa"] = "1"
    return flags


def _to(endpoint: str, **flags: str) -> BaseResponse:
    return redirect(url_for(endpoint, **flags), code=303)


# ---------------------------------------------------------------- password


def _client_ip() -> str | None:
    return request.remote_addr


def _lock_message(until: int) -> str:
    minutes = max(1, math.ceil((until - accounts.now()) / 60))
    return t("login.locked", minutes=minutes)


def _render_login(
    *, error: str | None = None, login_value: str = "", status: int = 200
) -> tuple[str, int]:
    flags = _flags()
    return render_template(
        "oidc/login.html",
        error=error,
        login_value=login_value,
        next=flags["next"],
        mfa=flags.get("mfa"),
        force=(request.values.get("prompt") == "login"),
    ), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int]:
    """The password page (``?next=``, ``prompt=login``, ``mfa=1``, ``login_hint=``)."""
    if request.method == "GET":
        flags = _flags()
        sso = sessions.current_session()
        if sso is not None and request.args.get("prompt") != "login":
            if flags.get("mfa") and sso.acr != ACR_MFA:
                return _to("oidc_login.mfa", **flags)
            return redirect(flags["next"], code=303)
        return _render_login(login_value=(request.args.get("login_hint") or "")[:64])
    return _password_step()


def _password_step() -> BaseResponse | tuple[str, int]:
    session = db.session()
    raw_login = (request.form.get("login") or "")[:64]
    password = request.form.get("password") or ""
    parsed = accounts.parse_login(raw_login)
    person = accounts.find_person(session, parsed)
    if person is not None and person.disabled:
        person = None
    now = accounts.now()
    keys = [
        lockout.account_key(person.id if person else None, f"{parsed.kind}:{parsed.value}"),
        lockout.ip_key(_client_ip()),
    ]
    until = lockout.locked_until(session, keys, now)
    if until is not None:
        audit.record(
            session,
            "login.failure",
            subject=parsed.masked,
            details={"reason": "locked", "factor": "pwd"},
        )
        session.commit()
        return _render_login(error=_lock_message(until), login_value=raw_login, status=429)

    result = passwords.verify(person.password_hash if person else None, password[:1024])
    if person is None or not result.ok:
        return _fail(session, keys, parsed.masked, "bad_credentials", raw_login, now)

    lockout.reset(session, keys[0])
    if result.needs_rehash:
        person.password_hash = passwords.hash_password(password)
    flags = _flags()
    if person.has_totp:
        sessions.start_flow(person.id)
        audit.record(
            session, "login.password_ok", actor=f"person:{person.id}", subject=parsed.masked
        )
        session.commit()
        return _to("oidc_login.mfa", **flags)
    return _complete(session, person, parsed.masked, ACR_PASSWORD, AMR_PASSWORD, flags)


def _fail(
    session: Session,
    keys: list[lockout.ThrottleKey],
    masked: str,
    reason: str,
    raw_login: str,
    now: int,
) -> tuple[str, int]:
    locks = [lockout.record_failure(session, k, now) for k in keys]
    audit.record(session, "login.failure", subject=masked, details={"reason": reason})
    until = max((u for u in locks if u is not None), default=None)
    if until is not None:
        audit.record(
            session,
            "login.lockout",
            subject=masked,
            details={"scopes": [k.scope for k, u in zip(keys, locks, strict=True) if u]},
        )
    session.commit()
    if until is not None:
        return _render_login(error=_lock_message(until), login_value=raw_login, status=429)
    return _render_login(error=t("login.failed"), login_value=raw_login)


def _complete(
    session: Session,
    person: Person,
    masked: str,
    acr: str,
    amr: tuple[str, ...],
    flags: dict[str, str],
) -> BaseResponse:
    """Open the SSO session and go on: to the organisation choice, or to ``next``."""
    sessions.start_session(person.id, acr=acr, amr=amr)
    audit.record(
        session,
        "login.success",
        actor=f"person:{person.id}",
        subject=masked,
        details={"acr": acr, "amr": list(amr)},
    )
    session.commit()
    if flags.get("mfa") and acr != ACR_MFA:
        # The client demands a second factor this person has not enrolled.
        return _to("oidc_login.mfa", **flags)
    if accounts.agent_links(session, person.id):
        return _to("oidc_login.choose_org", next=flags["next"])
    return redirect(flags["next"], code=303)


# ---------------------------------------------------------------- second factor


def _mfa_subject() -> tuple[Person, sessions.LoginFlow | None, sessions.SSOSession | None] | None:
    """Whose second factor this page asks for: a pending login, or a step-up."""
    session = db.session()
    flow = sessions.current_flow()
    if flow is not None:
        person = session.get(Person, flow.person_id)
        if person is not None and not person.disabled:
            return person, flow, None
    sso = sessions.current_session()
    if sso is not None:
        person = session.get(Person, sso.person_id)
        if person is not None:
            return person, None, sso
    return None


def _render_mfa(person: Person, *, error: str | None = None, status: int = 200) -> tuple[str, int]:
    flags = _flags()
    return render_template(
        "oidc/mfa.html",
        error=error,
        enrolled=person.has_totp,
        next=flags["next"],
        mfa=flags.get("mfa"),
    ), status


@bp.route("/login/mfa", methods=["GET", "POST"])
def mfa() -> BaseResponse | tuple[str, int]:
    """The second-factor page (TOTP code or recovery code)."""
    found = _mfa_subject()
    flags = _flags()
    if found is None:
        return _to("oidc_login.login", **flags)
    person, flow, sso = found
    if sso is not None and sso.acr == ACR_MFA:
        return redirect(flags["next"], code=303)
    if request.method == "GET" or not person.has_totp:
        return _render_mfa(person)

    session = db.session()
    now = accounts.now()
    masked = accounts.LoginId("id_number", accounts.id_number_of(person)).masked
    keys = [lockout.account_key(person.id, ""), lockout.ip_key(_client_ip())]
    until = lockout.locked_until(session, keys, now)
    if until is not None:
        audit.record(
            session,
            "login.failure",
            actor=f"person:{person.id}",
            subject=masked,
            details={"reason": "locked", "factor": "otp"},
        )
        session.commit()
        return _render_mfa(person, error=_lock_message(until), status=429)

    code = (request.form.get("code") or "")[:32]
    used_recovery = False
    ok = totp.verify_totp(session, person, code)
    if not ok and totp.looks_like_recovery_code(code):
        ok = used_recovery = totp.use_recovery_code(session, person, code)
    if not ok:
        locks = [lockout.record_failure(session, k, now) for k in keys]
        audit.record(
            session,
            "login.failure",
            actor=f"person:{person.id}",
            subject=masked,
            details={"reason": "bad_otp"},
        )
        until = max((u for u in locks if u is not None), default=None)
        if until is not None:
            audit.record(session, "login.lockout", subject=masked, details={"factor": "otp"})
        session.commit()
        if until is not None:
            return _render_mfa(person, error=_lock_message(until), status=429)
        return _render_mfa(person, error=t("mfa.failed"))

    lockout.reset(session, keys[0])
    if used_recovery:
        remaining = totp.remaining_recovery_codes(session, person)
        audit.record(
            session,
            "mfa.recovery_code_used",
            actor=f"person:{person.id}",
            details={"remaining": remaining},
        )
        flash(t("mfa.recovery_used", remaining=remaining), "warning")
    if flow is not None:
        sessions.finish_flow(flow)
        return _complete(session, person, masked, ACR_MFA, AMR_MFA, flags)
    assert sso is not None
    sessions.upgrade_session(sso, acr=ACR_MFA, amr=AMR_MFA)
    audit.record(
        session,
        "login.step_up",
        actor=f"person:{person.id}",
        subject=masked,
        details={"acr": ACR_MFA, "amr": list(AMR_MFA)},
    )
    session.commit()
    return redirect(flags["next"], code=303)


# ---------------------------------------------------------------- organisation choice


@bp.route("/login/organisation", methods=["GET", "POST"])
def choose_org() -> BaseResponse | tuple[str, int]:
    """Act as oneself or for one of one's organisations; stored in the session."""
    next_url = safe_next(request.values.get("next"))
    sso = sessions.current_session()
    if sso is None:
        return login_redirect(url_for("oidc_login.choose_org", next=next_url))
    session = db.session()
    links = accounts.agent_links(session, sso.person_id)
    if request.method == "POST":
        choice = request.form.get("act_as", "")
        if choice == "self":
            org_id: int | None = None
        else:
            try:
                org_id = int(choice)
            except ValueError:
                abort(400)
            if accounts.agent_for(session, sso.person_id, org_id) is None:
                abort(403)
        sessions.set_acting_org(sso, org_id)
        audit.record(
            session,
            "login.acting_for",
            actor=f"person:{sso.person_id}",
            subject=None if org_id is None else _credit_code(links, org_id),
        )
        session.commit()
        return redirect(next_url, code=303)
    return render_template(
        "oidc/choose_org.html", links=links, current=sso.acting_org_id, next=next_url
    ), 200


def _credit_code(links: list[accounts.Agent], org_id: int) -> str | None:
    return next((a.organisation.credit_code for a in links if a.organisation_id == org_id), None)


register_messages(
    {
        "login.title": {"zh-CN": "登录", "en": "Log in"},
        "login.intro": {
            "zh-CN": "使用身份证号或手机号登录，一次登录即可使用全省政务服务。",
            "en": "Log in with your ID number or mobile number to use every provincial service.",
        },
        "login.login": {"zh-CN": "身份证号或手机号", "en": "ID number or mobile number"},
        "login.password": {"zh-CN": "密码", "en": "Password"},
        "login.submit": {"zh-CN": "登录", "en": "Log in"},
        "login.failed": {
            "zh-CN": "账号或密码不正确。",
            "en": "The ID number, mobile number or password is incorrect.",
        },
        "login.locked": {
            "zh-CN": "登录失败次数过多，已暂时锁定。请在 {minutes} 分钟后重试。",
            "en": "Too many failed attempts: logging in is locked for now. "
            "Try again in {minutes} minute(s).",
        },
        "login.reauth": {
            "zh-CN": "为保护您的账户，请重新输入密码。",
            "en": "To protect your account, please enter your password again.",
        },
        "mfa.title": {"zh-CN": "两步验证", "en": "Two-step verification"},
        "mfa.intro": {
            "zh-CN": "请输入身份验证器应用显示的 6 位动态码，或一个恢复码。",
            "en": "Enter the 6-digit code from your authenticator app, or a recovery code.",
        },
        "mfa.code": {"zh-CN": "动态码或恢复码", "en": "Code or recovery code"},
        "mfa.submit": {"zh-CN": "验证", "en": "Verify"},
        "mfa.failed": {
            "zh-CN": "验证码不正确或已使用，请输入新的动态码。",
            "en": "The code is wrong or was already used. Enter a new code.",
        },
        "mfa.not_enrolled": {
            "zh-CN": "此服务要求两步验证，但您尚未设置。请先在“我的账户”中设置两步验证。",
            "en": "This service requires two-step verification, which you have not set up "
            "yet. Set it up on your account page first.",
        },
        "mfa.go_account": {"zh-CN": "前往我的账户", "en": "Go to my account"},
        "mfa.recovery_used": {
            "zh-CN": "您使用了一个恢复码，还剩 {remaining} 个。",
            "en": "You used a recovery code; {remaining} remain.",
        },
        "org.title": {"zh-CN": "选择办事身份", "en": "Choose whom you act for"},
        "org.intro": {
            "zh-CN": "您可以以个人身份办事，或代表您有权代理的单位办事。",
            "en": "You can act for yourself or for an organisation you represent.",
        },
        "org.self": {"zh-CN": "以个人身份办事", "en": "Act for myself"},
        "org.role.legal_representative": {"zh-CN": "法定代表人", "en": "Legal representative"},
        "org.role.authorised_agent": {"zh-CN": "授权经办人", "en": "Authorised agent"},
        "org.submit": {"zh-CN": "继续", "en": "Continue"},
        "org.credit_code": {"zh-CN": "统一社会信用代码", "en": "Credit code"},
    }
)
