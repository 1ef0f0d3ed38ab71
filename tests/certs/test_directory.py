"""我的证照 (GET /licenses), QR images, the printable page and reminder subscriptions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from certs.reminder_models import ReminderSubscription
from tests.certs.conftest import (
    DEPT_CODE,
    ORG_CODE,
    OTHER_DEPT_CODE,
    PERSON_ID,
    count,
    id_number,
    org_body,
    person_body,
)
from tests.certs.holder_support import (
    department_token,
    hidden_fields,
    issue,
    license_row,
    login,
    make_agent,
    make_person,
)
from tests.certs.qr_decode import decode_png, error_correction_of
from tests.certs.test_reminders import opened, stored_rows

OTHER_ID = id_number("35010219850101002")


def utcnow() -> Any:
    from authority.db import utcnow as now

    return now()


@pytest.fixture
def holder(app: Any, runner: Any, setup_dept: str) -> Any:
    """张三, agent of 福州示例科技有限公司, logged in; with one license each."""
    make_person(app, runner, PERSON_ID)
    make_agent(app, runner, PERSON_ID, ORG_CODE)
    http = app.test_client()
    login(http, PERSON_ID)
    http.own = issue(app)  # type: ignore[attr-defined]
    http.org = issue(app, org_body())  # type: ignore[attr-defined]
    return http


def test_anonymous_visitor_is_sent_to_login(client: Any, setup_dept: str) -> None:
    response = client.get("/licenses")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?")
    assert "next=%2Flicenses" in response.headers["Location"]


def test_login_comes_back_to_the_directory(app: Any, runner: Any, setup_dept: str) -> None:
    make_person(app, runner, PERSON_ID)
    http = app.test_client()
    response = login(http, PERSON_ID, next_url="/licenses")
    assert response.headers["Location"].endswith("/licenses")


def test_person_sees_own_and_organisation_licenses(app: Any, holder: Any) -> None:
    stranger = issue(app, person_body(holder={"id": OTHER_ID, "name": "王五"}))
    html = holder.get("/licenses").get_data(as_text=True)
    assert "我的证照" in html
    assert holder.own in html and holder.org in html
    assert stranger not in html and "王五" not in html
    assert "本人证照" in html and "单位证照：福州示例科技有限公司" in html
    assert PERSON_ID[:6] + "********" + PERSON_ID[-4:] in html
    assert PERSON_ID not in html  # the full number never reaches the page
    assert "职业资格证书" in html and "营业执照" in html
    assert "电工" in html and "有效" in html
    assert f"/licenses/{holder.own}/qr.svg" in html
    assert f"/licenses/{holder.own}/qr.png?download=1" in html
    assert f"/licenses/{holder.own}/print" in html
    assert 'id="reminder-banner"' not in html  # 365 days left


def test_status_and_expiry_are_shown(app: Any, holder: Any) -> None:
    from tests.certs.holder_support import change_status

    change_status(app, holder.own, "suspend")
    html = holder.get("/licenses").get_data(as_text=True)
    assert 'data-status="suspended"' in html and "暂停使用" in html
    expires = license_row(app, holder.own).expires_at.date().isoformat()
    assert expires in html
    assert "长期有效" in html  # the business license has no expiry


def test_english(holder: Any) -> None:
    html = holder.get("/licenses?lang=en").get_data(as_text=True)
    assert "My licenses" in html and "Qualification certificate" in html
    assert "Organisation licenses" in html


def test_field_labels_are_the_schema_titles_in_the_page_language(
    app: Any, runner: Any, make_department: Any, make_type: Any
) -> None:
    titled = {
        "type": "object",
        "properties": {
            "qualification": {"type": "string", "title": "职业资格", "x-title-en": "Qualification"},
            "level": {"type": "integer", "title": "等级"},  # no English title
        },
    }
    make_department()
    make_type("QUALCERT", schema=titled)
    make_person(app, runner, PERSON_ID)
    http = app.test_client()
    login(http, PERSON_ID)
    identifier = issue(app)
    for path in ("/licenses", f"/licenses/{identifier}/print"):
        zh = http.get(path + "?lang=zh-CN").get_data(as_text=True)
        assert "<dt>职业资格</dt>" in zh and "<dt>等级</dt>" in zh
        assert "<dt>qualification</dt>" not in zh and "<dt>level</dt>" not in zh
        en = http.get(path + "?lang=en").get_data(as_text=True)
        # The English title; without one, the field's own name rather than Chinese.
        assert "<dt>Qualification</dt>" in en and "<dt>level</dt>" in en
        assert "职业资格" not in en and "等级" not in en


def test_reminder_banner_for_licenses_expiring_soon(app: Any, holder: Any) -> None:
    soon = issue(app, now=utcnow() - timedelta(days=355))  # ten days left
    html = holder.get("/licenses").get_data(as_text=True)
    assert 'id="reminder-banner"' in html
    assert "以下证照将在 30 天内到期" in html
    banner = html[html.index('id="reminder-banner"') : html.index("</section>")]
    assert soon in banner and holder.own not in banner
    assert "还剩 10 天" in banner
    # The window is a setting.
    from certs.settings import CertsSettings

    app.extensions["certs.settings"] = CertsSettings(reminder_days=7)
    assert 'id="reminder-banner"' not in holder.get("/licenses").get_data(as_text=True)


def test_qr_png_and_svg_for_the_holder(app: Any, holder: Any) -> None:
    text = license_row(app, holder.own).qr_text
    png = holder.get(f"/licenses/{holder.own}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.headers["Cache-Control"] == "private, no-store"
    assert png.headers["Content-Disposition"].startswith("inline")
    assert decode_png(png.data) == text
    assert error_correction_of(png.data) == "M"
    svg = holder.get(f"/licenses/{holder.own}/qr.svg?download=1")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.headers["Content-Disposition"] == f'attachment; filename="{holder.own}.svg"'
    assert svg.data.lstrip().startswith(b"<?xml")
    # The organisation's license too (the person is its agent).
    org_png = holder.get(f"/licenses/{holder.org}/qr.png?ec=H&size=4")
    assert decode_png(org_png.data) == license_row(app, holder.org).qr_text
    assert error_correction_of(org_png.data) == "H"


@pytest.mark.parametrize("query", ["ec=X", "size=1", "size=big"])
def test_bad_qr_options_are_refused(holder: Any, query: str) -> None:
    response = holder.get(f"/licenses/{holder.own}/qr.png?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "urn:authority:problem:invalid-qr-options"


def test_qr_is_no_enumeration_oracle(app: Any, runner: Any, holder: Any) -> None:
    """Someone else's license and a license that does not exist look the same."""
    make_person(app, runner, OTHER_ID, "王五")
    other = app.test_client()
    login(other, OTHER_ID)
    mine = other.get(f"/licenses/{holder.own}/qr.png")
    missing = other.get("/licenses/QUALCERT-NOPE/qr.png")
    assert mine.status_code == missing.status_code == 404
    assert other.get(f"/licenses/{holder.own}/print").status_code == 404
    anonymous = app.test_client().get(f"/licenses/{holder.own}/qr.svg")
    assert anonymous.status_code == 302 and "/login?" in anonymous.headers["Location"]


def test_qr_for_the_issuing_department_token(
    app: Any, runner: Any, holder: Any, make_department: Any
) -> None:
    http = app.test_client()
    token = department_token(app, runner, http, DEPT_CODE, "licenses:issue")
    ok = http.get(f"/licenses/{holder.own}/qr.png", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert decode_png(ok.data) == license_row(app, holder.own).qr_text
    make_department(OTHER_DEPT_CODE, "省人力资源和社会保障厅")
    other = department_token(app, runner, http, OTHER_DEPT_CODE, "licenses:issue")
    refused = http.get(
        f"/licenses/{holder.own}/qr.png", headers={"Authorization": f"Bearer {other}"}
    )
    assert refused.status_code == 404
    assert refused.mimetype == "application/problem+json"
    bad = http.get(f"/licenses/{holder.own}/qr.png", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert "invalid_token" in bad.headers["WWW-Authenticate"]


def test_printable_page(app: Any, holder: Any) -> None:
    response = holder.get(f"/licenses/{holder.own}/print")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert holder.own in html and 'id="print-button"' in html
    assert "directory.js" in html and "certs.css" in html
    assert "/verify" in html


def test_reminder_subscription(app: Any, holder: Any) -> None:
    page = holder.get("/licenses").get_data(as_text=True)
    fields = hidden_fields(page)
    response = holder.post(
        "/licenses/reminders",
        data={**fields, "email": "zhang.san@example.cn", "action": "subscribe"},
    )
    assert response.status_code == 302
    # One row per holder shown on the page: the person and the organisation.
    assert count(app, ReminderSubscription) == 2
    page = holder.get("/licenses").get_data(as_text=True)
    assert "提醒将发送至 zhang.san@example.cn" in page and "已保存提醒邮箱" in page
    # A bad address changes nothing.
    holder.post("/licenses/reminders", data={**fields, "email": "not-an-address"})
    page = holder.get("/licenses").get_data(as_text=True)
    assert "电子邮箱格式不正确" in page
    # Stored encrypted: nothing of the address in either column's bytes.
    rows = stored_rows(app)
    assert [clear for clear, _ in rows] == [None, None]
    assert all(b"zhang.san" not in cipher and b"example.cn" not in cipher for _, cipher in rows)
    assert {opened(app, cipher) for _, cipher in rows} == {"zhang.san@example.cn"}
    holder.post(
        "/licenses/reminders",
        data={**fields, "email": "zhang.san@example.org", "action": "subscribe"},
    )
    assert "提醒将发送至 zhang.san@example.org" in holder.get("/licenses").get_data(as_text=True)
    assert {opened(app, cipher) for _, cipher in stored_rows(app)} == {"zhang.san@example.org"}
    holder.post("/licenses/reminders", data={**fields, "action": "unsubscribe"})
    assert count(app, ReminderSubscription) == 0


def test_a_legacy_clear_address_is_shown_and_sealed(app: Any, holder: Any) -> None:
    from tests.certs.test_reminders import subscribe_in_clear

    subscribe_in_clear(app, PERSON_ID, "legacy@example.cn")
    page = holder.get("/licenses").get_data(as_text=True)
    assert "提醒将发送至 legacy@example.cn" in page
    # Reading it sealed it.
    [(clear, cipher)] = stored_rows(app)
    assert clear is None and opened(app, cipher) == "legacy@example.cn"
    assert "提醒将发送至 legacy@example.cn" in holder.get("/licenses").get_data(as_text=True)


def test_changing_a_legacy_address_seals_the_new_one(app: Any, holder: Any) -> None:
    from tests.certs.test_reminders import subscribe_in_clear

    subscribe_in_clear(app, PERSON_ID, "legacy@example.cn")
    fields = hidden_fields(holder.get("/licenses").get_data(as_text=True))
    subscribe_in_clear(app, ORG_CODE, "legacy-org@example.cn")  # not read before the change
    holder.post(
        "/licenses/reminders", data={**fields, "email": "new@example.cn", "action": "subscribe"}
    )
    rows = stored_rows(app)
    assert [clear for clear, _ in rows] == [None, None]
    assert {opened(app, cipher) for _, cipher in rows} == {"new@example.cn"}


def test_subscription_needs_the_csrf_token(app: Any, holder: Any) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    response = holder.post("/licenses/reminders", data={"email": "a@example.cn"})
    assert response.status_code == 400
    assert count(app, ReminderSubscription) == 0
