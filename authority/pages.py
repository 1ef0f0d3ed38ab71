"""The home page: what the service offers, in the visitor's language.

Each card links to a page that another package provides (login and account from
oidc/, my licenses from certs/, verification from verify/). A card appears only when
one of its paths is routed in this app, so the home page never links to a 404 while
a package is not installed yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, g, render_template
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from authority.web import SIGNED_IN_NAME

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class HomeLink:
    label: str  # i18n key; "<label>.text" is the card's description
    paths: tuple[str, ...]  # the first path that is routed wins


HOME_LINKS = (
    HomeLink("home.login", ("/login", "/account/login", "/oidc/login")),
    HomeLink("home.account", ("/account",)),
    HomeLink("home.licenses", ("/licenses", "/my/licenses", "/me/licenses")),
    HomeLink("home.verify", ("/verify",)),
)


#: The header's links for a signed-in person (shown when routed).
ACCOUNT_LINKS = (
    HomeLink("nav.licenses", ("/licenses",)),
    HomeLink("nav.account", ("/account",)),
    HomeLink("nav.logout", ("/logout",)),
)


def routed_path(paths: tuple[str, ...]) -> str | None:
    """The first of ``paths`` that this app answers with a GET, or None."""
    adapter = current_app.url_map.bind("localhost")
    for path in paths:
        try:
            adapter.match(path, method="GET")
        except RequestRedirect:
            return path + "/" if not path.endswith("/") else path
        except (NotFound, MethodNotAllowed):
            continue
        return path
    return None


def _routed_links(links: tuple[HomeLink, ...]) -> list[dict[str, str]]:
    routed = [(link.label, routed_path(link.paths)) for link in links]
    return [{"label": label, "url": path} for label, path in routed if path is not None]


def signed_in_name() -> str | None:
    """The signed-in person's name, asked once per request of the identity package."""
    if "_signed_in_name" not in g:
        name_of = current_app.extensions.get(SIGNED_IN_NAME)
        try:
            g._signed_in_name = name_of() if name_of is not None else None
        except SQLAlchemyError:
            # An error page must still render when the database is down: show no one.
            log.warning("could not read the signed-in person for the header")
            g._signed_in_name = None
    name: str | None = g._signed_in_name
    return name


@bp.app_context_processor
def account_navigation() -> dict[str, Any]:
    """``signed_in_name()`` and ``account_links()`` for the shared layout's header."""
    return {
        "signed_in_name": signed_in_name,
        "account_links": lambda: _routed_links(ACCOUNT_LINKS),
    }


@bp.get("/")
def home() -> str:
    """Cards for login, account, my licenses and verification (those that exist);
    no login card for someone already signed in."""
    links = _routed_links(HOME_LINKS)
    if signed_in_name():
        links = [link for link in links if link["label"] != "home.login"]
    return render_template("home.html", links=links)
