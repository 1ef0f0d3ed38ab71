"""Demo data for the quick start (``authority init --demo``): a department, two license
types and a few licenses for the demo citizen and company.

The demo holders are the oidc slice's demo accounts (oidc/demo_accounts.py): 张三, ID
number ``11010519900307451`` + check digit, and 北京示例科技有限公司, credit code
``91110105`` + ``MA01XQ7K`` + check characters. certs/ may not import oidc/ internals,
so the same values are computed here with keys.validators. All are made up but valid.

The department's OAuth client is made with the oidc operator CLI (the command is
printed): certs/ cannot create clients itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from authority import audit, demo
from certs import catalogue, departments, issuance
from certs.models import Department
from keys.validators import (
    credit_code_check_char,
    id_number_check_char,
    organisation_code_check_char,
)


def _credit_code(prefix8: str, org8: str) -> str:
    body = prefix8 + org8 + organisation_code_check_char(org8)
    return body + credit_code_check_char(body)


DEMO_DEPARTMENT_NAME = "北京市市场监督管理局（演示）"
DEMO_DEPARTMENT_CODE = demo.DEMO_DEPARTMENT_CODE
DEMO_REGION = "110000"
DEMO_PERSON_ID = "11010519900307451" + id_number_check_char("11010519900307451")
DEMO_PERSON_NAME = "张三"
DEMO_ORG_CODE = _credit_code("91110105", "MA01XQ7K")
DEMO_ORG_NAME = "北京示例科技有限公司"

BUSINESS_LICENSE = "BIZLIC01"
QUALIFICATION = "QUALCERT"

BUSINESS_SCHEMA = {
    "type": "object",
    "required": ["legal_representative", "registered_capital", "established", "business_scope"],
    "additionalProperties": False,
    "properties": {
        "legal_representative": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "title": "法定代表人",
            "x-title-en": "Legal representative",
        },
        "registered_capital": {
            "type": "integer",
            "minimum": 0,
            "description": "元",
            "title": "注册资本（元）",
            "x-title-en": "Registered capital (yuan)",
        },
        "established": {
            "type": "string",
            "format": "date",
            "title": "成立日期",
            "x-title-en": "Date of establishment",
        },
        "business_scope": {
            "type": "string",
            "minLength": 1,
            "maxLength": 500,
            "title": "经营范围",
            "x-title-en": "Business scope",
        },
        "address": {
            "type": "string",
            "maxLength": 200,
            "title": "住所",
            "x-title-en": "Address",
        },
    },
}
QUALIFICATION_SCHEMA = {
    "type": "object",
    "required": ["qualification", "level"],
    "additionalProperties": False,
    "properties": {
        "qualification": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "title": "职业资格",
            "x-title-en": "Qualification",
        },
        "level": {
            "type": "integer",
            "minimum": 1,
            "maximum": 5,
            "title": "等级",
            "x-title-en": "Level",
        },
        "issuing_body": {
            "type": "string",
            "maxLength": 100,
            "title": "评价机构",
            "x-title-en": "Assessed by",
        },
    },
}

DEMO_LICENSES = [
    (
        "demo-bizlic",
        {
            "type": BUSINESS_LICENSE,
            "holder": {"id": DEMO_ORG_CODE, "name": DEMO_ORG_NAME},
            "fields": {
                "legal_representative": DEMO_PERSON_NAME,
                "registered_capital": 5_000_000,
                "established": "2020-06-18",
                "business_scope": "软件开发；信息技术咨询服务",
                "address": "北京市朝阳区示例路1号",
            },
        },
    ),
    (
        "demo-qualification",
        {
            "type": QUALIFICATION,
            "holder": {"id": DEMO_PERSON_ID, "name": DEMO_PERSON_NAME},
            "fields": {
                "qualification": "电工",
                "level": 3,
                "issuing_body": "北京市职业技能鉴定中心",
            },
        },
    ),
    (
        "demo-qualification-2",
        {
            "type": QUALIFICATION,
            "holder": {"id": DEMO_PERSON_ID, "name": DEMO_PERSON_NAME},
            "fields": {"qualification": "软件设计师", "level": 2},
        },
    ),
]
DEMO_CLIENT_ID = "demo"


@demo.register
def seed_demo_licenses(session: Session) -> Iterable[str]:
    """The demo department, its types and licenses (idempotent)."""
    lines = []
    dept = session.scalar(
        sa.select(Department).where(Department.credit_code == DEMO_DEPARTMENT_CODE)
    )
    if dept is None:
        dept = departments.add(
            session,
            name=DEMO_DEPARTMENT_NAME,
            credit_code=DEMO_DEPARTMENT_CODE,
            region_code=DEMO_REGION,
            actor="operator:demo",
        )
        lines.append(f"demo department: {DEMO_DEPARTMENT_CODE} {DEMO_DEPARTMENT_NAME}")
    else:
        lines.append(f"demo department: {DEMO_DEPARTMENT_CODE} (already present)")
    known = {t.code for t in catalogue.list_types(session)}
    for code, zh, en, kind, schema, days in (
        (BUSINESS_LICENSE, "营业执照", "Business license", "organisation", BUSINESS_SCHEMA, None),
        (QUALIFICATION, "职业资格证书", "Qualification certificate", "person",
         QUALIFICATION_SCHEMA, 1825),
    ):  # fmt: skip
        if code not in known:
            catalogue.add_type(
                session,
                code=code,
                name_zh=zh,
                name_en=en,
                department=dept,
                holder_kind=kind,
                schema=schema,
                validity_days=days,
            )
            audit.record(
                session, "catalogue.type_added", actor="operator:demo", subject=code,
                details={"version": 1},
            )  # fmt: skip
    lines.append(f"demo license types: {BUSINESS_LICENSE} 营业执照, {QUALIFICATION} 职业资格证书")
    issued = []
    for key, body in DEMO_LICENSES:
        prepared = issuance.prepare(session, dept, body, idempotency_key=key)
        found = issuance.existing(session, DEMO_CLIENT_ID, prepared)
        if found is None:
            (lic,) = issuance.write(session, dept, [prepared], client_id=DEMO_CLIENT_ID)
        else:
            lic = found.license
        issued.append(lic.identifier)
    lines.append(f"demo licenses: {', '.join(issued)}")
    return lines
