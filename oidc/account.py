"""The account page: profile, password, two-step verification, connected apps.

Every change needs a live SSO session; changing the password, regenerating recovery
codes and turning the second factor off also need the current password (a session
left open on a shared computer must not be enough to take the account over). Wrong
current passwords count towards the lockout like failed logins.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
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
from oidc import accounts, consents, lockout, passwords, sessions, totp
from oidc.accounts import Person
from oidc.login import login_redirect, safe_next

bp = Blueprint("oidc_account", __name__, url_prefix="/account", template_folder="templates")

#: Shown in authenticator apps next to the account name.
TOTP_ISSUER = "统一身份认证"
#: How recent the login must be to enrol a second factor (seconds).
RECENT_LOGIN_SECONDS = 10 * 60


def _person() -> tuple[sessions.SSOSession, Person] | BaseResponse:
    sso = sessions.current_session()
    if sso is None:
        return login_redirect(request.full_path if request.method == "GET" else "/account")
    person = db.session().get(Person, sso.person_id)
    if person is None:
        abort(403)
    return sso, person


def _masked_id(person: Person) -> str:
    return accounts.LoginId("id_number", accounts.id_number_of(person)).masked


def _check_current_password(session: Session, person: Person, password: str) -> str | None:
    """None if right; else the error message (wrong, or locked out)."""
    now = accounts.now()
    keys = [lockout.account_key(person.id, ""), lockout.ip_key(request.remote_addr)]
    until = lockout.locked_until(session, keys, now)
    if until is None:
        if passwords.verify(person.password_hash, password[:1024]).ok:
            lockout.reset(session, keys[0])
            return None
        locks = [lockout.record_failure(session, k, now) for k in keys]
        audit.record(
            session,
            "account.password_check_failed",
            actor=f"person:{person.id}",
            subject=_masked_id(person),
        )
        until = max((u for u in locks if u is not None), default=None)
        if until is None:
            session.commit()
            return t("account.password.wrong")
        audit.record(session, "login.lockout", subject=_masked_id(person))
    session.commit()
    minutes = max(1, -(-(until - now) // 60))
    return t("login.locked", minutes=minutes)


@bp.get("")
def account() -> BaseResponse | str:
    """The account overview."""
    found = _person()
    if not isinstance(found, tuple):
        return found
    sso, person = found
    session = db.session()
    phone = accounts.phone_of(person)
    return render_template(
        "oidc/account.html",
        person=person,
        sso=sso,
        masked_id=_masked_id(person),
        masked_phone=accounts.mask_phone(phone) if phone else None,
        links=accounts.agent_links(session, person.id),
        acting=accounts.agent_for(session, person.id, sso.acting_org_id)
        if sso.acting_org_id
        else None,
        recovery_left=totp.remaining_recovery_codes(session, person) if person.has_totp else 0,
        apps=consents.list_for_person(session, person.id),
        # The only way out for a person who came here directly rather than from a portal.
        logout_url=url_for("oidc_logout.end_session_endpoint")
        if "oidc_logout" in current_app.blueprints
        else None,
    )


@bp.post("/password")
def change_password() -> BaseResponse | str:
    """Change the password: current password, new password twice."""
    found = _person()
    if not isinstance(found, tuple):
        return found
    sso, person = found
    session = db.session()
    error = _check_current_password(session, person, request.form.get("current_password", ""))
    if error is not None:
        flash(error, "error")
        return redirect(url_for("oidc_account.account"), code=303)
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        flash(t("account.password.mismatch"), "error")
        return redirect(url_for("oidc_account.account"), code=303)
    try:
        accounts.set_password(person, new)
    except passwords.PasswordPolicyError as exc:
        flash(t(f"account.password.{exc.reason}", min=passwords.MIN_LENGTH), "error")
        return redirect(url_for("oidc_account.account"), code=303)
    # Whoever else holds a session of this person (a stolen cookie, a forgotten
    # computer) loses it now; this browser keeps its own.
    others = sessions.count_sessions_of(person.id) - 1
    ended = sessions.end_sessions_of(person.id, keep=sso)
    audit.record(
        session,
        "account.password_changed",
        actor=f"person:{person.id}",
        subject=_masked_id(person),
        details={"other_sessions_ended": others},
    )
    session.commit()
    sessions.notify_ended(ended)
    flash(t("account.password.changed"), "success")
    return redirect(url_for("oidc_account.account"), code=303)


@bp.route("/totp", methods=["GET", "POST"])
def totp_setup() -> BaseResponse | str | tuple[str, int]:
    """Enrol an authenticator app: QR code, then a code to confirm it works."""
    found = _person()
    if not isinstance(found, tuple):
        return found
    sso, person = found
    session = db.session()
    # Where to go once enrolled: a client that demanded the second factor sends the
    # person here from the login pages, and gets them back afterwards.
    next_url = safe_next(request.values.get("next"), default=url_for("oidc_account.account"))
    here = url_for("oidc_account.totp_setup", next=next_url)
    # Enrolling changes how the person logs in: demand a recent login (a session left
    # open on a shared computer must not let someone else bind their own phone), and
    # replacing an authenticator demands the current one.
    if accounts.now() - sso.auth_time > RECENT_LOGIN_SECONDS:
        return login_redirect(here, force=True)
    if person.has_totp and sso.acr != accounts.ACR_MFA:
        return login_redirect(here, require_mfa=True)
    error = None
    if request.method == "POST":
        codes = totp.confirm_enrolment(session, person, request.form.get("code", ""))
        if codes is not None:
            audit.record(
                session, "mfa.enrolled", actor=f"person:{person.id}", subject=_masked_id(person)
            )
            # Knowing the new code proves the second factor: the session now has both.
            sessions.upgrade_session(sso, acr=accounts.ACR_MFA, amr=accounts.AMR_MFA)
            session.commit()
            return render_template("oidc/account_recovery_codes.html", codes=codes, next=next_url)
        error = t("account.totp.wrong_code")
    secret = totp.pending_secret(person)
    if secret is None or request.args.get("restart") == "1":
        secret = totp.begin_enrolment(person)
        session.commit()
    uri = totp.provisioning_uri(secret, account=_masked_id(person), issuer=TOTP_ISSUER)
    return render_template(
        "oidc/account_totp.html",
        qr=totp.qr_data_uri(uri),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        error=error,
        replacing=person.has_totp,
        next=next_url,
    ), (400 if error else 200)


@bp.post("/totp/disable")
def totp_disable() -> BaseResponse:
    """Turn the second factor off (needs the current password)."""
    found = _person()
    if not isinstance(found, tuple):
        return found
    _sso, person = found
    session = db.session()
    error = _check_current_password(session, person, request.form.get("current_password", ""))
    if error is not None:
        flash(error, "error")
        return redirect(url_for("oidc_account.account"), code=303)
    totp.disable(session, person)
    audit.record(session, "mfa.disabled", actor=f"person:{person.id}", subject=_masked_id(person))
    session.commit()
    flash(t("account.totp.disabled"), "success")
    return redirect(url_for("oidc_account.account"), code=303)


@bp.post("/recovery-codes")
def recovery_codes() -> BaseResponse | str:
    """Replace the recovery codes (needs the current password); shown once."""
    found = _person()
    if not isinstance(found, tuple):
        return found
    _sso, person = found
    session = db.session()
    if not person.has_totp:
        return redirect(url_for("oidc_account.account"), code=303)
    error = _check_current_password(session, person, request.form.get("current_password", ""))
    if error is not None:
        flash(error, "error")
        return redirect(url_for("oidc_account.account"), code=303)
    codes = totp.new_recovery_codes(session, person)
    audit.record(
        session,
        "mfa.recovery_codes_replaced",
        actor=f"person:{person.id}",
        subject=_masked_id(person),
    )
    session.commit()
    return render_template(
        "oidc/account_recovery_codes.html", codes=codes, next=url_for("oidc_account.account")
    )


@bp.post("/apps/revoke")
def revoke_app() -> BaseResponse:
    """Withdraw consent from a connected app, which revokes its tokens."""
    found = _person()
    if not isinstance(found, tuple):
        return found
    _sso, person = found
    session = db.session()
    client_id = (request.form.get("client_id") or "")[:255]
    if consents.revoke(session, person.id, client_id):
        session.commit()
        flash(t("account.apps.revoked"), "success")
    else:
        flash(t("account.apps.unknown"), "error")
    return redirect(url_for("oidc_account.account"), code=303)


register_messages(
    {
        "account.title": {"zh-CN": "我的账户", "en": "My account"},
        "account.profile": {"zh-CN": "个人信息", "en": "Profile"},
        "account.name": {"zh-CN": "姓名", "en": "Name"},
        "account.id_number": {"zh-CN": "身份证号", "en": "ID number"},
        "account.phone": {"zh-CN": "手机号", "en": "Mobile number"},
        "account.phone.none": {"zh-CN": "未登记", "en": "Not registered"},
        "account.phone.verified": {"zh-CN": "已验证", "en": "verified"},
        "account.phone.unverified": {"zh-CN": "未验证", "en": "not verified"},
        "account.acting": {"zh-CN": "当前办事身份", "en": "Acting for"},
        "account.acting.self": {"zh-CN": "个人", "en": "Myself"},
        "account.acting.change": {"zh-CN": "切换办事身份", "en": "Change"},
        "account.orgs": {"zh-CN": "可代理的单位", "en": "Organisations you represent"},
        "account.password": {"zh-CN": "修改密码", "en": "Change password"},
        "account.password.current": {"zh-CN": "当前密码", "en": "Current password"},
        "account.password.new": {"zh-CN": "新密码", "en": "New password"},
        "account.password.confirm": {"zh-CN": "再次输入新密码", "en": "New password again"},
        "account.password.hint": {
            "zh-CN": "至少 8 个字符，不能是身份证号或手机号。",
            "en": "At least 8 characters; not your ID number or mobile number.",
        },
        "account.password.submit": {"zh-CN": "修改密码", "en": "Change password"},
        "account.password.changed": {
            "zh-CN": "密码已修改，其他设备上的登录已退出。",
            "en": "Your password was changed; you were logged out everywhere else.",
        },
        "account.password.wrong": {
            "zh-CN": "当前密码不正确。",
            "en": "The current password is incorrect.",
        },
        "account.password.mismatch": {
            "zh-CN": "两次输入的新密码不一致。",
            "en": "The two new passwords do not match.",
        },
        "account.password.too_short": {
            "zh-CN": "新密码至少需要 {min} 个字符。",
            "en": "The new password needs at least {min} characters.",
        },
        "account.password.too_long": {
            "zh-CN": "新密码过长（最多 128 个字符）。",
            "en": "The new password is too long (at most 128 characters).",
        },
        "account.password.is_identifier": {
            "zh-CN": "新密码不能是身份证号或手机号。",
            "en": "The new password may not be your ID number or mobile number.",
        },
        "account.totp": {"zh-CN": "两步验证", "en": "Two-step verification"},
        "account.totp.on": {
            "zh-CN": "已开启：登录时需要输入身份验证器的动态码。",
            "en": "On: logging in asks for a code from your authenticator app.",
        },
        "account.totp.off": {
            "zh-CN": "未开启。开启后，即使密码泄露，他人也无法登录您的账户。",
            "en": "Off. Turn it on so that a leaked password alone cannot open your account.",
        },
        "account.totp.setup": {"zh-CN": "设置两步验证", "en": "Set up two-step verification"},
        "account.totp.replace": {"zh-CN": "更换身份验证器", "en": "Replace authenticator"},
        "account.totp.recovery_left": {
            "zh-CN": "剩余恢复码：{count} 个",
            "en": "Recovery codes left: {count}",
        },
        "account.totp.new_codes": {"zh-CN": "生成新的恢复码", "en": "New recovery codes"},
        "account.totp.disable": {"zh-CN": "关闭两步验证", "en": "Turn off two-step verification"},
        "account.totp.disabled": {
            "zh-CN": "两步验证已关闭。",
            "en": "Two-step verification is off.",
        },
        "account.totp.scan": {
            "zh-CN": "用身份验证器应用（如手机上的验证器）扫描下面的二维码，"
            "然后输入它显示的 6 位动态码。",
            "en": "Scan the QR code with an authenticator app, then enter the 6-digit code "
            "it shows.",
        },
        "account.totp.manual": {
            "zh-CN": "无法扫码时，可手动输入密钥：",
            "en": "If you cannot scan, enter this key by hand:",
        },
        "account.totp.qr_alt": {
            "zh-CN": "两步验证二维码",
            "en": "QR code for two-step verification",
        },
        "account.totp.code": {"zh-CN": "6 位动态码", "en": "6-digit code"},
        "account.totp.confirm": {"zh-CN": "确认开启", "en": "Confirm"},
        "account.totp.restart": {"zh-CN": "换一个二维码", "en": "Show a new QR code"},
        "account.totp.wrong_code": {
            "zh-CN": "动态码不正确，请检查手机时间后重新输入。",
            "en": "The code is not right. Check your phone's clock and try again.",
        },
        "account.totp.replacing": {
            "zh-CN": "确认后，新的身份验证器将替换原来的，原有恢复码作废。",
            "en": "Once confirmed, the new authenticator replaces the old one and the old "
            "recovery codes stop working.",
        },
        "account.codes.title": {"zh-CN": "恢复码", "en": "Recovery codes"},
        "account.codes.intro": {
            "zh-CN": "请立即抄写或打印并妥善保存这些恢复码。手机丢失时，每个恢复码可代替动态码"
            "使用一次。此页面关闭后将不再显示。",
            "en": "Write these recovery codes down or print them now and keep them safe. If "
            "you lose your phone, each one works once instead of a code. They will not be "
            "shown again.",
        },
        "account.codes.done": {
            "zh-CN": "我已保存，继续",
            "en": "Saved; continue",
        },
        "account.apps": {"zh-CN": "已授权的应用", "en": "Connected apps"},
        "account.apps.none": {
            "zh-CN": "您尚未授权任何应用。",
            "en": "You have not connected any app.",
        },
        "account.apps.scopes": {"zh-CN": "授权范围", "en": "Access"},
        "account.apps.revoke": {"zh-CN": "取消授权", "en": "Revoke"},
        "account.apps.revoked": {
            "zh-CN": "已取消授权，该应用的令牌已作废。",
            "en": "Access revoked; the app's tokens no longer work.",
        },
        "account.apps.unknown": {
            "zh-CN": "没有找到该授权。",
            "en": "No such connected app.",
        },
        "account.app": {"zh-CN": "应用", "en": "App"},
        "account.confirm_password": {
            "zh-CN": "需要输入当前密码：",
            "en": "Your current password is needed:",
        },
    }
)
