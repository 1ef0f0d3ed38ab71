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


def content_security_policy(extra_form_action: list[str] | None = None) -> str:
    """The CSP header value, with extra ``form-action`` sources for this response."""
    directives = {name: list(sources) for name, sources in BASE_CSP.items()}
    directives["form-action"] += extra_form_action or []
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def setup_security_headers(app: Flask, settings: Settings) -> None:
    """Set the headers above on every response, and the cookie flags."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_https,
        SESSION_COOKIE_NAME="authority_session",
    )

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy", content_security_policy(form_action_sources())
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        # The verification page may use the camera to scan QR codes; nothing else may.
        headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        if settings.is_https:
            headers.setdefault("Strict-Transport-Security", HSTS)
        if "Cache-Control" not in headers and response.mimetype in NO_STORE_TYPES:
            headers["Cache-Control"] = "no-store"
            headers.setdefault("Pragma", "no-cache")
        return response
