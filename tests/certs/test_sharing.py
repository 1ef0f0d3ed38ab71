"""互认共享: a portal with the person's consent reads their licenses; nobody else does."""

from __future__ import annotations

from typing import Any

import pytest

from tests.certs.conftest import DEPT_CODE, ORG_CODE, PERSON_ID, id_number, org_body, person_body
from tests.certs.holder_support import (
    department_token,
    issue,
    license_row,
    login,
    make_agent,
    make_person,
    make_portal,
    user_token,
)

PROBLEM = "application/problem+json"
OTHER_ID = id_number("35010219850101002")


def audit_shared(app: Any) -> list[Any]:
    import sqlalchemy as sa

    from authority import db
    from authority.models import AuditEntry

    with app.app_context(), db.session_scope(app) as session:
        rows = session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.event == "license.shared")
            .order_by(AuditEntry.seq)
        ).all()
        session.expunge_all()
        return list(rows)


@pytest.fixture
def world(app: Any, runner: Any, setup_dept: str) -> dict[str, Any]:
    """张三 (agent of an organisation) with a portal token; licenses of three holders."""
    make_person(app, runner, PERSON_ID)
    make_agent(app, runner, PERSON_ID, ORG_CODE)
    http = app.test_client()
    login(http, PERSON_ID, next_url="/")
    client_id, secret = make_portal(app, runner)
    return {
        "http": http,
        "client_id": client_id,
        "secret": secret,
        "token": user_token(http, client_id, secret),
        "own": issue(app),
        "org": issue(app, org_body()),
        "stranger": issue(app, person_body(holder={"id": OTHER_ID, "name": "王五"})),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_portal_reads_the_persons_licenses(app: Any, world: dict[str, Any]) -> None:
    response = world["http"].get("/api/v1/me/licenses", headers=bearer(world["token"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    licenses = response.get_json()["licenses"]
    assert [lic["id"] for lic in licenses] == [world["own"]]
    lic = licenses[0]
    assert lic["holder"] == {
        "kind": "person",
        "name": "张三",
        "id_masked": PERSON_ID[:6] + "********" + PERSON_ID[-4:],
    }
    assert lic["fields"] == {"qualification": "电工", "level": 3}
    assert lic["status"] == "valid"
    assert lic["issuer"]["credit_code"] == DEPT_CODE
    assert lic["qr_text"] == license_row(app, world["own"]).qr_text
    assert lic["links"]["qr_png"].endswith(f"/licenses/{world['own']}/qr.png")
    assert PERSON_ID not in response.get_data(as_text=True)
    # Audited: one entry per license read, naming the client and the license.
    (entry,) = audit_shared(app)
    assert entry.actor == world["client_id"] and entry.subject == world["own"]
    assert PERSON_ID not in str(entry.details)


def test_portal_reads_one_license(app: Any, world: dict[str, Any]) -> None:
    http, token = world["http"], world["token"]
    response = http.get(f"/api/v1/me/licenses/{world['own']}", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json()["id"] == world["own"]
    assert [e.subject for e in audit_shared(app)] == [world["own"]]


@pytest.mark.parametrize("which", ["stranger", "org", "missing"])
def test_other_holders_licenses_are_not_found(app: Any, world: dict[str, Any], which: str) -> None:
    ident = world.get(which, "QUALCERT-NOPE")
    response = world["http"].get(f"/api/v1/me/licenses/{ident}", headers=bearer(world["token"]))
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert response.get_json()["type"] == "urn:authority:problem:unknown-license"
    assert audit_shared(app) == []


def test_client_credentials_token_cannot_read_holders_licenses(
    app: Any, runner: Any, world: dict[str, Any]
) -> None:
    """A department system — even with the scope — reads nobody's licenses this way."""
    http = world["http"]
    token = department_token(app, runner, http, DEPT_CODE, "licenses:read")
    for path in ("/api/v1/me/licenses", f"/api/v1/me/licenses/{world['own']}"):
        response = http.get(path, headers=bearer(token))
        assert response.status_code == 403
        assert response.mimetype == PROBLEM
        body = response.get_json()
        assert body["type"] == "urn:authority:problem:consent-required"
        assert "client-credentials" in body["detail"]
    assert audit_shared(app) == []


def test_missing_scope_and_bad_tokens(app: Any, runner: Any, world: dict[str, Any]) -> None:
    http = world["http"]
    client_id, secret = make_portal(app, runner, "openid", "profile")
    no_scope = user_token(http, client_id, secret, scope="openid profile")
    response = http.get("/api/v1/me/licenses", headers=bearer(no_scope))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert response.mimetype == PROBLEM
    assert http.get("/api/v1/me/licenses").status_code == 401
    bad = http.get("/api/v1/me/licenses", headers=bearer("forged"))
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    assert audit_shared(app) == []


def test_revoked_token_stops_sharing(app: Any, world: dict[str, Any]) -> None:
    """The portal revokes its token (RFC 7009 at /revoke): the next read is refused."""
    import base64

    http, token = world["http"], world["token"]
    assert http.get("/api/v1/me/licenses", headers=bearer(token)).status_code == 200
    basic = base64.b64encode(f"{world['client_id']}:{world['secret']}".encode()).decode()
    revoked = http.post(
        "/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert revoked.status_code == 200, revoked.get_data(as_text=True)
    response = http.get("/api/v1/me/licenses", headers=bearer(token))
    assert response.status_code == 401
    assert len(audit_shared(app)) == 1


def test_portal_fetches_the_qr_images_it_was_given(app: Any, world: dict[str, Any]) -> None:
    """The links in a shared license work with the same consented token, and only for
    the holder's licenses."""
    from urllib.parse import urlsplit

    from tests.certs.qr_decode import decode_png

    http, token = world["http"], world["token"]
    lic = http.get(f"/api/v1/me/licenses/{world['own']}", headers=bearer(token)).get_json()
    anonymous = app.test_client()  # no browser session: the token alone must do
    png = anonymous.get(urlsplit(lic["links"]["qr_png"]).path, headers=bearer(token))
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert decode_png(png.data) == lic["qr_text"]
    svg = anonymous.get(urlsplit(lic["links"]["qr_svg"]).path, headers=bearer(token))
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    refused = anonymous.get(f"/licenses/{world['stranger']}/qr.png", headers=bearer(token))
    assert refused.status_code == 404 and refused.mimetype == PROBLEM
