"""GET /verify in a real Chromium: paste, upload a QR photo, revoked in red, languages,
and a clear message when the server cannot be reached."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from certs import qr
from tests.certs.holder_support import change_status, issue, license_row


def is_red(css_colour: str) -> bool:
    """A strong red (authority.css --bad), whatever its exact shade."""
    r, g, b = (int(v) for v in css_colour.removeprefix("rgb(").rstrip(")").split(",")[:3])
    return r >= 140 and g <= 70 and b <= 70


@pytest.fixture
def licensed(app: Any, setup_dept: str) -> tuple[str, str]:
    ident = issue(app)
    return ident, license_row(app, ident).qr_text


def paste_and_verify(page: Any, text: str) -> Any:
    page.fill("#qr-text", text)
    page.click("#verify-button")
    verdict = page.locator("#verdict")
    verdict.wait_for(state="visible")
    return verdict


def background(page: Any, selector: str) -> str:
    return str(page.eval_on_selector(selector, "e => getComputedStyle(e).backgroundColor"))


def test_pasted_text_gives_a_valid_verdict(
    page: Any, live_server: str, licensed: tuple[str, str]
) -> None:
    ident, text = licensed
    page.goto(f"{live_server}/verify")
    assert page.locator("h1").inner_text() == "电子证照核验"
    verdict = paste_and_verify(page, text)
    assert verdict.get_attribute("data-state") == "valid"
    assert "verdict-valid" in (verdict.get_attribute("class") or "")
    assert page.inner_text("#verdict-word") == "有效"
    assert "在线状态" in page.inner_text("#verdict-explanation")
    fields = page.inner_text("#verdict-fields")
    assert ident in fields and "张三" in fields and "职业资格证书" in fields
    assert "省市场监督管理局" in fields and "电工" in fields
    # Green, and not the red of a refusal.
    assert not is_red(background(page, "#verdict .verdict-banner"))


def test_stop_scanning_is_hidden_until_the_camera_runs(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/verify")
    assert page.locator("#camera-start").is_visible()
    assert not page.locator("#camera-stop").is_visible()


def test_fields_are_labelled_in_the_page_language(
    app: Any, page: Any, live_server: str, make_department: Any, make_type: Any
) -> None:
    from tests.certs.test_verify_api import TITLED_SCHEMA

    make_department()
    make_type("QUALCERT", schema=TITLED_SCHEMA)
    text = license_row(app, issue(app)).qr_text
    for lang, label in (("zh-CN", "职业资格"), ("en", "Qualification")):
        page.goto(f"{live_server}/verify?lang={lang}")
        paste_and_verify(page, text)
        labels = page.locator("#verdict-fields dt").all_inner_texts()
        assert label in labels and "level" in labels and "qualification" not in labels


def photo_of(text: str, tmp_path: Path, *, angle: float = 0.0) -> Path:
    """A QR PNG, optionally scaled and rotated a little like a phone photo."""
    image = Image.open(io.BytesIO(qr.render_png(text, qr.RenderOptions(box_size=6))))
    image = image.convert("RGB")
    if angle:
        image = image.rotate(angle, expand=True, fillcolor=(240, 240, 235))
        image = image.resize((int(image.width * 1.3), int(image.height * 1.3)))
    path = tmp_path / "qr-photo.png"
    image.save(path)
    return path


@pytest.mark.parametrize("angle", [0.0, 4.0])
def test_uploaded_qr_image_gives_a_verdict(
    page: Any, live_server: str, licensed: tuple[str, str], tmp_path: Path, angle: float
) -> None:
    ident, text = licensed
    page.goto(f"{live_server}/verify")
    page.set_input_files("#qr-file", str(photo_of(text, tmp_path, angle=angle)))
    verdict = page.locator("#verdict")
    verdict.wait_for(state="visible")
    assert verdict.get_attribute("data-state") == "valid"
    assert page.input_value("#qr-text") == text  # decoded in the browser by jsQR
    assert ident in page.inner_text("#verdict-fields")


def test_image_without_a_qr_code_says_so(page: Any, live_server: str, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 120), (255, 255, 255)).save(blank)
    page.goto(f"{live_server}/verify")
    page.set_input_files("#qr-file", str(blank))
    message = page.locator("#verify-message")
    message.wait_for(state="visible")
    assert "未找到二维码" in message.inner_text()
    assert page.locator("#verdict").is_hidden()


def test_revoked_license_is_shown_in_red(
    app: Any, page: Any, live_server: str, licensed: tuple[str, str]
) -> None:
    ident, text = licensed
    change_status(app, ident, "revoke", "fraud")
    page.goto(f"{live_server}/verify")
    verdict = paste_and_verify(page, text)
    assert verdict.get_attribute("data-state") == "revoked"
    assert "verdict-invalid" in (verdict.get_attribute("class") or "")
    assert page.inner_text("#verdict-word") == "无效"
    assert "吊销" in page.inner_text("#verdict-explanation")
    assert is_red(background(page, "#verdict .verdict-banner"))
    # The icon is a cross, drawn by CSS.
    icon = page.eval_on_selector(
        "#verdict .verdict-icon", "e => getComputedStyle(e, '::before').content"
    )
    assert "✗" in icon


def test_malformed_text_is_a_red_verdict(page: Any, live_server: str, setup_dept: str) -> None:
    page.goto(f"{live_server}/verify")
    verdict = paste_and_verify(page, "HELLO WORLD")
    assert verdict.get_attribute("data-state") == "malformed"
    assert is_red(background(page, "#verdict .verdict-banner"))
    assert page.inner_text("#verdict-fields") == ""


def test_language_switch(page: Any, live_server: str, licensed: tuple[str, str]) -> None:
    _, text = licensed
    page.goto(f"{live_server}/verify")
    page.click("a[hreflang='en']")
    page.wait_for_url("**/verify?lang=en")
    assert page.locator("h1").inner_text() == "Verify an e-license"
    assert page.locator("html").get_attribute("lang") == "en"
    verdict = paste_and_verify(page, text)
    assert page.inner_text("#verdict-word") == "VALID"
    assert "online status" in page.inner_text("#verdict-explanation")
    fields = page.inner_text("#verdict-fields")
    assert "Qualification certificate" in fields and "License number" in fields
    assert verdict.get_attribute("data-state") == "valid"
    # The choice sticks (cookie): the next visit without ?lang is English too.
    page.goto(f"{live_server}/verify")
    assert page.locator("h1").inner_text() == "Verify an e-license"
    page.click("a[hreflang='zh-CN']")
    assert page.locator("h1").inner_text() == "电子证照核验"


def test_unreachable_server_says_offline(
    page: Any, live_server: str, licensed: tuple[str, str]
) -> None:
    page.goto(f"{live_server}/verify")
    page.route("**/api/v1/verify", lambda route: route.abort("internetdisconnected"))
    page.fill("#qr-text", licensed[1])
    page.click("#verify-button")
    message = page.locator("#verify-message.verify-message-offline")
    message.wait_for(state="visible")
    assert "离线" in message.inner_text() and "无法连接" in message.inner_text()
    assert page.locator("#verdict").is_hidden()


def test_page_loads_no_inline_code_and_breaks_no_csp(
    page: Any, live_server: str, setup_dept: str
) -> None:
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server}/verify")
    assert page.evaluate("typeof jsQR") == "function"
    assert violations == []


def test_page_opens_offline_after_the_first_visit(
    page: Any, live_server: str, licensed: tuple[str, str]
) -> None:
    """The service worker keeps the page and its files; a verdict still needs the server."""
    page.goto(f"{live_server}/verify")
    page.wait_for_function(
        "navigator.serviceWorker.ready.then(() => true)", polling=100, timeout=15_000
    )
    page.reload()  # now controlled by the worker
    assert page.evaluate("!!navigator.serviceWorker.controller")
    page.context.set_offline(True)
    try:
        page.reload()
        assert page.locator("h1").inner_text() == "电子证照核验"
        assert page.evaluate("typeof jsQR") == "function"
        page.fill("#qr-text", licensed[1])
        page.click("#verify-button")
        message = page.locator("#verify-message.verify-message-offline")
        message.wait_for(state="visible")
        assert "离线" in message.inner_text()
        assert page.locator("#verdict").is_hidden()
    finally:
        page.context.set_offline(False)


def test_service_worker_script(client: Any, setup_dept: str) -> None:
    response = client.get("/verify-sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    script = response.get_data(as_text=True)
    assert "__ASSETS__" not in script and "__CACHE_NAME__" not in script
    assert '"/verify"' in script and "jsQR.js" in script and "authority-verify-" in script
    assert response.headers["Cache-Control"] == "no-cache"
