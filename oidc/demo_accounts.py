"""Demo accounts for the quick start (``authority init --demo``): a citizen and a company.

The ID number and the credit code are made up but valid: their check characters are
computed with :mod:`keys.validators` (GB 11643-1999 clause 5.5, GB 32100-2015), so the
whole login path (validation, blind index, lockout) runs exactly as for real people.
The password is published in README.md: these accounts exist only for trying things out.
Seeding is not audited (it is not an operator's act on real people; ``init`` itself is).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from authority import demo
from keys.validators import (
    credit_code_check_char,
    id_number_check_char,
    organisation_code_check_char,
)
from oidc import accounts

#: 张三, born 1990-03-07, address code 110105 (Beijing, Chaoyang district).
DEMO_ID_NUMBER = "11010519900307451" + id_number_check_char("11010519900307451")
DEMO_NAME = "张三"
DEMO_PHONE = "13800138000"
DEMO_PASSWORD = "zhangsan-demo-2026"  # noqa: S105 (published demo password)
_ORG_CODE = "MA01XQ7K" + organisation_code_check_char("MA01XQ7K")
DEMO_CREDIT_CODE = "91110105" + _ORG_CODE + credit_code_check_char("91110105" + _ORG_CODE)
DEMO_ORG_NAME = "北京示例科技有限公司"


@demo.register
def seed_demo_accounts(session: Session) -> Iterable[str]:
    """The demo citizen and the company it represents (idempotent)."""
    person = accounts.find_person_by_id_number(session, DEMO_ID_NUMBER)
    if person is None:
        person = accounts.create_person(
            session,
            id_number=DEMO_ID_NUMBER,
            name=DEMO_NAME,
            phone=DEMO_PHONE,
            phone_verified=True,
            password=DEMO_PASSWORD,
        )
        state = "created"
    else:
        state = "already present"
    org = accounts.find_organisation(session, DEMO_CREDIT_CODE)
    if org is None:
        org = accounts.create_organisation(
            session, credit_code=DEMO_CREDIT_CODE, name=DEMO_ORG_NAME
        )
    accounts.link_agent(session, person, org, "legal_representative")
    return [
        f"demo citizen ({state}): {DEMO_NAME}, log in with ID number {DEMO_ID_NUMBER} "
        f"or phone {DEMO_PHONE}, password {DEMO_PASSWORD}",
        f"demo organisation: {DEMO_ORG_NAME} ({DEMO_CREDIT_CODE}), "
        f"{DEMO_NAME} is its legal representative",
    ]
