"""POST /api/v1/verify: verdicts from the QR text, with the server's online status."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.certs.conftest import PERSON_ID
from tests.certs.holder_support import change_status, issue, license_row

PROBLEM = "application/problem+json"


def verify(client: Any, text: str) -> dict[str, Any]:
    response = client.post("/api/v1/verify", json={"qr": text})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    assert set(body["explanation"]) == {"zh-CN", "en"}
    assert body["explanation"]["zh-CN"] and body["explanation"]["en"]
    return body


@pytest.fixture
def licensed(app: Any, setup_dept: str) -> tuple[str, str]:
    """A valid person license: (identifier, QR text)."""
    ident = issue(app)
    return ident, license_row(app, ident).qr_text


def test_valid_license(client: Any, licensed: tuple[str, str]) -> None:
    ident, text = licensed
    body = verify(client, text)
    assert body["state"] == "valid" and body["valid"] is True
    assert body["checked_against"] == "online-status"
    assert "在线状态" in body["explanation"]["zh-CN"]
    assert "online status" in body["explanation"]["en"]
    lic = body["license"]
    assert lic["id"] == ident
    assert lic["type"] == "QUALCERT"
    assert lic["type_name"] == {"zh-CN": "职业资格证书", "en": "Qualification certificate"}
    assert lic["issuer"]["name"] == "省市场监督管理局"
    assert lic["holder"] == {
        "name": "张三",
        "id_masked": PERSON_ID[:6] + "********" + PERSON_ID[-4:],
    }
    assert lic["fields"] == {"qualification": "电工", "level": 3}
    assert lic["expires_at"] and lic["issued_at"]
    assert body["status"]["state"] == "valid"
    # Nothing beyond what the QR shows: no full ID number, no digest, no QR echo.
    raw = json.dumps(body, ensure_ascii=False)
    assert PERSON_ID not in raw
    assert text not in raw


TITLED_SCHEMA = {
    "type": "object",
    "properties": {
        "qualification": {"type": "string", "title": "职业资格", "x-title-en": "Qualification"},
        "level": {"type": "integer"},  # no titles: the field's name in both languages
    },
}


def test_field_labels_come_from_the_catalogue(
    app: Any, client: Any, make_department: Any, make_type: Any
) -> None:
    make_department()
    make_type("QUALCERT", schema=TITLED_SCHEMA)
    body = verify(client, license_row(app, issue(app)).qr_text)
    assert body["license"]["field_labels"] == {
        "qualification": {"zh-CN": "职业资格", "en": "Qualification"},
        "level": {"zh-CN": "level", "en": "level"},
    }


def test_surrounding_whitespace_from_scanners_is_ignored(
    client: Any, licensed: tuple[str, str]
) -> None:
    assert verify(client, "  " + licensed[1] + "\r\n")["state"] == "valid"


def test_status_comes_from_the_server_not_the_bundle(
    app: Any, client: Any, licensed: tuple[str, str]
) -> None:
    """Change the status behind the bundle's back: the online verdict follows the record."""
    from authority import db
    from certs.models import License

    ident, text = licensed
    assert verify(client, text)["state"] == "valid"  # the bundle is built and cached now
    with app.app_context(), db.session_scope(app) as session:
        session.execute(
            sa.update(License).where(License.identifier == ident).values(status="revoked")
        )
    body = verify(client, text)
    assert body["state"] == "revoked" and body["valid"] is False
    assert body["checked_against"] == "online-status"
    assert body["status"]["state"] == "revoked"


@pytest.mark.parametrize(
    ("actions", "state", "valid"),
    [
        (["suspend"], "suspended", False),
        (["suspend", "reinstate"], "valid", True),
        (["revoke"], "revoked", False),
        (["suspend", "revoke"], "revoked", False),
    ],
)
def test_status_changes(
    app: Any,
    client: Any,
    licensed: tuple[str, str],
    actions: list[str],
    state: str,
    valid: bool,
) -> None:
    ident, text = licensed
    for action in actions:
        change_status(app, ident, action, "under_investigation")
    body = verify(client, text)
    assert (body["state"], body["valid"]) == (state, valid)
    assert body["license"]["id"] == ident


def test_superseded_license_names_its_successor(
    app: Any, client: Any, licensed: tuple[str, str]
) -> None:
    from authority import db
    from certs import departments, status
    from tests.certs.conftest import DEPT_CODE

    ident, text = licensed
    with app.app_context(), db.session_scope(app) as session:
        new = status.supersede(
            session,
            departments.get(session, DEPT_CODE),
            ident,
            {"fields": {"qualification": "电工", "level": 4}},
            actor="test",
        )
        new_id, new_text = new.identifier, new.qr_text
    old = verify(client, text)
    assert old["state"] == "revoked"
    assert new_id in old["explanation"]["zh-CN"] and new_id in old["explanation"]["en"]
    assert old["status"]["superseded_by"] == new_id
    fresh = verify(client, new_text)
    assert fresh["state"] == "valid" and fresh["license"]["fields"]["level"] == 4


def test_expired_license(app: Any, client: Any, licensed: tuple[str, str]) -> None:
    """A year and a bit later the same QR text is expired (service call with a later clock)."""
    from authority import db
    from authority.db import utcnow
    from certs.verification import verdict_json, verify_online

    ident, text = licensed
    later = int((utcnow() + timedelta(days=400)).timestamp())
    with app.test_request_context(), db.session_scope(app) as session:
        result = verify_online(session, text, now=later)
        body = verdict_json(session, result)
    assert body["state"] == "expired" and body["valid"] is False
    assert body["license"]["id"] == ident
    assert "过期" in body["explanation"]["zh-CN"] and "expired" in body["explanation"]["en"]


def test_license_signed_before_its_certificate_is_refused(
    app: Any, client: Any, setup_dept: str
) -> None:
    from authority.db import utcnow

    ident = issue(app, now=utcnow() - timedelta(days=400))
    body = verify(client, license_row(app, ident).qr_text)
    assert body["state"] == "not_authorised" and body["valid"] is False


def test_tampered_text_is_not_valid_and_echoes_nothing(
    client: Any, licensed: tuple[str, str]
) -> None:
    _, text = licensed
    # Change one Base45 character in the middle: either undecodable or a bad signature.
    middle = len(text) // 2
    swapped = "0" if text[middle] != "0" else "1"
    body = verify(client, text[:middle] + swapped + text[middle + 1 :])
    assert body["valid"] is False
    assert body["state"] in ("malformed", "bad_signature")
    assert body["license"] is None


def test_license_signed_by_an_unknown_key(app: Any, client: Any, licensed: tuple[str, str]) -> None:
    from keys.sm2 import SM2PrivateKey
    from verify.decode import decode
    from verify.encode import encode

    claims = decode(licensed[1]).claims
    forged = encode(claims, SM2PrivateKey.generate(), b"\x01" * 8)
    body = verify(client, forged)
    assert body["state"] == "unknown_key" and body["valid"] is False
    assert body["license"] is None
    assert body["checked_against"] == "trust-bundle"


@pytest.mark.parametrize(
    "text", ["hello", "LC1:", "LC1Z:%%%%", "https://example.com/x", "A" * 5000]
)
def test_malformed_text_is_a_verdict(client: Any, setup_dept: str, text: str) -> None:
    body = verify(client, text)
    assert body["state"] == "malformed" and body["valid"] is False
    assert body["license"] is None


@pytest.mark.parametrize(
    ("kwargs", "pointer"),
    [
        ({"data": "not json", "content_type": "application/json"}, ""),
        ({"data": "qr=LC1:", "content_type": "application/x-www-form-urlencoded"}, ""),
        ({"json": ["LC1:"]}, ""),
        ({"json": {}}, "/qr"),
        ({"json": {"qr": 42}}, "/qr"),
        ({"json": {"qr": "   "}}, "/qr"),
    ],
)
def test_bad_request_bodies_are_400_problems(
    client: Any, setup_dept: str, kwargs: dict[str, Any], pointer: str
) -> None:
    response = client.post("/api/v1/verify", **kwargs)
    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["type"] == "urn:authority:problem:invalid-request"
    assert body["pointer"] == pointer
    assert body["detail"]


def test_no_csrf_token_needed(app: Any, licensed: tuple[str, str]) -> None:
    """The endpoint is exempt from CSRF: a browser with a session cookie still gets a verdict."""
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    client.get("/verify")  # a page visit may set cookies (language, session)
    response = client.post("/api/v1/verify", json={"qr": licensed[1]})
    assert response.status_code == 200
    assert response.get_json()["valid"] is True


def test_get_is_not_allowed(client: Any, setup_dept: str) -> None:
    response = client.get("/api/v1/verify")
    assert response.status_code == 405
    assert response.mimetype == PROBLEM


def test_verification_page_is_served_without_inline_script(client: Any, setup_dept: str) -> None:
    response = client.get("/verify")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "电子证照核验" in html
    assert "vendor/jsqr/jsQR.js" in html and "verify.js" in html
    # Only external scripts and one JSON data block (not executed, so CSP allows it).
    import re

    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    english = client.get("/verify?lang=en").get_data(as_text=True)
    assert "Verify an e-license" in english
    js = client.get("/certs/static/vendor/jsqr/jsQR.js")
    assert js.status_code == 200 and b"jsQR" in js.data
    js.close()
