"""The holder directory (我的证照): a person's licenses, and their organisations'.

Pages (docs/holder-directory.md):

- ``GET /licenses``: after logging in through the OpenID provider, the person's own
  licenses and — for an agent — those of each organisation they act for, with QR code,
  fields, status and expiry, and a reminder banner for licenses expiring within
  ``AUTHORITY_CERTS_REMINDER_DAYS``; a form to get reminders by e-mail.
- ``GET /licenses/<id>/print``: a printable page (print CSS, A4).
- ``GET /licenses/<id>/qr.png`` / ``qr.svg``: the QR image (``?download=1`` for an
  attachment, ``?ec=L|M|Q|H``, ``?size=2..20`` pixels per module for PNG).

Who may fetch a QR image. The QR text carries the holder's name and masked ID number,
and license identifiers are structured (type, issuer, serial), so an open image URL
would let anyone walk serials and harvest names. The image is therefore served only to
(a) the holder's browser session (the person, or an agent of the holding
organisation), (b) a Bearer token of the issuing department (scope ``licenses:issue``;
the issuance API links to these URLs), or (c) a Bearer token with the holder's consent
(scope ``licenses:read`` whose holder ids include the holder). Everyone else gets the
same 404 as for a license that does not exist, so the URL is no existence oracle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from authority import audit, db
from authority.i18n import get_locale, register_messages, t
from authority.problems import Problem, problem_type
from certs import qr
from certs.catalogue import field_label
from certs.holders import holder_index
from certs.models import License
from certs.reminder_models import ReminderSubscription, seal_email, subscription_email
from certs.reminders import days_left, expiring_soon
from certs.settings import certs_settings
from oidc.api import OrgRef, UserInfo, current_token, current_user, login_url, require_oauth

bp = Blueprint("certs_directory", __name__, template_folder="templates")

ISSUE_SCOPE = "licenses:issue"
READ_SCOPE = "licenses:read"
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}")


class LicenseNotFound(Problem):
    status = 404
    title = "No such license"
    type = problem_type("unknown-license")


@dataclass(frozen=True)
class HolderGroup:
    """Licenses of one holder shown on the page: the person, or one organisation."""

    label: str
    organisation: OrgRef | None
    licenses: list[License]


def _login_redirect() -> Response:
    path = request.full_path if request.query_string else request.path
    return redirect(login_url(path))


def _organisations(user: UserInfo) -> list[OrgRef]:
    orgs = list(user.organisations)
    if user.acting_for is not None and all(
        o.credit_code != user.acting_for.credit_code for o in orgs
    ):
        orgs.insert(0, user.acting_for)
    return orgs


def _user_indexes(user: UserInfo) -> set[str]:
    return {holder_index(user.id_number)} | {
        holder_index(o.credit_code) for o in _organisations(user)
    }


def _licenses_of(number: str) -> list[License]:
    return list(
        db.session().scalars(
            sa.select(License)
            .where(License.holder_index == holder_index(number))
            .order_by(License.issued_at.desc(), License.id.desc())
        )
    )


def holder_groups(user: UserInfo) -> list[HolderGroup]:
    groups = [HolderGroup(user.name, None, _licenses_of(user.id_number))]
    for org in _organisations(user):
        groups.append(HolderGroup(org.name, org, _licenses_of(org.credit_code)))
    return groups


def field_rows(lic: License) -> list[tuple[str, str]]:
    """The license's fields with the schema's titles, in the page's language, where it
    has them."""
    schema, locale = lic.license_type.fields_schema, get_locale()
    rows = []
    for name, value in lic.fields.items():
        shown = value if isinstance(value, str) else _plain(value)
        rows.append((field_label(schema, name, locale), shown))
    return rows


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return t("directory.yes") if value else t("directory.no")
    if isinstance(value, list):
        return "、".join(_plain(v) for v in value)
    return str(value)


def display_status(lic: License, now: Any) -> tuple[str, str]:
    """(message key, badge class) of the status a holder sees."""
    if lic.status == "revoked":
        key = "superseded" if lic.superseded_by else "revoked"
        return f"directory.status.{key}", "badge-bad"
    if lic.status == "suspended":
        return "directory.status.suspended", "badge-warn"
    if lic.expires_at is not None and lic.expires_at <= now:
        return "directory.status.expired", "badge-bad"
    return "directory.status.valid", "badge-ok"


def _license_or_404(identifier: str) -> License:
    lic = db.session().scalar(sa.select(License).where(License.identifier == identifier))
    if lic is None:
        abort(404)
    return lic


# ---------------------------------------------------------------- pages


@bp.get("/licenses")
def my_licenses() -> Any:
    user = current_user()
    if user is None:
        return _login_redirect()
    settings = certs_settings()
    now = db.utcnow()
    groups = holder_groups(user)
    expiring = [
        lic
        for group in groups
        for lic in group.licenses
        if expiring_soon(lic, now, settings.reminder_days)
    ]
    session = db.session()
    subscription = session.scalar(
        sa.select(ReminderSubscription).where(
            ReminderSubscription.holder_index == holder_index(user.id_number)
        )
    )
    subscribed_to = None
    if subscription is not None:
        legacy = subscription.legacy_email is not None
        subscribed_to = subscription_email(session, subscription)
        if legacy:
            session.commit()  # the row was re-sealed on reading it
    return render_template(
        "certs/directory.html",
        user=user,
        groups=groups,
        expiring={lic.id for lic in expiring},
        expiring_list=expiring,
        days_left=lambda lic: days_left(lic.expires_at, now),
        field_rows=field_rows,
        status_of=lambda lic: display_status(lic, now),
        reminder_days=settings.reminder_days,
        subscribed_to=subscribed_to,
    )


@bp.get("/licenses/<identifier>/print")
def print_license(identifier: str) -> Any:
    user = current_user()
    if user is None:
        return _login_redirect()
    lic = _license_or_404(identifier)
    if lic.holder_index not in _user_indexes(user):
        abort(404)
    now = db.utcnow()
    return render_template(
        "certs/print.html",
        lic=lic,
        field_rows=field_rows,
        status_of=lambda lic: display_status(lic, now),
    )


@bp.post("/licenses/reminders")
def reminders_subscription() -> Any:
    """Give (or withdraw) the e-mail address for expiry reminders (CSRF-protected form)."""
    user = current_user()
    if user is None:
        return _login_redirect()
    session = db.session()
    indexes = sorted(_user_indexes(user))
    existing = {
        s.holder_index: s
        for s in session.scalars(
            sa.select(ReminderSubscription).where(ReminderSubscription.holder_index.in_(indexes))
        )
    }
    if request.form.get("action") == "unsubscribe":
        for sub in existing.values():
            session.delete(sub)
        audit.record(session, "reminders.unsubscribed", actor=f"person:{user.person_id}")
        session.commit()
        flash(t("directory.unsubscribed"), "success")
        return redirect(url_for("certs_directory.my_licenses"))
    email = (request.form.get("email") or "").strip()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        flash(t("directory.email_invalid"), "error")
        return redirect(url_for("certs_directory.my_licenses"))
    locale = get_locale()
    for index in indexes:
        row = existing.get(index)
        if row is None:
            row = ReminderSubscription(holder_index=index)
            session.add(row)
        # Sealed under the KEK; a legacy clear address in this row is dropped.
        seal_email(row, email)
        row.locale = locale
    # The address is personal data: the audit entry says that, not what.
    audit.record(session, "reminders.subscribed", actor=f"person:{user.person_id}")
    session.commit()
    flash(t("directory.subscribed"), "success")
    return redirect(url_for("certs_directory.my_licenses"))


# ---------------------------------------------------------------- QR images


def _token_may_see(lic: License) -> bool:
    token = current_token()
    if ISSUE_SCOPE in token.scopes and token.department == lic.department.credit_code:
        return True
    if READ_SCOPE in token.scopes:
        return any(holder_index(h) == lic.holder_index for h in token.holder_ids)
    return False


def _render_options() -> qr.RenderOptions:
    try:
        size = int(request.args.get("size", qr.DEFAULT_BOX_SIZE))
        return qr.RenderOptions(
            error_correction=request.args.get("ec", qr.DEFAULT_ERROR_CORRECTION).upper(),
            box_size=size,
        )
    except (ValueError, qr.QRRenderError) as exc:
        message = exc.message if isinstance(exc, qr.QRRenderError) else "size must be a number"
        raise Problem(
            400, "Invalid QR options", message, type=problem_type("invalid-qr-options")
        ) from None


def qr_image(identifier: str, fmt: str) -> Any:
    bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
    session = db.session()
    lic = session.scalar(sa.select(License).where(License.identifier == identifier))
    if bearer:
        # Validate the token first (401/403 problems per RFC 6750), then the license.
        require_oauth()(lambda: None)()
        if lic is None or not _token_may_see(lic):
            raise LicenseNotFound(detail=f"there is no license {identifier!r} for this token")
    else:
        user = current_user()
        if user is None:
            return _login_redirect()
        if lic is None or lic.holder_index not in _user_indexes(user):
            abort(404)
    options = _render_options()
    body = qr.render(lic.qr_text, fmt, options)
    response = Response(body, mimetype=qr.MEDIA_TYPES[fmt])
    if request.args.get("download") in ("1", "true", "yes"):
        response.headers["Content-Disposition"] = f'attachment; filename="{identifier}.{fmt}"'
    else:
        response.headers["Content-Disposition"] = f'inline; filename="{identifier}.{fmt}"'
    # The image carries personal data: never kept by shared caches.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/licenses/<identifier>/qr.png")
def qr_png(identifier: str) -> Any:
    return qr_image(identifier, "png")


@bp.get("/licenses/<identifier>/qr.svg")
def qr_svg(identifier: str) -> Any:
    return qr_image(identifier, "svg")


register_messages(
    {
        "directory.title": {"zh-CN": "我的证照", "en": "My licenses"},
        "directory.intro": {
            "zh-CN": "您本人及您所代理单位的电子证照。出示二维码即可在窗口核验。",
            "en": "Your e-licenses and those of the organisations you act for. Show the QR "
            "code at a service window to have it verified.",
        },
        "directory.own": {"zh-CN": "本人证照", "en": "My own licenses"},
        "directory.organisation": {
            "zh-CN": "单位证照：{name}",
            "en": "Organisation licenses: {name}",
        },
        "directory.role": {"zh-CN": "身份：{role}", "en": "Role: {role}"},
        "directory.empty": {"zh-CN": "暂无证照。", "en": "No licenses yet."},
        "directory.number": {"zh-CN": "证照编号", "en": "License number"},
        "directory.issuer": {"zh-CN": "签发单位", "en": "Issuer"},
        "directory.holder": {"zh-CN": "持证人", "en": "Holder"},
        "directory.holder_id": {"zh-CN": "证件号码", "en": "ID number"},
        "directory.status": {"zh-CN": "状态", "en": "Status"},
        "directory.status.valid": {"zh-CN": "有效", "en": "Valid"},
        "directory.status.suspended": {"zh-CN": "暂停使用", "en": "Suspended"},
        "directory.status.revoked": {"zh-CN": "已吊销", "en": "Revoked"},
        "directory.status.superseded": {"zh-CN": "已换发新版本", "en": "Superseded"},
        "directory.status.expired": {"zh-CN": "已过期", "en": "Expired"},
        "directory.issued_at": {"zh-CN": "签发日期", "en": "Issued"},
        "directory.expires_at": {"zh-CN": "有效期至", "en": "Valid until"},
        "directory.no_expiry": {"zh-CN": "长期有效", "en": "No expiry"},
        "directory.download_png": {"zh-CN": "下载二维码（PNG）", "en": "Download QR (PNG)"},
        "directory.download_svg": {"zh-CN": "下载二维码（SVG）", "en": "Download QR (SVG)"},
        "directory.print": {"zh-CN": "打印", "en": "Print"},
        "directory.qr_alt": {"zh-CN": "证照 {id} 的二维码", "en": "QR code of license {id}"},
        "directory.banner_title": {
            "zh-CN": "以下证照将在 {days} 天内到期",
            "en": "These licenses expire within {days} days",
        },
        "directory.banner_item": {
            "zh-CN": "{name}（{id}）将于 {date} 到期，还剩 {left} 天",
            "en": "{name} ({id}) expires on {date}, in {left} day(s)",
        },
        "directory.expiring_badge": {"zh-CN": "即将到期", "en": "Expires soon"},
        "directory.reminders": {"zh-CN": "到期提醒", "en": "Expiry reminders"},
        "directory.reminders_text": {
            "zh-CN": "留下电子邮箱，证照到期前我们会提醒您（本人及所代理单位的证照）。",
            "en": "Leave an e-mail address and we will remind you before a license expires "
            "(yours and your organisations').",
        },
        "directory.email": {"zh-CN": "电子邮箱", "en": "E-mail address"},
        "directory.subscribe": {"zh-CN": "保存", "en": "Save"},
        "directory.unsubscribe": {"zh-CN": "取消提醒", "en": "Stop reminders"},
        "directory.subscribed_to": {
            "zh-CN": "提醒将发送至 {email}",
            "en": "Reminders go to {email}",
        },
        "directory.subscribed": {"zh-CN": "已保存提醒邮箱。", "en": "Reminder address saved."},
        "directory.unsubscribed": {"zh-CN": "已取消到期提醒。", "en": "Reminders stopped."},
        "directory.email_invalid": {
            "zh-CN": "电子邮箱格式不正确，未保存。",
            "en": "That is not a valid e-mail address; nothing was saved.",
        },
        "directory.print_title": {"zh-CN": "电子证照打印件", "en": "E-license printout"},
        "directory.print_note": {
            "zh-CN": "本打印件的效力以二维码核验结果为准。核验地址：{url}",
            "en": "This printout is only as good as its QR verification at {url}.",
        },
        "directory.back": {"zh-CN": "返回我的证照", "en": "Back to my licenses"},
        "directory.yes": {"zh-CN": "是", "en": "yes"},
        "directory.no": {"zh-CN": "否", "en": "no"},
    }
)
