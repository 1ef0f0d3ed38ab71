"""Error responses: RFC 9457 problem details for the API, a readable page for people.

- A :class:`authority.problems.Problem` raised anywhere becomes ``application/problem+json``.
- HTTP errors (404, 405, 413, 400, CSRF failures...) become problems under the REST
  API (:func:`authority.web.is_api_request`, or a client that asks for JSON) and an
  error page in the visitor's language elsewhere.
- Any other exception is logged with its traceback and the request id, and the client
  gets a generic 500 that reveals nothing about the cause.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from authority import problems
from authority.i18n import t
from authority.logs import current_request_id
from authority.web import is_api_request

log = logging.getLogger("authority.errors")

# Statuses with their own wording on the error page; others use the generic text.
PAGE_MESSAGES = {400, 403, 404, 405, 413, 429, 500}


def wants_problem() -> bool:
    """True when the error should be problem+json rather than a page."""
    if is_api_request():
        return True
    best = request.accept_mimetypes.best_match(
        ["text/html", "application/problem+json", "application/json"]
    )
    return best in ("application/problem+json", "application/json")


def error_page(status: int, *, csrf: bool = False) -> Response:
    """The people-facing error page for ``status``, in the visitor's language."""
    if csrf:
        title, text = t("error.csrf"), t("error.csrf.text")
    elif status in PAGE_MESSAGES:
        title, text = t(f"error.{status}"), t(f"error.{status}.text")
    else:
        title, text = t("error.title"), t("error.generic.text")
    try:
        body = render_template(
            "error.html", status=status, title=title, text=text, request_id=current_request_id()
        )
    except Exception:  # a broken template must not hide the original error
        log.exception("error page could not be rendered")
        return Response(f"{status} {title}\n", status=status, mimetype="text/plain")
    return Response(body, status=status, mimetype="text/html")


def setup_problem_details(app: Flask) -> None:
    """Register the handlers described in the module docstring."""

    @app.errorhandler(problems.Problem)
    def _problem(problem: problems.Problem) -> Response:
        if problem.status >= 500:
            log.error("server problem: %s", problem)
        return problem.to_response()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        status = exc.code or 500
        if status < 400:
            return exc
        if wants_problem():
            # Werkzeug's descriptions are generic public text, safe to pass on;
            # a CSRF failure says which check failed (missing or expired token).
            response = problems.from_status(status, exc.description).to_response()
        else:
            response = error_page(status, csrf=isinstance(exc, CSRFError))
        # Keep headers the exception carries (e.g. Allow on 405).
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.error(
            "unhandled %s on %s %s",
            type(exc).__name__,
            request.method,
            request.path,
            exc_info=exc,
        )
        if wants_problem():
            return problems.server_error(current_request_id()).to_response()
        return error_page(500)
