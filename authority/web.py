"""Small web pieces every package shares: CSRF protection and per-page CSP additions.

- ``csrf``: the Flask-WTF :class:`CSRFProtect` instance. Every form POST needs a token
  (``{{ csrf_token() }}`` in a hidden ``csrf_token`` field). Blueprints that speak
  OAuth or a Bearer-token REST API exempt themselves with ``csrf.exempt(bp)``.
- :func:`allow_form_action`: a page whose form ends in a redirect to another origin
  (the OAuth consent and login pages send the browser back to a client's
  ``redirect_uri``) must add that origin to the page's CSP ``form-action``; Chromium
  applies ``form-action`` to every redirect that follows a form submission.
- :func:`is_api_request`: whether errors for this request are JSON problem details
  (REST API) or a page for people.
- :func:`set_signed_in_name`: the identity package tells the shared layout who is
  signed in (the header then shows the person's name and account links).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask, g, request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

#: app.extensions key of the callable that names the signed-in person (or None).
SIGNED_IN_NAME = "authority.signed_in_name"


def set_signed_in_name(app: Flask, name_of_signed_in: Callable[[], str | None]) -> None:
    """Register how the layout learns the signed-in person's display name (None: nobody)."""
    app.extensions[SIGNED_IN_NAME] = name_of_signed_in


#: Path prefixes whose errors are RFC 9457 problem details rather than pages.
API_PREFIXES = ("/api/",)


def is_api_request() -> bool:
    """True for the REST API (problem+json errors), False for pages."""
    return request.path.startswith(API_PREFIXES)


def allow_form_action(*targets: str) -> None:
    """Let forms on the current page submit or redirect to ``targets`` (URLs or origins).

    Only the origin (scheme, host, port) of each target is used; a custom scheme
    (``com.example.app:/cb``, native apps) becomes a scheme source (``com.example.app:``).
    Call it from the view that renders the page holding the form.
    """
    sources: list[str] = g.setdefault("_form_action_sources", [])
    for target in targets:
        source = _csp_source(target)
        if source not in sources:
            sources.append(source)


def form_action_sources() -> list[str]:
    """The extra ``form-action`` sources requested for the current response."""
    return list(g.get("_form_action_sources", []))


def _csp_source(target: str) -> str:
    parts = urlsplit(target)
    scheme = parts.scheme.lower()
    if not scheme or any(c in target for c in " ;,'\"\r\n"):
        raise ValueError(f"not a URL usable in a CSP source: {target!r}")
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"URL has no host: {target!r}")
        host = parts.hostname
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        return f"{scheme}://{host}{port}"
    return f"{scheme}:"
