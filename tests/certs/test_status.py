"""Status changes: suspend, reinstate, revoke (final), supersede; each reaches the bundle."""

from __future__ import annotations

from typing import Any

import pytest

from certs.errors import InvalidRequest, InvalidTransition, LicenseNotOwned
from certs.identifiers import LicenseIdentifier
from certs.models import License
from tests.certs.conftest import DEPT_CODE, OTHER_DEPT_CODE, count, person_body
from tests.certs.test_issuance import bundle_of, issue


def change(app: Any, action: str, identifier: str, *args: Any, dept: str = DEPT_CODE) -> Any:
    from authority import db
    from certs import departments, issuance, status

    with app.test_request_context(), db.session_scope(app) as session:
        d = departments.get(session, dept)
        fn = getattr(status, action)
        lic = fn(session, d, identifier, *args, actor="c1")
        return issuance.license_json(lic)


def verdict_of(app: Any, qr: str) -> str:
    from verify.decode import decode
    from verify.verifier import verify

    lic = decode(qr)
    return str(verify(lic, bundle_of(app), lic.claims.iat + 5).state)


def sequence(app: Any) -> int:
    from authority import db
    from certs import bundle

    with app.app_context(), db.session_scope(app) as session:
        return bundle.current(session).sequence


def test_lifecycle_reaches_the_bundle(app: Any, setup_dept: str) -> None:
    _, body = issue(app, person_body())
    ident, qr = body["id"], body["qr_text"]
    seq0 = sequence(app)
    assert verdict_of(app, qr) == "valid"
    assert sequence(app) == seq0  # unchanged state: the same bundle is served

    assert change(app, "suspend", ident, "under_investigation")["status"] == "suspended"
    assert sequence(app) == seq0 + 1
    assert verdict_of(app, qr) == "suspended"
    with pytest.raises(InvalidTransition):
        change(app, "suspend", ident, "under_investigation")

    assert change(app, "reinstate", ident)["status"] == "valid"
    assert verdict_of(app, qr) == "valid"
    with pytest.raises(InvalidTransition):
        change(app, "reinstate", ident)

    with pytest.raises(InvalidRequest):
        change(app, "revoke", ident, "because I said so")
    assert change(app, "revoke", ident, "withdrawn")["status"] == "revoked"
    assert verdict_of(app, qr) == "revoked"
    for action, args in (("revoke", ("fraud",)), ("reinstate", ()), ("suspend", ("other",))):
        with pytest.raises(InvalidTransition):
            change(app, action, ident, *args)
    assert sequence(app) == seq0 + 3


def test_supersede_issues_next_version_and_revokes_old(app: Any, setup_dept: str) -> None:
    from verify.decode import decode

    _, body = issue(app, person_body())
    new = change(app, "supersede", body["id"], {"fields": {"qualification": "电工", "level": 4}})
    old_ident, new_ident = LicenseIdentifier.parse(body["id"]), LicenseIdentifier.parse(new["id"])
    assert new_ident.serial == old_ident.serial and new_ident.version == 2
    assert new["fields"]["level"] == 4 and new["holder"] == body["holder"]
    # The holder digest is carried over: the same card still matches.
    assert (
        decode(new["qr_text"]).claims.holder_id_digest
        == decode(body["qr_text"]).claims.holder_id_digest
    )
    assert verdict_of(app, body["qr_text"]) == "revoked"
    assert verdict_of(app, new["qr_text"]) == "valid"
    from authority import db
    from certs import status

    with app.app_context(), db.session_scope(app) as session:
        old = status.get(session, body["id"])
        assert old.status_reason == "superseded" and old.superseded_by == new["id"]
    with pytest.raises(InvalidTransition):
        change(app, "supersede", body["id"], {})
    assert count(app, License) == 2


def test_only_the_owning_department_changes_status(
    app: Any, setup_dept: str, make_department: Any
) -> None:
    _, body = issue(app, person_body())
    make_department(OTHER_DEPT_CODE, name="省人力资源和社会保障厅")
    with pytest.raises(LicenseNotOwned):
        change(app, "revoke", body["id"], "fraud", dept=OTHER_DEPT_CODE)
    assert verdict_of(app, body["qr_text"]) == "valid"


def test_status_changes_are_audited_without_personal_data(app: Any, setup_dept: str) -> None:
    import sqlalchemy as sa

    from authority import db
    from authority.models import AuditEntry
    from tests.certs.conftest import PERSON_ID

    _, body = issue(app, person_body())
    change(app, "suspend", body["id"], "holder_request")
    with app.app_context(), db.session_scope(app) as session:
        rows = session.execute(
            sa.select(AuditEntry.event, AuditEntry.subject, AuditEntry.details).where(
                AuditEntry.event.like("license.%")
            )
        ).all()
    events = [r.event for r in rows]
    assert events == ["license.issued", "license.suspended"]
    assert all(r.subject == body["id"] for r in rows)
    assert not any(PERSON_ID in (r.details or "") or "张三" in (r.details or "") for r in rows)


def test_supersede_with_unencodable_fields_changes_nothing(app: Any, setup_dept: str) -> None:
    from certs.errors import SchemaViolation
    from tests.certs.conftest import org_body

    _, body = issue(app, org_body())
    too_long = {"registered_capital": 1, "legal_representative": "x" * 2000}
    with pytest.raises(SchemaViolation) as info:
        change(app, "supersede", body["id"], {"fields": too_long})
    assert info.value.extra["pointer"] == "/fields"
    assert count(app, License) == 1
    assert verdict_of(app, body["qr_text"]) == "valid"
