"""Connected apps: listing and revoking consent (the account page's functions)."""

from __future__ import annotations

from typing import Any

from tests.oidc.provider_support import (
    get_code,
    make_client,
    redeem,
)


def test_list_and_revoke_consent_revokes_tokens(
    app: Any, browser_client: Any, rp: Any, person: int
) -> None:
    from authority import audit, db
    from oidc import consents

    client_id, secret = rp
    code, _ = get_code(browser_client, client_id, scope="openid profile phone")
    token = redeem(browser_client, client_id, secret, code).json
    other_id, other_secret = make_client(app, client_name="另一个应用")
    code2, _ = get_code(browser_client, other_id)
    token2 = redeem(browser_client, other_id, other_secret, code2).json
    with app.app_context(), db.session_scope(app) as session:
        apps = consents.list_for_person(session, person)
        assert {a.client_id for a in apps} == {client_id, other_id}
        mine = next(a for a in apps if a.client_id == client_id)
        assert mine.scopes == ("openid", "phone", "profile")
        assert consents.revoke(session, person, client_id) is True
        assert consents.revoke(session, person, client_id) is False
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert browser_client.get("/userinfo", headers=headers).status_code == 401
    headers2 = {"Authorization": f"Bearer {token2['access_token']}"}
    assert browser_client.get("/userinfo", headers=headers2).status_code == 200
    # Asking again shows the consent page again.
    from urllib.parse import urlencode

    from tests.oidc.provider_support import authorize_params

    again = browser_client.get("/authorize?" + urlencode(authorize_params(client_id)))
    assert again.status_code == 200
    with app.app_context(), db.session_scope(app) as session:
        events = [e.event for e in audit.recent(session, limit=50)]
    assert "oidc.consent.granted" in events and "oidc.consent.revoked" in events
