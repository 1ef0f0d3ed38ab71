"""The consent and OAuth error pages in a real Chromium (Playwright), zh-CN and English.

The relying party's callback is on another origin (a closed loopback port, answered by
Playwright's router): this proves that the consent form's redirect to the client passes
the page's CSP ``form-action`` (the shell's ``allow_form_action``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.oidc.provider_support import ID_NUMBER, PASSWORD, make_client, make_person

pytestmark = pytest.mark.browser

CALLBACK = "http://127.0.0.1:9/callback"


@pytest.fixture
def console_errors(page: Any) -> list[str]:
    errors: list[str] = []

    def collect(msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(msg.text)

    page.on("console", collect)
    return errors


def _callbacks(page: Any) -> list[str]:
    seen: list[str] = []

    def answer(route: Any) -> None:
        seen.append(route.request.url)
        route.fulfill(status=200, body="callback reached", content_type="text/plain")

    page.route("http://127.0.0.1:9/**", answer)
    return seen


def _authorize_url(base: str, client_id: str, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile phone",
        "state": "browser-state",
        "nonce": "browser-nonce",
        **extra,
    }
    return f"{base}/authorize?" + urlencode(params)


def test_login_consent_and_redirect(
    app: Any, live_server: str, page: Any, console_errors: list[str]
) -> None:
    make_person(app)
    client_id, _ = make_client(app, redirect_uris=[CALLBACK], client_name="浏览器测试应用")
    seen = _callbacks(page)
    page.goto(_authorize_url(live_server, client_id))
    page.fill("#login", ID_NUMBER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#consent-allow")
    assert page.locator("h1").first.inner_text() == "授权确认"
    assert "浏览器测试应用" in page.locator("#consent-intro").inner_text()
    scopes = page.locator("#consent-scopes li").all_inner_texts()
    assert any("手机号码" in s for s in scopes) and any("姓名" in s for s in scopes)
    page.click("#consent-allow")
    page.wait_for_url(CALLBACK + "?**")
    query = parse_qs(urlsplit(seen[-1]).query)
    assert query["state"] == ["browser-state"] and query["code"][0]
    assert query["iss"] == ["http://127.0.0.1:5000"]
    assert console_errors == []


def test_deny_in_english(app: Any, live_server: str, page: Any, console_errors: list[str]) -> None:
    make_person(app)
    client_id, _ = make_client(app, redirect_uris=[CALLBACK], client_name="Browser RP")
    seen = _callbacks(page)
    page.goto(_authorize_url(live_server, client_id) + "&lang=en")
    page.fill("#login", ID_NUMBER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#consent-deny")
    assert page.locator("h1").first.inner_text() == "Allow access"
    page.click("#consent-deny")
    page.wait_for_url(CALLBACK + "?**")
    assert parse_qs(urlsplit(seen[-1]).query)["error"] == ["access_denied"]
    assert console_errors == []


def test_error_page_for_unregistered_redirect_uri(
    app: Any, live_server: str, page: Any, console_errors: list[str]
) -> None:
    client_id, _ = make_client(app, redirect_uris=[CALLBACK])
    seen = _callbacks(page)
    url = _authorize_url(live_server, client_id, redirect_uri="http://127.0.0.1:9/callback/x")
    response = page.goto(url)
    assert response.status == 400
    assert page.locator("#error-code").inner_text() == "invalid_request"
    assert "回调地址" in page.locator("#error-text").inner_text()
    assert seen == []
    page.goto(_authorize_url(live_server, "no-such-client") + "&lang=en")
    assert page.locator("#error-code").inner_text() == "invalid_client"
    assert "not registered" in page.locator("#error-text").inner_text()
