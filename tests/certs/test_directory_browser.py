"""我的证照 in a real Chromium: log in through the OpenID provider's login page, see the
licenses with their QR codes, download one, print, switch language."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.certs.conftest import ORG_CODE, PERSON_ID, org_body
from tests.certs.holder_support import PASSWORD, issue, license_row, make_agent, make_person
from tests.certs.qr_decode import decode_png, rasterise_svg


@pytest.fixture
def holder(app: Any, runner: Any, setup_dept: str) -> dict[str, str]:
    from authority.db import utcnow

    make_person(app, runner, PERSON_ID)
    make_agent(app, runner, PERSON_ID, ORG_CODE)
    return {
        "own": issue(app),
        "org": issue(app, org_body()),
        "soon": issue(app, now=utcnow() - timedelta(days=360)),  # five days left
    }


def log_in(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/licenses")
    # Not logged in: the directory sends the browser to the provider's login page.
    page.wait_for_url("**/login?**")
    page.fill("#login", PERSON_ID)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if "/login/organisation" in page.url:
        # An agent chooses whom to act as; the directory shows both either way.
        page.check("#act-self")
        page.click("button[type=submit]")
    page.wait_for_url("**/licenses")


def test_login_then_licenses_with_qr_codes(
    app: Any, page: Any, live_server: str, holder: dict[str, str]
) -> None:
    log_in(page, live_server)
    assert page.locator("h1").inner_text() == "我的证照"
    own = page.locator(f"#license-{holder['own']}")
    org = page.locator(f"[data-holder=organisation] #license-{holder['org']}")
    assert own.is_visible() and org.is_visible()
    assert "职业资格证书" in own.inner_text() and "有效" in own.inner_text()
    assert "营业执照" in org.inner_text()
    # The QR code the page shows reads back (as drawn by Chromium) to the license's text.
    image = own.locator(".license-qr img")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    # The same image drawn larger, on top of the page (in the card it has about 3 px
    # per module, a marginal read for a screenshot); CSSOM changes pass the CSP.
    image.evaluate(
        "img => Object.assign(img.style, {position: 'fixed', top: '0', left: '0',"
        " width: '480px', height: '480px', zIndex: '1000', background: '#fff'})"
    )
    page.wait_for_timeout(100)
    assert decode_png(image.screenshot()) == license_row(app, holder["own"]).qr_text
    # The banner for the license expiring in five days.
    banner = page.locator("#reminder-banner")
    assert banner.is_visible()
    assert holder["soon"] in banner.inner_text() and "还剩 5 天" in banner.inner_text()
    assert holder["own"] not in banner.inner_text()


def test_download_png_and_svg(
    app: Any, page: Any, live_server: str, holder: dict[str, str], browser: Any
) -> None:
    log_in(page, live_server)
    card = page.locator(f"#license-{holder['own']}")
    with page.expect_download() as info:
        card.locator("a.download-png").click()
    download = info.value
    assert download.suggested_filename == f"{holder['own']}.png"
    text = license_row(app, holder["own"]).qr_text
    with open(download.path(), "rb") as f:
        assert decode_png(f.read()) == text
    with page.expect_download() as info:
        card.locator("a.download-svg").click()
    assert info.value.suggested_filename == f"{holder['own']}.svg"
    with open(info.value.path(), "rb") as f:
        svg = f.read()
    scratch = browser.new_page()
    try:
        assert decode_png(rasterise_svg(scratch, svg)) == text
    finally:
        scratch.close()


def test_printable_page(page: Any, live_server: str, holder: dict[str, str]) -> None:
    log_in(page, live_server)
    page.locator(f"#license-{holder['own']} a.print-link").click()
    page.wait_for_url(f"**/licenses/{holder['own']}/print")
    assert page.locator("#print-button").is_visible()
    assert page.locator(".site-header").is_visible()
    page.emulate_media(media="print")
    # In print: no site chrome, no buttons; the license and its QR code remain.
    assert page.locator(".site-header").is_hidden()
    assert page.locator("#print-button").is_hidden()
    assert page.locator(f"#license-{holder['own']} .license-qr img").is_visible()
    assert page.locator("h1.print-only").is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")


def test_language_switch(page: Any, live_server: str, holder: dict[str, str]) -> None:
    log_in(page, live_server)
    page.click("a[hreflang='en']")
    page.wait_for_url("**/licenses?lang=en")
    assert page.locator("h1").inner_text() == "My licenses"
    card = page.locator(f"#license-{holder['own']}").inner_text()
    assert "Qualification certificate" in card and "Valid" in card
    assert "These licenses expire within 30 days" in page.locator("#reminder-banner").inner_text()


def test_reminder_email_form(app: Any, page: Any, live_server: str, holder: dict[str, str]) -> None:
    log_in(page, live_server)
    page.fill("#reminder-email", "zhang.san@example.cn")
    page.click("#reminders button[value=subscribe]")
    page.wait_for_url("**/licenses")
    assert "提醒将发送至 zhang.san@example.cn" in page.locator("#subscribed-to").inner_text()
    page.click("#reminders button[value=unsubscribe]")
    page.wait_for_url("**/licenses")
    assert page.locator("#subscribed-to").count() == 0
