"""Departments, key certification, rotation and compromise, through the CLI and the bundle."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from certs.errors import DepartmentExists, InvalidDepartment
from tests.certs.conftest import DEPT_CODE, PERSON_SCHEMA, person_body
from tests.certs.test_issuance import bundle_of, issue


def test_add_validates_and_certifies(app: Any, root: Any) -> None:
    from authority import db
    from certs import catalogue, departments
    from keys.x509 import Certificate

    with app.app_context(), db.session_scope(app) as session:
        with pytest.raises(InvalidDepartment) as info:
            departments.add(
                session, name="x", credit_code=DEPT_CODE[:-1] + "0", region_code="350000"
            )
        assert info.value.extra["pointer"] == "/credit_code"
        with pytest.raises(InvalidDepartment):
            departments.add(session, name="x", credit_code=DEPT_CODE, region_code="35")
        dept = departments.add(
            session, name="省市场监督管理局", credit_code=DEPT_CODE, region_code="350000"
        )
        assert dept.certificates == []  # certified with its first type
        catalogue.add_type(
            session,
            code="QUALCERT",
            name_zh="职业资格证书",
            name_en="Qualification certificate",
            department=dept,
            holder_kind="person",
            schema=PERSON_SCHEMA,
        )
        session.refresh(dept)
        (cert_row,) = dept.certificates
        assert cert_row.license_types == ["QUALCERT"]
        cert = Certificate.from_pem(cert_row.certificate_pem.encode())
        cert.verify_issued_by(root)
        assert cert.kid.hex() == cert_row.kid
        with pytest.raises(DepartmentExists):
            departments.add(session, name="y", credit_code=DEPT_CODE, region_code="350000")


def test_cli_add_list_keys(runner: Any, root: Any) -> None:
    result = runner.invoke(
        args=["departments", "add", "--name", "省市场监督管理局", "--credit-code", DEPT_CODE,
              "--region", "350000"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["departments", "list"]).output.splitlines()
    assert listed[0].split() == ["CREDIT", "CODE", "REGION", "NAME"]
    assert listed[1].split() == [DEPT_CODE, "350000", "省市场监督管理局"]
    as_json = json.loads(runner.invoke(args=["departments", "list", "--json"]).output)
    assert as_json == [
        {"credit_code": DEPT_CODE, "region_code": "350000", "name": "省市场监督管理局"}
    ]
    # No type yet, so no certified key: said in words, not as an empty table.
    keys = runner.invoke(args=["departments", "keys", DEPT_CODE])
    assert keys.exit_code == 0 and "no certified key yet" in keys.output
    bad = runner.invoke(
        args=["departments", "add", "--name", "x", "--credit-code", "123", "--region", "350000"]
    )
    assert bad.exit_code != 0 and "credit" in bad.output


def test_rotation_keeps_old_key_published(app: Any, runner: Any, setup_dept: str) -> None:
    from verify.decode import decode
    from verify.verifier import verify

    _, before = issue(app, person_body())
    result = runner.invoke(args=["departments", "rotate-key", DEPT_CODE])
    assert result.exit_code == 0, result.output
    _, after = issue(app, person_body())
    old, new = decode(before["qr_text"]), decode(after["qr_text"])
    assert old.kid != new.kid
    bundle = bundle_of(app)
    assert old.kid in bundle.keys and new.kid in bundle.keys
    assert str(verify(old, bundle, old.claims.iat + 5).state) == "valid"
    assert str(verify(new, bundle, new.claims.iat + 5).state) == "valid"
    table = runner.invoke(args=["departments", "keys", DEPT_CODE]).output.splitlines()
    assert table[0].split() == ["CERTIFICATE", "KID", "KEY", "KID", "TYPES", "STATE"]
    states = [row["state"] for row in json.loads(
        runner.invoke(args=["departments", "keys", DEPT_CODE, "--json"]).output
    )]  # fmt: skip
    assert states.count("current") == 1
    assert any(s.startswith("retired ") for s in states), states


def test_compromise_stops_later_signatures_only(app: Any, runner: Any, setup_dept: str) -> None:
    from dataclasses import replace

    from authority import db
    from certs import departments
    from verify.decode import decode
    from verify.encode import encode
    from verify.verifier import verify

    _, body = issue(app, person_body())
    honest = decode(body["qr_text"])
    # An attacker who stole the key signs a license dated later.
    with app.app_context(), db.session_scope(app) as session:
        dept = departments.get(session, DEPT_CODE)
        row = departments.current_certificate(session, dept)
        stolen = departments.signing_key(session, row)
    forged_claims = replace(honest.claims, license_id="FORGED", iat=honest.claims.iat + 100)
    forged = decode(encode(forged_claims, stolen, honest.kid))
    at = datetime.fromtimestamp(honest.claims.iat + 50, UTC).isoformat()
    result = runner.invoke(
        args=["departments", "report-compromised", DEPT_CODE, honest.kid.hex(), "--at", at]
    )
    assert result.exit_code == 0, result.output
    bundle = bundle_of(app)
    assert bundle.keys[honest.kid].compromised_at == honest.claims.iat + 50
    assert str(verify(honest, bundle, honest.claims.iat + 200).state) == "valid"
    assert str(verify(forged, bundle, honest.claims.iat + 200).state) == "key_compromised"
    # The department keeps issuing with a new key.
    _, fresh = issue(app, person_body())
    lic = decode(fresh["qr_text"])
    assert lic.kid != honest.kid
    assert str(verify(lic, bundle_of(app), lic.claims.iat + 5).state) == "valid"
    naive = runner.invoke(
        args=["departments", "report-compromised", DEPT_CODE, lic.kid.hex(), "--at",
              "2026-01-01T00:00:00"]
    )  # fmt: skip
    assert naive.exit_code != 0 and "zone" in naive.output


def test_retired_key_leaves_the_bundle_once_its_licenses_expired(
    app: Any, runner: Any, setup_dept: str
) -> None:
    from datetime import timedelta

    from authority import db
    from certs import bundle

    _, before = issue(app, person_body())  # QUALCERT: valid 365 days
    assert runner.invoke(args=["departments", "rotate-key", DEPT_CODE]).exit_code == 0
    with app.app_context(), db.session_scope(app) as session:
        now = datetime.now(UTC)
        kids_now = {c.kid for c in bundle.published_certificates(session, now)}
        later = {c.kid for c in bundle.published_certificates(session, now + timedelta(days=400))}
    assert before["kid"] in kids_now and len(kids_now) == 2
    assert before["kid"] not in later and len(later) == 1
