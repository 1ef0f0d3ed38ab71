"""Fixtures for the license service: the provincial root, departments, types."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from keys.validators import (
    credit_code_check_char,
    id_number_check_char,
    organisation_code_check_char,
)


def credit_code(prefix8: str, org8: str) -> str:
    """A unified social credit code: GB 11714 organisation code, GB 32100-2015 check."""
    body = prefix8 + org8 + organisation_code_check_char(org8)
    return body + credit_code_check_char(body)


def id_number(body17: str) -> str:
    """A citizen ID number with its GB 11643-1999 check digit."""
    return body17 + id_number_check_char(body17)


DEPT_CODE = credit_code("11350000", "MB000001")
OTHER_DEPT_CODE = credit_code("11350000", "MB000002")
PERSON_ID = id_number("35010219900307123")
ORG_CODE = credit_code("91350100", "MA000001")

PERSON_SCHEMA = {
    "type": "object",
    "required": ["qualification", "level"],
    "additionalProperties": False,
    "properties": {
        "qualification": {"type": "string", "minLength": 1, "maxLength": 100},
        "level": {"type": "integer", "minimum": 1, "maximum": 5},
    },
}
ORG_SCHEMA = {
    "type": "object",
    "required": ["registered_capital", "legal_representative"],
    "properties": {
        "registered_capital": {"type": "integer", "minimum": 0},
        "legal_representative": {"type": "string", "minLength": 1},
        "business_scope": {"type": "string"},
    },
}


@pytest.fixture
def root(app: Any) -> Any:
    """The provincial root, created as ``authority init`` does."""
    from authority import db
    from authority.root import ensure_root

    with app.app_context(), db.session_scope(app) as session:
        _, _stored, cert = ensure_root(session, app.extensions["authority.settings"])
        return cert


@pytest.fixture
def make_department(app: Any, root: Any) -> Callable[..., str]:
    from authority import db
    from certs import departments

    def make(code: str = DEPT_CODE, name: str = "省市场监督管理局") -> str:
        with app.app_context(), db.session_scope(app) as session:
            departments.add(session, name=name, credit_code=code, region_code="350000")
        return code

    return make


@pytest.fixture
def make_type(app: Any) -> Callable[..., str]:
    from authority import db
    from certs import catalogue, departments

    def make(
        code: str = "QUALCERT",
        *,
        department: str = DEPT_CODE,
        holder_kind: str = "person",
        schema: dict[str, Any] | None = None,
        validity_days: int | None = 365,
    ) -> str:
        with app.app_context(), db.session_scope(app) as session:
            catalogue.add_type(
                session,
                code=code,
                name_zh="职业资格证书" if holder_kind == "person" else "营业执照",
                name_en="Qualification certificate"
                if holder_kind == "person"
                else "Business license",
                department=departments.get(session, department),
                holder_kind=holder_kind,
                schema=schema or (PERSON_SCHEMA if holder_kind == "person" else ORG_SCHEMA),
                validity_days=validity_days,
            )
        return code

    return make


@pytest.fixture
def setup_dept(make_department: Callable[..., str], make_type: Callable[..., str]) -> str:
    """A department owning QUALCERT (persons, 365 days) and BIZLIC01 (organisations, no expiry)."""
    make_department()
    make_type("QUALCERT")
    make_type("BIZLIC01", holder_kind="organisation", validity_days=None)
    return DEPT_CODE


def person_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "QUALCERT",
        "holder": {"id": PERSON_ID, "name": "张三"},
        "fields": {"qualification": "电工", "level": 3},
    }
    body.update(overrides)
    return body


def org_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "BIZLIC01",
        "holder": {"id": ORG_CODE, "name": "福州示例科技有限公司"},
        "fields": {"registered_capital": 1000000, "legal_representative": "张三"},
    }
    body.update(overrides)
    return body


def count(app: Any, model: Any) -> int:
    import sqlalchemy as sa

    from authority import db

    with app.app_context(), db.session_scope(app) as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


# ---------------------------------------------------------------- OAuth clients and tokens


def make_client(
    app: Any, runner: Any, *scopes: str, department: str | None = None
) -> tuple[str, str]:
    """A client made with the operator CLI, as typed: ``authority clients create``."""
    args = ["clients", "create", "--name", "部门系统", "--grant-type", "client_credentials"]
    for scope in scopes:
        args += ["--scope", scope]
    if department:
        args += ["--department", department]
    with app.app_context():
        result = runner.invoke(args=[*args, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    return body["client_id"], body["client_secret"]


def token_for(client: Any, client_id: str, secret: str, scope: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": scope},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.get_json()["access_token"])


@pytest.fixture
def dept_token(app: Any, client: Any, runner: Any, setup_dept: str) -> str:
    cid, secret = make_client(app, runner, "licenses:issue", department=DEPT_CODE)
    return token_for(client, cid, secret, "licenses:issue")


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}
