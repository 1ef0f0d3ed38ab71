"""Pairwise and public subject identifiers (OIDC Core §8)."""

from __future__ import annotations

from typing import Any

from tests.oidc.provider_support import (
    OTHER_ID_NUMBER,
    get_code,
    jwt_parts,
    make_client,
    make_person,
    redeem,
)


def _sub(http: Any, creds: tuple[str, str | None], redirect_uri: str | None = None) -> str:
    client_id, secret = creds
    code, _ = get_code(http, client_id)
    token = redeem(http, client_id, secret, code).json
    return str(jwt_parts(token["id_token"])[1]["sub"])


def test_pairwise_differs_between_sectors_and_is_stable(app: Any, browser_client: Any) -> None:
    a = make_client(app)
    b = make_client(app)  # same sector (rp.example.com): same sub
    assert _sub(browser_client, a) == _sub(browser_client, a) == _sub(browser_client, b)
    import tests.oidc.provider_support as support

    other_sector = "https://other.example.net/cb"
    old = support.REDIRECT_URI
    support.REDIRECT_URI = other_sector
    try:
        c = make_client(app, redirect_uris=[other_sector])
        sub_c = _sub(browser_client, c)
    finally:
        support.REDIRECT_URI = old
    assert sub_c != _sub(browser_client, a)


def test_public_subject_for_provincial_clients(app: Any, browser_client: Any) -> None:
    p1 = make_client(app, provincial=True)
    pairwise = make_client(app)
    assert _sub(browser_client, p1) != _sub(browser_client, pairwise)
    import tests.oidc.provider_support as support

    other_sector = "https://portal2.example.net/cb"
    old = support.REDIRECT_URI
    support.REDIRECT_URI = other_sector
    try:
        p2 = make_client(app, provincial=True, redirect_uris=[other_sector])
        sub_p2 = _sub(browser_client, p2)
    finally:
        support.REDIRECT_URI = old
    assert sub_p2 == _sub(browser_client, p1)


def test_subjects_differ_between_people(app: Any, browser_client: Any) -> None:
    from tests.oidc.provider_support import login

    creds = make_client(app)
    first = _sub(browser_client, creds)
    make_person(app, OTHER_ID_NUMBER, name="李四", phone=None)
    other = app.test_client()
    login(other, OTHER_ID_NUMBER)
    assert _sub(other, creds) != first
    assert str(1) not in {first}  # opaque, not the row id
