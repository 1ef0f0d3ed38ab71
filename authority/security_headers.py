"""Security headers on every response, and cookie flags.

- Content-Security-Policy (CSP Level 3, https://www.w3.org/TR/CSP3/): everything from
  our own origin only; no inline script or style (pages load static files); no
  framing; forms submit to our origin plus what a page adds with
  :func:`authority.web.allow_form_action` (OAuth pages that redirect to a client).
- X-Content-Type-Options: nosniff; Referrer-Policy: no-referrer (URLs may carry codes);
  X-Frame-Options: DENY (older browsers without frame-ancestors).
- Strict-Transport-Security when the issuer is https (RFC 6797).
- Cache-Control: no-store on pages and JSON unless the endpoint chose its own policy
  (personal data and tokens must not sit in shared or browser caches; RFC 9700 §4.13).
"""

from __future__ import annotations

from flask import Flask, Response

from authority.config import Settings
from authority.web import form_action_sources

HSTS = "max-age=63072000; includeSubDomains"

BASE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    # data: and blob: let the verification page show an uploaded photo or a QR image.
    "img-src": ["'self'", "data:", "blob:"],
    "media-src": ["'self'", "blob:"],
    "connect-src": ["'self'"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

NO_STORE_TYPES = ("text/html", "application/json", "application/problem+json")


def _csp_value(directives: dict[str, list[str]]) -> str:
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


#: The usual value, computed once: most responses add no form-action source.
_BASE_CSP_VALUE = _csp_value(BASE_CSP)


def content_security_policy(extra_form_action: list[str] | None = None) -> str:
    """The CSP header value, with extra ``form-action`` sources for this response."""
    if not extra_form_action:
        return _BASE_CSP_VALUE
    directives = {name: list(sources) for name, sources in BASE_CSP.items()}
    directives["form-action"] += extra_form_action
    return _csp_value(directives)


def setup_security_headers(app: Flask, settings: Settings) -> None:
    """Set the headers above on every response, and the cookie flags."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_https,
        SESSION_COOKIE_NAME="authority_session",
    )

    fixed = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        # The verification page may use the camera to scan QR codes; nothing else may.
        ("Permissions-Policy", "camera=(self), microphone=(), geolocation=()"),
    ]
    if settings.is_https:
        fixed.append(("Strict-Transport-Security", HSTS))

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        # One pass over what the view set, then appends (a setdefault per header scans
        # the list each time: 25 µs a response, felt by the token endpoint).
        present = {name.lower() for name, _value in headers}
        if "content-security-policy" not in present:
            headers.add("Content-Security-Policy", content_security_policy(form_action_sources()))
        for name, value in fixed:
            if name.lower() not in present:
                headers.add(name, value)
        if "cache-control" not in present and response.mimetype in NO_STORE_TYPES:
            headers.add("Cache-Control", "no-store")
            if "pragma" not in present:
                headers.add("Pragma", "no-cache")
        return response
