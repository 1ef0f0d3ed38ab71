"""Issuing licenses through the service layer: identifiers, signing, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from certs.errors import InvalidHolder, SchemaViolation, TypeNotOwned, UnknownType
from certs.identifiers import LicenseIdentifier
from certs.models import IdempotencyRecord, License
from tests.certs.conftest import (
    DEPT_CODE,
    ORG_CODE,
    OTHER_DEPT_CODE,
    PERSON_ID,
    count,
    org_body,
    person_body,
)


def issue(app: Any, body: dict[str, Any], key: str | None = None, dept: str = DEPT_CODE) -> Any:
    from authority import db
    from certs import departments, issuance

    with app.test_request_context(), db.session_scope(app) as session:
        issued = issuance.issue(
            session, departments.get(session, dept), body, client_id="c1", idempotency_key=key
        )
        return issued, issuance.license_json(issued.license)


def bundle_of(app: Any) -> Any:
    from authority import db
    from certs import bundle
    from verify.bundle import TrustBundle

    with app.app_context(), db.session_scope(app) as session:
        record = bundle.current(session)
        pin = bytes.fromhex(record.summary["root"]["fingerprint_sm3"])
        return TrustBundle.load(record.data, pinned_root=pin)


def test_issue_person_license_verifies_offline(app: Any, setup_dept: str) -> None:
    from verify.claims import holder_digest
    from verify.decode import decode
    from verify.verifier import VerdictState, verify

    issued, body = issue(app, person_body())
    assert issued.created
    ident = LicenseIdentifier.parse(body["id"])
    assert (ident.type_code, ident.issuer, ident.serial, ident.version) == (
        "QUALCERT", DEPT_CODE, 1, 1,
    )  # fmt: skip
    assert body["holder"]["id_masked"] != PERSON_ID and body["holder"]["id_masked"].endswith(
        PERSON_ID[-4:]
    )
    assert body["links"]["qr_png"].endswith(f"/licenses/{body['id']}/qr.png")
    assert body["links"]["qr_svg"].endswith(f"/licenses/{body['id']}/qr.svg")
    assert body["expires_at"] is not None
    lic = decode(body["qr_text"])
    assert lic.claims.license_id == body["id"]
    assert lic.claims.issuer == DEPT_CODE
    assert lic.claims.holder_id_digest == holder_digest(PERSON_ID, lic.claims.holder_id_salt)
    assert lic.claims.fields == {"qualification": "电工", "level": 3}
    verdict = verify(lic, bundle_of(app), lic.claims.iat + 10)
    assert verdict.state == VerdictState.VALID, verdict.explanation_en


def test_serials_and_status_indexes_increase(app: Any, setup_dept: str) -> None:
    ids = [issue(app, person_body())[1] for _ in range(3)]
    org = issue(app, org_body())[1]
    assert [LicenseIdentifier.parse(b["id"]).serial for b in ids] == [1, 2, 3]
    # Serials are per type: the organisation type starts at 1 again.
    assert LicenseIdentifier.parse(org["id"]).serial == 1
    assert org["expires_at"] is None and org["holder"]["id_masked"] == ORG_CODE
    indexes = [b["status_index"] for b in [*ids, org]]
    assert indexes == [0, 1, 2, 3]


def test_idempotency_same_key_same_license(app: Any, setup_dept: str) -> None:
    from certs.errors import IdempotencyMismatch

    first, body1 = issue(app, person_body(), key="k-1")
    again, body2 = issue(app, person_body(), key="k-1")
    assert first.created and not again.created
    assert body1["id"] == body2["id"] and body1["qr_text"] == body2["qr_text"]
    with pytest.raises(IdempotencyMismatch):
        issue(app, person_body(fields={"qualification": "焊工", "level": 3}), key="k-1")
    assert count(app, License) == 1 and count(app, IdempotencyRecord) == 1


@pytest.mark.parametrize(
    ("body", "error", "check"),
    [
        (person_body(type="NOSUCH01"), UnknownType, lambda e: True),
        (
            person_body(
                holder={
                    "id": PERSON_ID[:-1] + ("0" if PERSON_ID[-1] != "0" else "1"),
                    "name": "张三",
                }
            ),
            InvalidHolder,
            lambda e: e.extra["reason"] and e.extra["pointer"] == "/holder/id",
        ),
        (
            person_body(holder={"id": "123", "name": "张三"}),
            InvalidHolder,
            lambda e: e.extra["pointer"] == "/holder/id",
        ),
        (
            person_body(fields={"qualification": "电工", "level": "high"}),
            SchemaViolation,
            lambda e: e.extra["pointer"] == "/fields/level",
        ),
        (
            org_body(fields={"registered_capital": 1, "legal_representative": "x" * 2000}),
            SchemaViolation,
            lambda e: e.extra["pointer"] == "/fields" and "too long" in e.detail,
        ),
        (
            org_body(
                fields={"registered_capital": 1, "legal_representative": "x", "extra": {"a": 1}}
            ),
            SchemaViolation,
            lambda e: e.extra["pointer"] == "/fields",
        ),
        (
            org_body(holder={"id": PERSON_ID, "name": "x"}),
            InvalidHolder,
            lambda e: e.extra["holder_kind"] == "organisation",
        ),
    ],
)
def test_refusals_write_nothing(
    app: Any, setup_dept: str, body: dict[str, Any], error: type, check: Any
) -> None:
    before = count(app, License)
    with pytest.raises(error) as info:
        issue(app, body, key="k-refused")
    assert check(info.value)
    assert count(app, License) == before == 0
    assert count(app, IdempotencyRecord) == 0


def test_type_of_another_department_is_refused(
    app: Any, setup_dept: str, make_department: Any
) -> None:
    make_department(OTHER_DEPT_CODE, name="省人力资源和社会保障厅")
    with pytest.raises(TypeNotOwned):
        issue(app, person_body(), dept=OTHER_DEPT_CODE)
    assert count(app, License) == 0


def test_issued_license_keeps_its_schema_version(app: Any, setup_dept: str) -> None:
    from authority import db
    from certs import catalogue

    _, before = issue(app, person_body())
    with app.app_context(), db.session_scope(app) as session:
        catalogue.update_schema(
            session,
            "QUALCERT",
            {"type": "object", "required": ["grade"], "properties": {"grade": {"type": "string"}}},
        )
    with pytest.raises(SchemaViolation):
        issue(app, person_body())
    _, after = issue(app, person_body(fields={"grade": "A"}))
    assert after["type_version"] == 2
    with app.test_request_context(), db.session_scope(app) as session:
        from certs import status

        old = status.get(session, before["id"])
        assert old.license_type.version == 1
        assert old.fields == {"qualification": "电工", "level": 3}


def test_batch_items_are_independent(app: Any, setup_dept: str) -> None:
    from authority import db
    from certs import departments, issuance

    items = [
        person_body(idempotency_key="a"),
        person_body(fields={"level": 1}),  # schema violation
        org_body(idempotency_key="b"),
        person_body(idempotency_key="a"),  # same key twice: the same license
    ]
    with app.test_request_context(), db.session_scope(app) as session:
        results = issuance.issue_batch(
            session, departments.get(session, DEPT_CODE), items, client_id="c1"
        )
        assert [r.issued is not None for r in results] == [True, False, True, True]
        assert results[1].error is not None
        assert results[1].error.extra["pointer"] == "/items/1/fields/qualification"
        assert results[3].issued.license.identifier == results[0].issued.license.identifier
        assert not results[3].issued.created
    assert count(app, License) == 2
    with app.test_request_context(), db.session_scope(app) as session:
        again = issuance.issue_batch(
            session, departments.get(session, DEPT_CODE), items, client_id="c1"
        )
        assert [r.issued.created for r in again if r.issued] == [False, False, False]
    assert count(app, License) == 2
