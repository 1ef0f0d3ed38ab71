"""Security headers on every response; cookie flags; CSRF on forms."""

import pytest
from flask import redirect, render_template_string

from authority.app import create_app
from authority.security_headers import content_security_policy
from authority.web import allow_form_action


def csp(response):
    return dict(
        [*part.split(" ", 1), ""][:2]
        for part in response.headers["Content-Security-Policy"].split("; ")
    )


@pytest.mark.parametrize("path", ["/", "/healthz", "/no-such-page", "/api/v1/nothing"])
def test_every_response_has_the_headers(client, path):
    r = client.get(path)
    policy = csp(r)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'"
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in r.headers  # the test issuer is http


def test_static_files_are_cacheable_but_still_protected(client):
    r = client.get("/static/authority.css")
    assert r.status_code == 200
    assert r.headers.get("Cache-Control") != "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_endpoint_may_choose_its_own_cache_policy(app, client):
    @app.get("/cacheable")
    def cacheable():
        return {"ok": True}, 200, {"Cache-Control": "public, max-age=300"}

    assert client.get("/cacheable").headers["Cache-Control"] == "public, max-age=300"


def test_https_issuer_adds_hsts_and_secure_cookies(app_config):
    app_config["issuer"] = "https://id.example.gov.cn"
    app = create_app(app_config)
    r = app.test_client().get("/?lang=en")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_session_cookie_flags(app, client):
    @app.get("/set-session")
    def set_session():
        from flask import session

        session["x"] = 1
        return "ok"

    cookie = client.get("/set-session").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # http issuer in tests


def test_allow_form_action_adds_origins_only(app, client):
    @app.get("/consent-like")
    def consent_like():
        allow_form_action("https://rp.example.com/cb?x=1", "com.example.app:/oauth")
        return "<form></form>"

    policy = csp(client.get("/consent-like"))
    assert policy["form-action"] == "'self' https://rp.example.com com.example.app:"
    # The next response is back to 'self' only.
    assert csp(client.get("/"))["form-action"] == "'self'"


def test_allow_form_action_rejects_header_injection(app):
    with app.test_request_context("/"):
        with pytest.raises(ValueError):
            allow_form_action("https://a.example; script-src *")
        with pytest.raises(ValueError):
            allow_form_action("/relative")


def test_content_security_policy_text():
    assert "form-action 'self' http://127.0.0.1:8001" in content_security_policy(
        ["http://127.0.0.1:8001"]
    )


def test_form_post_without_csrf_token_is_refused(app, client):
    @app.route("/form", methods=["GET", "POST"])
    def form():
        return render_template_string(
            '<form method="post"><input name="csrf_token" value="{{ csrf_token() }}"></form>'
        )

    app.config["WTF_CSRF_ENABLED"] = True
    r = client.post("/form", data={"x": "1"})
    assert r.status_code == 400 and "表单已过期" in r.get_data(as_text=True)
    page = client.get("/form").get_data(as_text=True)
    token = page.split('value="')[1].split('"')[0]
    assert client.post("/form", data={"csrf_token": token}).status_code == 200


def test_redirect_responses_keep_headers(app, client):
    @app.get("/go")
    def go():
        return redirect("/")

    r = client.get("/go")
    assert r.status_code == 302 and r.headers["X-Frame-Options"] == "DENY"
