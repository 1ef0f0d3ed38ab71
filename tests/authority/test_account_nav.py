"""The shared header names the signed-in person and links to licenses, account and logout."""

from __future__ import annotations

from typing import Any

from tests.oidc.accounts_support import login, make_person


def test_header_shows_no_account_links_to_a_visitor(client: Any) -> None:
    html = client.get("/").get_data(as_text=True)
    assert 'class="account-nav"' not in html
    assert 'href="/login"' in html  # the home page offers the login card


def test_header_names_the_signed_in_person_with_account_links(app: Any, client: Any) -> None:
    make_person(app, name="李四")
    assert login(client).status_code in (302, 303)
    html = client.get("/").get_data(as_text=True)
    nav = html[html.index('class="account-nav"') : html.index('class="language-switch"')]
    assert "李四" in nav
    for path in ("/licenses", "/account", "/logout"):
        assert f'href="{path}"' in nav
    # Signed in already: the home page no longer offers the login card.
    assert 'href="/login"' not in html
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Log out" in english and "My licenses" in english
