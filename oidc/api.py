"""What other packages may use from oidc/ (the only module certs/ imports).

- :func:`require_oauth` guards a view with a Bearer access token (RFC 6750 §2.1);
  refusals are RFC 9457 problem details carrying the RFC 6750 §3 ``WWW-Authenticate``
  challenge: no token → 401 without an error code; bad, expired or revoked token →
  401 ``invalid_token``; missing scope → 403 ``insufficient_scope``.
- :func:`current_token` describes the token inside such a view (:class:`TokenInfo`).
- :func:`current_user` is the browser's logged-in person, :func:`login_url` where to
  send a browser that must log in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import g, request

from authority import db
from authority.problems import Problem, problem_type
from oidc import accounts, clients, login, sessions, tokens
from oidc.provider import issuer

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class TokenInfo:
    """The access token of the current request."""

    client_id: str
    scopes: frozenset[str]
    #: Credit code of the department the client is bound to (department systems).
    department: str | None
    #: For user tokens: the person's ID number, then the acting organisation's credit code.
    holder_ids: tuple[str, ...]


@dataclass(frozen=True)
class OrgRef:
    credit_code: str
    name: str
    role: str


@dataclass(frozen=True)
class UserInfo:
    """The person logged in to this browser."""

    person_id: int
    id_number: str
    name: str
    organisations: tuple[OrgRef, ...]
    acting_for: OrgRef | None


class BearerProblem(Problem):
    """A refused Bearer token (RFC 6750 §3.1), as problem details."""

    type = problem_type("bearer-token")


_STATUS = {"invalid_request": 400, "invalid_token": 401, "insufficient_scope": 403}


def bearer_problem(error: str | None, description: str, *, scope: str | None = None) -> Problem:
    """A problem whose ``WWW-Authenticate`` header is the RFC 6750 §3 challenge."""
    challenge = f'Bearer realm="{issuer()}"'
    if error is not None:
        challenge += f', error="{error}", error_description="{description}"'
    if scope:
        challenge += f', scope="{scope}"'
    status = _STATUS.get(error or "", 401)
    extra: dict[str, Any] = {"error": error} if error else {}
    return BearerProblem(
        status, None, description, headers={"WWW-Authenticate": challenge}, **extra
    )


def _bearer_value() -> str | None:
    """The access token from the Authorization header (RFC 6750 §2.1) or, for a POST
    with a form body, the ``access_token`` parameter (§2.2; pyoidc's userinfo uses it).
    """
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    in_body = (
        request.method == "POST"
        and request.mimetype == "application/x-www-form-urlencoded"
        and "access_token" in request.form
    )
    if header and in_body:
        raise bearer_problem("invalid_request", "send the access token in one place only")
    if in_body:
        return request.form["access_token"].strip() or None
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _authenticate(required: tuple[str, ...]) -> tuple[TokenInfo, tokens.Token]:
    value = _bearer_value()
    if value is None:
        raise bearer_problem(None, "a Bearer access token is required")
    session = db.session()
    row = tokens.find_access_token(session, value)
    if row is None or row.is_revoked() or row.is_expired():
        raise bearer_problem("invalid_token", "the access token is invalid, expired or revoked")
    client = clients.find(session, row.client_id)
    if client is None:
        raise bearer_problem("invalid_token", "the client of this token is disabled")
    scopes = frozenset(row.scope.split())
    missing = [s for s in required if s not in scopes]
    if missing:
        raise bearer_problem(
            "insufficient_scope",
            "the access token lacks a required scope",
            scope=" ".join(required),
        )
    holder_ids: tuple[str, ...] = ()
    if row.person_id is not None:
        holder_ids = accounts.holder_ids(session, row.person_id, row.acting_org_id)
        if not holder_ids:
            raise bearer_problem("invalid_token", "the person of this token no longer exists")
    info = TokenInfo(
        client_id=row.client_id,
        scopes=scopes,
        department=client.department,
        holder_ids=holder_ids,
    )
    return info, row


def require_oauth(*scopes: str) -> Callable[[F], F]:
    """Decorate a view so that it needs a valid Bearer token holding every ``scope``."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            info, row = _authenticate(scopes)
            g._oidc_token = info
            g._oidc_token_row = row
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def current_token() -> TokenInfo:
    """The :class:`TokenInfo` of the request (inside a :func:`require_oauth` view)."""
    info: TokenInfo | None = g.get("_oidc_token")
    if info is None:
        raise RuntimeError("current_token() outside a require_oauth view")
    return info


def current_token_row() -> tokens.Token:
    """The token row of the request (oidc-internal: userinfo needs the person)."""
    row: tokens.Token = g._oidc_token_row
    return row


def current_user() -> UserInfo | None:
    """The browser's logged-in person, or None."""
    sso = sessions.current_session()
    if sso is None:
        return None
    try:
        identity = accounts.user_info(db.session(), sso)
    except accounts.UnknownPerson:
        return None
    acting = identity.acting_for
    return UserInfo(
        person_id=identity.person_id,
        id_number=identity.id_number,
        name=identity.name,
        organisations=tuple(OrgRef(o.credit_code, o.name, o.role) for o in identity.organisations),
        acting_for=OrgRef(acting.credit_code, acting.name, acting.role) if acting else None,
    )


def login_url(next_url: str) -> str:
    """Where to send a browser that must log in; it comes back to ``next_url`` (a path)."""
    return login.login_url(next_url)
