"""Helpers shared by the accounts tests (persons, logins, CSRF tokens, TOTP codes)."""

from __future__ import annotations

import re
from typing import Any

import pyotp

from keys.validators import credit_code_check_char, id_number_check_char

PASSWORD = "correct horse battery"
PHONE = "13800138000"


def id_number(first17: str = "11010519900307451") -> str:
    """A valid ID number (GB 11643 check character computed) from its first 17 digits."""
    return first17 + id_number_check_char(first17)


def credit_code(first17: str = "91110105MA01XQ7K7") -> str:
    return first17 + credit_code_check_char(first17)


ID1 = id_number("11010519900307451")
ID2 = id_number("44030619921231003")
ORG1 = credit_code("91110105MA01XQ7K7")


def make_person(
    app: Any,
    *,
    id_no: str = ID1,
    name: str = "张三",
    phone: str | None = PHONE,
    password: str | None = PASSWORD,
    totp_secret: str | None = None,
) -> int:
    """Create a person directly in the database; returns its id."""
    from authority import db, pii
    from oidc import accounts

    with app.app_context(), db.session_scope(app) as session:
        person = accounts.create_person(
            session, id_number=id_no, name=name, phone=phone, password=password
        )
        if totp_secret is not None:
            person.totp_secret_cipher = pii.encrypt(totp_secret, field="totp_secret")
            person.totp_enabled_at = accounts.now()
        session.flush()
        return person.id


def make_org(
    app: Any,
    person_id: int,
    *,
    code: str = ORG1,
    name: str = "北京示例科技有限公司",
    role: str = "legal_representative",
) -> int:
    from authority import db
    from oidc import accounts

    with app.app_context(), db.session_scope(app) as session:
        org = accounts.create_organisation(session, credit_code=code, name=name)
        person = session.get(accounts.Person, person_id)
        accounts.link_agent(session, person, org, role)
        return org.id


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post_form(client: Any, page_url: str, action: str, data: dict[str, str]) -> Any:
    """GET the page holding the form, then POST ``data`` with its CSRF token."""
    page = client.get(page_url)
    token = csrf(page.get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **data})


def login(
    client: Any,
    login_id: str = ID1,
    password: str = PASSWORD,
    *,
    next_url: str = "/account",
    force: bool = False,
) -> Any:
    return post_form(
        client,
        f"/login?next={next_url}" + ("&prompt=login" if force else ""),
        "/login",
        {"login": login_id, "password": password, "next": next_url},
    )


def totp_code(secret: str, *, offset_steps: int = 0) -> str:
    import time

    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def audit_events(app: Any) -> list[Any]:
    """Every audit entry, oldest first."""
    import sqlalchemy as sa

    from authority import db
    from authority.models import AuditEntry

    with app.app_context(), db.session_scope(app) as session:
        return list(session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)))
