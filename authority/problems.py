"""RFC 9457, Problem Details for HTTP APIs (https://www.rfc-editor.org/rfc/rfc9457).

Every REST API error is a :class:`Problem`: raise it from a view and the app answers
``application/problem+json`` with ``type``, ``title``, ``status``, ``detail`` (clause 3.1)
and any extension members (clause 3.2)::

    raise Problem(422, "Invalid holder", "ID number check digit is wrong",
                  type=problem_type("invalid-holder"), field="holder.id_number")

or declare a class carrying its wire code, as errors do elsewhere in the code base::

    class UnknownLicenseType(Problem):
        status = 404
        title = "Unknown license type"
        type = problem_type("unknown-license-type")

``detail`` is public text meant for the client: never put internal detail (exception
text, SQL, stack traces) in it. Unexpected exceptions become a generic 500 problem
whose only clue is the request id that also appears in the logs.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from flask import Response
from werkzeug.http import HTTP_STATUS_CODES

MEDIA_TYPE = "application/problem+json"

#: Member names defined by RFC 9457 clause 3.1; extensions may not reuse them.
STANDARD_MEMBERS = frozenset({"type", "title", "status", "detail", "instance"})


def problem_type(slug: str) -> str:
    """A stable ``type`` URI for one of our problems, e.g. ``urn:authority:problem:x``.

    RFC 9457 clause 3.1.1 allows a type URI that is not dereferenceable; a URN keeps
    the identifier independent of where the service is deployed.
    """
    return f"urn:authority:problem:{slug}"


class Problem(Exception):
    """An API error rendered as RFC 9457 problem details.

    Subclasses may set ``status``, ``title`` and ``type`` as class attributes; the
    constructor arguments override them for one instance.
    """

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    type: ClassVar[str] = "about:blank"

    def __init__(
        self,
        status: int | None = None,
        title: str | None = None,
        detail: str | None = None,
        *,
        type: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        clash = STANDARD_MEMBERS & set(extra)
        if clash:
            raise ValueError(f"extension members may not reuse {sorted(clash)}")
        cls = self.__class__
        # Instance attributes shadow the class-level defaults.
        self.status = status if status is not None else cls.status  # type: ignore[misc]
        if not 400 <= self.status <= 599:
            raise ValueError(f"a problem's status must be 4xx or 5xx, not {self.status}")
        if title is None:
            # A subclass's own title wins; otherwise the HTTP status phrase.
            title = cls.title if cls.title != Problem.title else None
        self.title = title or HTTP_STATUS_CODES.get(self.status, "Error")  # type: ignore[misc]
        self.type = type or cls.type  # type: ignore[misc]
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra
        super().__init__(f"{self.status} {self.title}" + (f": {detail}" if detail else ""))

    def to_dict(self) -> dict[str, Any]:
        """The problem's JSON members (standard members first, then extensions)."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail is not None:
            body["detail"] = self.detail
        body.update(self.extra)
        return body

    def to_response(self) -> Response:
        """An ``application/problem+json`` response for this problem."""
        body = json.dumps(self.to_dict(), ensure_ascii=False, default=str)
        response = Response(body, status=self.status, mimetype=MEDIA_TYPE)
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


def from_status(status: int, detail: str | None = None) -> Problem:
    """A plain ``about:blank`` problem for an HTTP status (title = the status phrase)."""
    return Problem(status, HTTP_STATUS_CODES.get(status, "Error"), detail)


def server_error(request_id: str | None = None) -> Problem:
    """The generic 500: says nothing about what went wrong inside (clause 3.1.4).

    ``request_id`` (an extension member) lets an operator find the logged traceback.
    """
    extra = {"request_id": request_id} if request_id else {}
    return Problem(
        500,
        "Internal Server Error",
        "The server could not complete the request. Quote the request id when reporting it.",
        type=problem_type("server-error"),
        **extra,
    )
