"""Accounts: persons keyed by ID number, organisations by credit code, agents, claims."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from authority import db, pii
from keys.errors import DecryptionError
from oidc import accounts
from oidc.accounts import Person
from tests.oidc.accounts_support import (
    ID1,
    ID2,
    ORG1,
    PASSWORD,
    PHONE,
    credit_code,
    make_org,
    make_person,
)


def test_person_is_stored_encrypted_with_blind_index(app):
    person_id = make_person(app)
    with app.app_context():
        engine = db.engine(app)
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT * FROM persons")).mappings().one()
        dump = repr(dict(row)).encode()
        # Neither the ID number nor the phone number appears anywhere in the row.
        assert ID1.encode() not in dump and PHONE.encode() not in dump
        assert ID1[:14].encode() not in bytes(row["id_number_cipher"])
        assert len(row["id_number_index"]) == 64
        assert row["password_hash"].startswith("$argon2id$")
        with db.session_scope(app) as session:
            person = session.get(Person, person_id)
            assert accounts.id_number_of(person) == ID1
            assert accounts.phone_of(person) == PHONE


def test_ciphertext_is_bound_to_its_field(app):
    make_person(app)
    with app.app_context(), db.session_scope(app) as session:
        person = session.scalars(sa.select(Person)).one()
        with pytest.raises(DecryptionError):
            pii.decrypt(person.id_number_cipher, field="phone")
        tampered = bytearray(person.id_number_cipher)
        tampered[-1] ^= 1
        with pytest.raises(DecryptionError):
            pii.decrypt(bytes(tampered), field="id_number")


def test_blind_index_depends_on_the_kek(app_config):
    from keys.keystore import KeyEncryptionKey

    a = pii.PiiKeys.derive(KeyEncryptionKey.from_hex("00" * 16))
    b = pii.PiiKeys.derive(KeyEncryptionKey.from_hex("11" * 16))
    assert pii.blind_index(ID1, field="id_number", keys=a) != pii.blind_index(
        ID1, field="id_number", keys=b
    )
    assert a.enc != a.index[:16]
    assert "redacted" in repr(a)


def test_find_person_by_id_number_or_phone(app):
    person_id = make_person(app)
    with app.app_context(), db.session_scope(app) as session:
        for typed in (ID1, ID1.lower(), f" {ID1} ", PHONE, "+86 138-0013-8000", "0086" + PHONE):
            found = accounts.find_person(session, accounts.parse_login(typed))
            assert found is not None and found.id == person_id, typed
        assert accounts.find_person(session, accounts.parse_login(ID2)) is None
        assert accounts.parse_login("12345").kind == "unknown"
        assert accounts.parse_login(ID1[:-1] + "0").kind == "unknown"  # bad check digit


def test_create_person_refuses_bad_or_duplicate_input(app):
    make_person(app)
    with app.app_context(), db.session_scope(app) as session:
        with pytest.raises(ValueError) as bad:
            accounts.create_person(session, id_number=ID1[:-1] + "0", name="李四")
        assert bad.value.reason == "check_digit"  # type: ignore[attr-defined]
        with pytest.raises(accounts.PersonExists):
            accounts.create_person(session, id_number=ID1, name="李四")
        with pytest.raises(accounts.PhoneInUse):
            accounts.create_person(session, id_number=ID2, name="李四", phone=PHONE)
        with pytest.raises(accounts.InvalidPhoneNumber):
            accounts.create_person(session, id_number=ID2, name="李四", phone="12345")
        with pytest.raises(accounts.AccountError):
            accounts.create_person(session, id_number=ID2, name="  ")
        session.rollback()
    with app.app_context(), db.session_scope(app) as session:
        assert session.scalar(sa.select(sa.func.count(Person.id))) == 1


def test_password_policy(app):
    from oidc.passwords import PasswordPolicyError

    with app.app_context(), db.session_scope(app) as session:
        for bad, reason in (
            ("short", "too_short"),
            (ID2, "is_identifier"),
            ("x" * 129, "too_long"),
        ):
            with pytest.raises(PasswordPolicyError) as exc:
                accounts.create_person(session, id_number=ID2, name="李四", password=bad)
            assert exc.value.reason == reason
        with pytest.raises(PasswordPolicyError):
            accounts.create_person(session, id_number=ID2, name="李四", phone=PHONE, password=PHONE)


def test_organisations_and_agents(app):
    person_id = make_person(app)
    org_id = make_org(app, person_id)
    with app.app_context(), db.session_scope(app) as session:
        with pytest.raises(accounts.OrganisationExists):
            accounts.create_organisation(session, credit_code=ORG1, name="again")
        with pytest.raises(ValueError) as bad:
            accounts.create_organisation(session, credit_code=ORG1[:-1] + "0", name="bad")
        assert bad.value.reason  # type: ignore[attr-defined]
        person = session.get(Person, person_id)
        org = session.get(accounts.Organisation, org_id)
        with pytest.raises(accounts.InvalidRole):
            accounts.link_agent(session, person, org, "owner")
        links = accounts.agent_links(session, person_id)
        assert [(a.organisation.credit_code, a.role) for a in links] == [
            (ORG1, "legal_representative")
        ]
        accounts.link_agent(session, person, org, "authorised_agent")
        assert accounts.agent_for(session, person_id, org_id).role == "authorised_agent"


def test_role_is_checked_by_the_database(app):
    person_id = make_person(app)
    org_id = make_org(app, person_id, code=credit_code("91440300MA02B4CP0"))
    with (
        app.app_context(),
        pytest.raises(sa.exc.IntegrityError),
        db.engine(app).begin() as conn,
    ):
        conn.execute(
            sa.text("UPDATE agents SET role = 'owner' WHERE organisation_id = :o"),
            {"o": org_id},
        )


def test_claims_per_scope(app):
    person_id = make_person(app)
    org_id = make_org(app, person_id)
    with app.app_context(), db.session_scope(app) as session:
        assert accounts.claims_for(session, person_id, None, {"openid"}) == {}
        assert accounts.claims_for(session, person_id, None, {"openid", "profile"}) == {
            "name": "张三"
        }
        assert accounts.claims_for(session, person_id, None, {"phone"}) == {
            "phone_number": "+86" + PHONE,
            "phone_number_verified": False,
        }
        # The ID number only under its own scope.
        everything_else = {"openid", "profile", "phone", "organisation", "email", "address"}
        assert "id_number" not in accounts.claims_for(session, person_id, org_id, everything_else)
        assert accounts.claims_for(session, person_id, None, {"id_number"}) == {"id_number": ID1}
        # Organisation claims only when acting for one.
        assert accounts.claims_for(session, person_id, None, {"organisation"}) == {}
        assert accounts.claims_for(session, person_id, org_id, {"organisation"}) == {
            "org_credit_code": ORG1,
            "org_name": "北京示例科技有限公司",
            "org_role": "legal_representative",
            "acting_person_name": "张三",
        }


def test_claims_drop_an_organisation_link_that_was_removed(app):
    person_id = make_person(app)
    org_id = make_org(app, person_id)
    with app.app_context(), db.session_scope(app) as session:
        session.execute(sa.delete(accounts.Agent))
    with app.app_context(), db.session_scope(app) as session:
        assert accounts.claims_for(session, person_id, org_id, {"organisation"}) == {}
        assert accounts.holder_ids(session, person_id, org_id) == (ID1,)


def test_claims_for_unknown_or_disabled_person(app):
    person_id = make_person(app)
    with app.app_context(), db.session_scope(app) as session:
        with pytest.raises(accounts.UnknownPerson):
            accounts.claims_for(session, person_id + 1, None, {"profile"})
        session.get(Person, person_id).disabled = True
        session.flush()
        with pytest.raises(accounts.UnknownPerson):
            accounts.claims_for(session, person_id, None, {"profile"})


def test_user_info_and_holder_ids(app):
    from oidc.sessions import SSOSession

    person_id = make_person(app)
    org_id = make_org(app, person_id)
    with app.app_context(), db.session_scope(app) as session:
        sso = SSOSession(person_id=person_id, acting_org_id=org_id)
        info = accounts.user_info(session, sso)
        assert info.person_id == person_id and info.id_number == ID1 and info.name == "张三"
        assert info.organisations == (
            accounts.OrgLink(ORG1, "北京示例科技有限公司", "legal_representative"),
        )
        assert info.acting_for == info.organisations[0]
        assert accounts.holder_ids(session, person_id, org_id) == (ID1, ORG1)
        assert accounts.holder_ids(session, person_id, None) == (ID1,)
        sso.acting_org_id = None
        assert accounts.user_info(session, sso).acting_for is None


def test_mask_helpers():
    assert accounts.mask_phone(PHONE) == "138****8000"
    assert accounts.parse_login(ID1).masked == ID1[:6] + "********" + ID1[-4:]
    assert accounts.parse_login("whatever").masked == "(unrecognised)"
    assert PASSWORD  # the shared test password is not empty
