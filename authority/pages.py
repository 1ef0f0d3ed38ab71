"""The home page: what the service offers, in the visitor's language.

Each card links to a page that another package provides (login and account from
oidc/, my licenses from certs/, verification from verify/). A card appears only when
one of its paths is routed in this app, so the home page never links to a 404 while
a package is not installed yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, render_template
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

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


@bp.get("/")
def home() -> str:
    """Cards for login, account, my licenses and verification (those that exist)."""
    links = []
    for link in HOME_LINKS:
        path = routed_path(link.paths)
        if path is not None:
            links.append({"label": link.label, "url": path})
    return render_template("home.html", links=links)
