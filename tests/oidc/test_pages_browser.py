"""The accounts pages in a real Chromium (Playwright): login, lockout, TOTP, organisations."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from tests.oidc.accounts_support import ID1, PASSWORD, PHONE, make_org, make_person

pytestmark = pytest.mark.browser


@pytest.fixture
def console_errors(page):
    """Console errors seen by the page (CSP violations, script errors); must stay empty.

    Chromium also logs every 4xx page load ("Failed to load resource"); the lockout page
    answers 429 on purpose, so those are not counted.
    """
    errors: list[str] = []

    def collect(msg):
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(msg.text)

    page.on("console", collect)
    return errors


def _login(page, base, login_id=ID1, password=PASSWORD):
    page.goto(f"{base}/login?next=/account")
    page.fill("#login", login_id)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_login_and_account_page(app, live_server, page, console_errors):
    make_person(app)
    _login(page, live_server)
    page.wait_for_url(f"{live_server}/account")
    assert page.locator("h1").first.inner_text() == "我的账户"
    assert page.locator("#profile-name").inner_text() == "张三"
    assert ID1 not in page.content()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["authority_sso"]["httpOnly"] and cookies["authority_sso"]["sameSite"] == "Lax"
    assert console_errors == []


def test_wrong_password_then_lockout(app, live_server, page, console_errors):
    make_person(app)
    _login(page, live_server, PHONE, "not my password")
    assert page.locator("#login-error").inner_text() == "账号或密码不正确。"
    # The login field keeps what was typed; the password field does not.
    assert page.input_value("#login") == PHONE and page.input_value("#password") == ""
    for _ in range(4):
        page.fill("#password", "still not it")
        page.click("button[type=submit]")
    assert "已暂时锁定" in page.locator("#login-error").inner_text()
    assert "1 分钟" in page.locator("#login-error").inner_text()
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    assert "已暂时锁定" in page.locator("#login-error").inner_text()
    assert console_errors == []


def test_totp_enrolment_then_mfa_login(app, live_server, page, browser, console_errors):
    make_person(app)
    _login(page, live_server)
    page.wait_for_url(f"{live_server}/account")
    page.click("#totp-setup")
    page.wait_for_url(f"{live_server}/account/totp")
    qr = page.locator("#totp-qr")
    assert qr.get_attribute("src").startswith("data:image/png;base64,")
    assert qr.evaluate("img => img.naturalWidth") > 100  # the browser decoded the PNG
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z0-9]{5}-[a-z0-9]{5}", c) for c in codes)

    # A new browser (no session) now needs the code after the password.
    other = browser.new_context(locale="zh-CN")
    try:
        second = other.new_page()
        _login(second, live_server)
        second.wait_for_url(re.compile(r".*/login/mfa.*"))
        assert second.locator("h1").inner_text() == "两步验证"
        second.fill("#code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
        second.click("button[type=submit]")
        assert "验证码不正确" in second.locator("#mfa-error").inner_text()
        # The enrolment used this time step's code, which is never accepted twice; the
        # next step's code is within the ±1 step window.
        second.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
        second.click("button[type=submit]")
        second.wait_for_url(f"{live_server}/account")
        assert "剩余恢复码：10 个" in second.content()
    finally:
        other.close()
    assert console_errors == []


def test_organisation_choice(app, live_server, page, console_errors):
    person_id = make_person(app)
    make_org(app, person_id)
    _login(page, live_server)
    page.wait_for_url(re.compile(r".*/login/organisation.*"))
    assert page.locator("h1").inner_text() == "选择办事身份"
    page.get_by_label(re.compile("北京示例科技有限公司")).check()
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/account")
    assert "北京示例科技有限公司" in page.locator("#acting-for").inner_text()
    assert console_errors == []


def test_language_switch_to_english(app, live_server, page, console_errors):
    make_person(app)
    page.goto(f"{live_server}/login")
    assert page.locator("h1").inner_text() == "登录"
    page.click("text=English")
    assert page.locator("h1").inner_text() == "Log in"
    page.fill("#login", ID1)
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    assert "password is incorrect" in page.locator("#login-error").inner_text()
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/account"))
    assert page.locator("h1").first.inner_text() == "My account"
    assert console_errors == []


def test_account_password_change(app, live_server, page, console_errors):
    make_person(app)
    _login(page, live_server)
    page.wait_for_url(f"{live_server}/account")
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "my new passphrase")
    page.fill("#confirm_password", "my new passphrase")
    page.click("#password-form button[type=submit]")
    page.wait_for_url(f"{live_server}/account")
    assert "密码已修改" in page.locator(".flash-success").inner_text()
    page.context.clear_cookies()
    _login(page, live_server, ID1, PASSWORD)
    assert page.locator("#login-error").is_visible()
    page.fill("#password", "my new passphrase")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/account")
    assert console_errors == []
