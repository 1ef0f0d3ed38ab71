"""The REST API end to end: tokens from the real token endpoint, problems for refusals.

Every refusal test also checks that nothing was written.
"""

from __future__ import annotations

from typing import Any

import pytest

from certs.models import IdempotencyRecord, License, LicenseType
from tests.certs.conftest import (
    DEPT_CODE,
    OTHER_DEPT_CODE,
    PERSON_ID,
    PERSON_SCHEMA,
    auth,
    count,
    make_client,
    org_body,
    person_body,
    token_for,
)

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status and body["title"]
    if slug:
        assert body["type"] == f"urn:authority:problem:{slug}"
    return body


def test_issue_and_read(client: Any, dept_token: str) -> None:
    response = client.post("/api/v1/licenses", json=person_body(), headers=auth(dept_token))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/licenses/{body['id']}"
    assert body["id"].startswith(f"QUALCERT-{DEPT_CODE}-0000000001-01-")
    assert body["qr_text"] and body["links"]["qr_png"].endswith("/qr.png")
    assert PERSON_ID not in response.get_data(as_text=True)
    read = client.get(f"/api/v1/licenses/{body['id']}", headers=auth(dept_token))
    assert read.status_code == 200 and read.get_json()["qr_text"] == body["qr_text"]
    status = client.get(f"/api/v1/licenses/{body['id']}/status")
    assert status.status_code == 200
    online = status.get_json()
    assert online["status"] == "valid" and online["id"] == body["id"]
    text = status.get_data(as_text=True)
    assert "张三" not in text and PERSON_ID not in text and body["holder"]["id_masked"] not in text


def test_idempotency_key_header(app: Any, client: Any, dept_token: str) -> None:
    headers = auth(dept_token, **{"Idempotency-Key": "order-42"})
    first = client.post("/api/v1/licenses", json=person_body(), headers=headers)
    again = client.post("/api/v1/licenses", json=person_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.get_json()["id"] == again.get_json()["id"]
    other = client.post(
        "/api/v1/licenses",
        json=person_body(fields={"qualification": "焊工", "level": 1}),
        headers=headers,
    )
    assert_problem(other, 422, "idempotency-key-reused")
    assert count(app, License) == 1 and count(app, IdempotencyRecord) == 1


@pytest.mark.parametrize(
    ("body", "status", "slug", "member"),
    [
        (person_body(type="NOSUCH01"), 404, "unknown-license-type", ("type_code", "NOSUCH01")),
        (
            person_body(fields={"qualification": "电工", "level": 7}),
            422,
            "schema-violation",
            ("pointer", "/fields/level"),
        ),
        (
            person_body(fields={"level": 2}),
            422,
            "schema-violation",
            ("pointer", "/fields/qualification"),
        ),
        (
            person_body(
                holder={"id": PERSON_ID[:-1] + "0" if PERSON_ID[-1] != "0" else "1", "name": "张三"}
            ),
            422,
            "invalid-holder",
            ("pointer", "/holder/id"),
        ),
        (
            person_body(holder={"id": "11010519990230001X", "name": "张三"}),
            422,
            "invalid-holder",
            ("pointer", "/holder/id"),
        ),
        (org_body(holder={"id": "91350100MA00000", "name": "x"}), 422, "invalid-holder", None),
        (
            person_body(holder={"id": PERSON_ID}),
            400,
            "invalid-request",
            ("pointer", "/holder/name"),
        ),
        ([1, 2], 400, "invalid-request", None),
    ],
)
def test_refusals_are_problems_and_write_nothing(
    app: Any,
    client: Any,
    dept_token: str,
    body: Any,
    status: int,
    slug: str,
    member: tuple[str, str] | None,
) -> None:
    before = count(app, License)
    response = client.post(
        "/api/v1/licenses", json=body, headers=auth(dept_token, **{"Idempotency-Key": "x1"})
    )
    problem = assert_problem(response, status, slug)
    if member:
        assert problem[member[0]] == member[1]
    if slug == "invalid-holder":
        assert problem["reason"]  # the specific reason, e.g. check_digit
        assert PERSON_ID[:-1] not in response.get_data(as_text=True)
    assert count(app, License) == before == 0
    assert count(app, IdempotencyRecord) == 0


def test_type_of_another_department(
    app: Any, client: Any, runner: Any, setup_dept: str, make_department: Any
) -> None:
    make_department(OTHER_DEPT_CODE, name="省人力资源和社会保障厅")
    cid, secret = make_client(app, runner, "licenses:issue", department=OTHER_DEPT_CODE)
    token = token_for(client, cid, secret, "licenses:issue")
    response = client.post("/api/v1/licenses", json=person_body(), headers=auth(token))
    assert_problem(response, 403, "type-not-owned")
    assert count(app, License) == 0


def test_client_without_department(app: Any, client: Any, runner: Any, setup_dept: str) -> None:
    cid, secret = make_client(app, runner, "licenses:issue")
    token = token_for(client, cid, secret, "licenses:issue")
    response = client.post("/api/v1/licenses", json=person_body(), headers=auth(token))
    assert_problem(response, 403, "not-a-department-client")
    assert count(app, License) == 0


def test_token_problems(app: Any, client: Any, runner: Any, setup_dept: str) -> None:
    import sqlalchemy as sa

    from authority import db
    from oidc.tokens import Token

    none = client.post("/api/v1/licenses", json=person_body())
    assert none.status_code == 401 and "Bearer" in none.headers["WWW-Authenticate"]
    bad = client.post("/api/v1/licenses", json=person_body(), headers=auth("not-a-token"))
    assert bad.status_code == 401 and "invalid_token" in bad.headers["WWW-Authenticate"]
    assert bad.mimetype == PROBLEM
    # A token without licenses:issue.
    cid, secret = make_client(app, runner, "licenses:status", department=DEPT_CODE)
    weak = token_for(client, cid, secret, "licenses:status")
    scope = client.post("/api/v1/licenses", json=person_body(), headers=auth(weak))
    assert scope.status_code == 403
    assert "insufficient_scope" in scope.headers["WWW-Authenticate"]
    assert scope.mimetype == PROBLEM
    # An expired token.
    cid, secret = make_client(app, runner, "licenses:issue", department=DEPT_CODE)
    token = token_for(client, cid, secret, "licenses:issue")
    with app.app_context(), db.session_scope(app) as session:
        session.execute(sa.update(Token).where(Token.client_id == cid).values(access_expires_at=1))
    expired = client.post("/api/v1/licenses", json=person_body(), headers=auth(token))
    assert expired.status_code == 401 and "invalid_token" in expired.headers["WWW-Authenticate"]
    assert count(app, License) == 0


def test_status_changes_over_http(client: Any, dept_token: str) -> None:
    lic = client.post("/api/v1/licenses", json=person_body(), headers=auth(dept_token)).get_json()
    base = f"/api/v1/licenses/{lic['id']}"
    r = client.post(
        f"{base}/suspend", json={"reason": "under_investigation"}, headers=auth(dept_token)
    )
    assert r.status_code == 200 and r.get_json()["status"] == "suspended"
    assert client.get(f"{base}/status").get_json()["status"] == "suspended"
    r = client.post(f"{base}/reinstate", headers=auth(dept_token))
    assert r.get_json()["status"] == "valid"
    assert_problem(client.post(f"{base}/reinstate", headers=auth(dept_token)), 409)
    r = client.post(f"{base}/revoke", json={"reason": "nope"}, headers=auth(dept_token))
    assert_problem(r, 400, "invalid-request")
    new = client.post(
        f"{base}/supersede",
        json={"fields": {"qualification": "电工", "level": 5}},
        headers=auth(dept_token),
    )
    assert new.status_code == 201
    assert new.get_json()["id"].startswith(f"QUALCERT-{DEPT_CODE}-0000000001-02-")
    old = client.get(f"{base}/status").get_json()
    assert old["status"] == "revoked" and old["superseded_by"] == new.get_json()["id"]
    assert_problem(client.get("/api/v1/licenses/NOSUCH/status"), 404, "unknown-license")


def test_other_department_cannot_change_status(
    app: Any, client: Any, runner: Any, dept_token: str, make_department: Any
) -> None:
    lic = client.post("/api/v1/licenses", json=person_body(), headers=auth(dept_token)).get_json()
    make_department(OTHER_DEPT_CODE, name="省人力资源和社会保障厅")
    cid, secret = make_client(app, runner, "licenses:issue", department=OTHER_DEPT_CODE)
    other = token_for(client, cid, secret, "licenses:issue")
    r = client.post(
        f"/api/v1/licenses/{lic['id']}/revoke", json={"reason": "fraud"}, headers=auth(other)
    )
    assert_problem(r, 403, "license-not-owned")
    assert_problem(client.get(f"/api/v1/licenses/{lic['id']}", headers=auth(other)), 403)
    assert client.get(f"/api/v1/licenses/{lic['id']}/status").get_json()["status"] == "valid"


@pytest.mark.parametrize("path", ["/api/v1/licenses/batch", "/api/v1/licenses:batch"])
def test_batch(app: Any, client: Any, dept_token: str, path: str) -> None:
    items = [
        person_body(idempotency_key="1"),
        person_body(fields={"qualification": "电工", "level": 0}, idempotency_key="2"),
        org_body(idempotency_key="3"),
    ]
    r = client.post(path, json={"items": items}, headers=auth(dept_token))
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["issued"] == 2 and body["failed"] == 1
    statuses = [x["status"] for x in body["results"]]
    assert statuses == [201, 422, 201]
    assert body["results"][1]["problem"]["pointer"] == "/items/1/fields/level"
    assert count(app, License) == 2
    again = client.post(path, json={"items": items}, headers=auth(dept_token)).get_json()
    assert [x["status"] for x in again["results"]] == [200, 422, 200]
    assert count(app, License) == 2
    assert_problem(client.post(path, json={"items": []}, headers=auth(dept_token)), 400)


def test_catalogue_api(app: Any, client: Any, runner: Any, setup_dept: str) -> None:
    listing = client.get("/api/v1/catalogue/types").get_json()
    assert [t["code"] for t in listing["types"]] == ["BIZLIC01", "QUALCERT"]
    cid, secret = make_client(app, runner, "catalogue:admin")
    admin = token_for(client, cid, secret, "catalogue:admin")
    new_type = {
        "code": "DRIVER01",
        "name_zh": "驾驶证",
        "name_en": "Driving licence",
        "department": DEPT_CODE,
        "holder_kind": "person",
        "schema": PERSON_SCHEMA,
        "validity_days": 3650,
    }
    r = client.post("/api/v1/catalogue/types", json=new_type, headers=auth(admin))
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["version"] == 1
    assert_problem(client.post("/api/v1/catalogue/types", json=new_type, headers=auth(admin)), 409)
    bad = dict(
        new_type, code="DRIVER02", schema={"type": "object", "properties": {"a": {"minLength": -1}}}
    )
    problem = assert_problem(
        client.post("/api/v1/catalogue/types", json=bad, headers=auth(admin)), 422
    )
    assert problem["pointer"].startswith("/schema")
    r = client.put(
        "/api/v1/catalogue/types/DRIVER01/schema",
        json={"schema": {"type": "object"}},
        headers=auth(admin),
    )
    assert r.status_code == 201 and r.get_json()["version"] == 2
    shown = client.get("/api/v1/catalogue/types/DRIVER01").get_json()
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert count(app, LicenseType) == 4
    # A department token may not manage the catalogue.
    dept_cid, dept_secret = make_client(app, runner, "licenses:issue", department=DEPT_CODE)
    dept = token_for(client, dept_cid, dept_secret, "licenses:issue")
    denied = client.post(
        "/api/v1/catalogue/types", json=dict(new_type, code="DRIVER03"), headers=auth(dept)
    )
    assert denied.status_code == 403
    assert count(app, LicenseType) == 4
