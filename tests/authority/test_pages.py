"""The shared layout, home page, language switch and error pages, in a real Chromium."""

import threading

import pytest
from flask import redirect, render_template_string
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from authority.web import allow_form_action


def test_home_is_chinese_first(client):
    text = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-Hans-CN">' in text and "统一身份认证与电子证照" in text


def test_accept_language_and_cookie_choose_english(client):
    r = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"})
    assert "Unified Identity and E-Licenses" in r.get_data(as_text=True)
    r = client.get("/?lang=en", headers={"Accept-Language": "zh-CN"})
    assert "lang=en" in r.headers["Set-Cookie"]
    # The cookie now wins over Accept-Language.
    r = client.get("/", headers={"Accept-Language": "zh-CN"})
    assert "Unified Identity and E-Licenses" in r.get_data(as_text=True)
    assert "Accept-Language" in r.headers["Vary"]


def test_home_links_to_the_package_pages(client):
    text = client.get("/").get_data(as_text=True)
    # oidc/ serves login and account, certs/ my licenses (/licenses) and /verify.
    for path in ("/login", "/licenses", "/verify"):
        assert f'href="{path}"' in text
    assert "证照核验" in text and "我的证照" in text


def test_home_links_only_to_pages_that_exist(client):
    text = client.get("/").get_data(as_text=True)
    # /licenses is routed, its alternatives /my/licenses and /me/licenses are not.
    assert 'href="/licenses"' in text
    assert 'href="/my/licenses"' not in text and 'href="/me/licenses"' not in text


def test_flash_messages_render_in_the_layout(app, client):
    from flask import flash, render_template

    @app.get("/flashy")
    def flashy():
        flash("已保存", "success")
        flash("<b>not html</b>", "error")
        return render_template("home.html", links=[])

    text = client.get("/flashy").get_data(as_text=True)
    assert '<p class="flash flash-success"' in text and "已保存" in text
    assert 'role="alert">&lt;b&gt;not html&lt;/b&gt;</p>' in text  # escaped


def test_language_links_keep_the_query(client):
    text = client.get("/?next=%2Faccount").get_data(as_text=True)
    assert 'href="/?next=%2Faccount&amp;lang=en"' in text


@pytest.mark.browser
def test_home_page_and_language_switch_in_chromium(live_server, page):
    violations = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    page.goto(live_server + "/")
    assert page.locator("html").get_attribute("lang") == "zh-Hans-CN"
    assert page.locator("h1").inner_text() == "统一身份认证与电子证照"
    # The stylesheet loaded under the CSP: the header has its red background.
    header_bg = page.locator(".site-header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert header_bg == "rgb(179, 38, 30)"
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**lang=en")
    assert page.locator("h1").inner_text() == "Unified Identity and E-Licenses"
    assert page.locator('.language-switch a[aria-current="true"]').inner_text() == "English"
    # The choice sticks (cookie) without the query parameter.
    page.goto(live_server + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="中文").click()
    page.wait_for_url("**lang=zh-CN")
    assert page.locator("h1").inner_text() == "统一身份认证与电子证照"
    assert violations == []


@pytest.mark.browser
def test_error_page_and_mobile_layout_in_chromium(live_server, page):
    page.set_viewport_size({"width": 360, "height": 740})
    response = page.goto(live_server + "/no-such-page")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "页面不存在"
    page.get_by_role("link", name="返回首页").click()
    page.wait_for_url(live_server + "/")
    overflow = page.evaluate(
        "document.scrollingElement.scrollWidth > document.scrollingElement.clientWidth"
    )
    assert overflow is False  # nothing wider than a phone screen


@pytest.fixture
def other_origin():
    """A second server on another port (another origin), standing in for an OAuth client."""
    hits = []

    def client_app(environ, start_response):
        hits.append(environ["PATH_INFO"])
        return Response("<h1>arrived at the client</h1>", mimetype="text/html")(
            environ, start_response
        )

    server = make_server("127.0.0.1", 0, client_app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    thread.join(timeout=10)


@pytest.mark.browser
def test_form_post_redirecting_to_another_origin(app, other_origin, page):
    """Chromium applies form-action to redirects after a POST: the consent page must
    allow the client's origin, and without that the redirect is blocked."""
    from werkzeug.serving import make_server as make

    client_url, hits = other_origin
    form = (
        '<form method="post" action="/test/decide">'
        '<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">'
        "<button>同意</button></form>"
    )

    @app.get("/test/consent-allowed")
    def consent_allowed():
        allow_form_action(client_url + "/cb")
        return render_template_string(form)

    @app.get("/test/consent-plain")
    def consent_plain():
        return render_template_string(form)

    @app.post("/test/decide")
    def decide():
        return redirect(client_url + "/cb?code=abc", code=303)

    server = make("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        page.goto(base + "/test/consent-allowed")
        page.get_by_role("button", name="同意").click()
        page.wait_for_url(client_url + "/cb?code=abc")
        assert page.locator("h1").inner_text() == "arrived at the client"
        assert hits.count("/cb") == 1

        page.goto(base + "/test/consent-plain")
        with page.expect_console_message(lambda m: "form-action" in m.text):
            page.get_by_role("button", name="同意").click()
        assert hits.count("/cb") == 1  # the client was never reached the second time
    finally:
        server.shutdown()
        thread.join(timeout=10)
