"""Accounts: persons, organisations and the agents that link them.

- A person (自然人) is keyed by a citizen identity number (GB 11643-1999, validated by
  :func:`keys.validators.validate_id_number`). The number and the phone number are
  personal information: stored SM4-GCM encrypted with a keyed SM3 blind index for
  look-up (:mod:`authority.pii`), never in clear text, never logged.
- An organisation (法人) is keyed by a unified social credit code (GB 32100-2015,
  :func:`keys.validators.validate_credit_code`); credit codes are public.
- An agent row lets a person act for an organisation, as its legal representative
  (法定代表人) or as an authorised agent (经办人).

Times are stored as integer seconds since the epoch (UTC) so that comparisons behave
the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from authority import pii
from authority.db import Base
from keys.validators import mask_id_number, validate_credit_code, validate_id_number
from oidc import passwords

if TYPE_CHECKING:
    from oidc.sessions import SSOSession

#: Roles an agent may hold for an organisation.
ROLES = ("legal_representative", "authorised_agent")


class Person(Base):
    """A natural person who can log in."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    #: SM4-GCM ciphertext of the normalised ID number (see authority.pii).
    id_number_cipher: Mapped[bytes] = mapped_column(sa.LargeBinary, nullable=False)
    #: Keyed SM3 blind index of the ID number (hex), for look-up at login.
    id_number_index: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    phone_cipher: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    phone_index: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, unique=True)
    phone_verified: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    #: argon2id PHC string; NULL means no password is set (cannot log in yet).
    password_hash: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    password_changed_at: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    #: Confirmed TOTP secret (SM4-GCM ciphertext); NULL when no second factor.
    totp_secret_cipher: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    #: A secret shown during enrolment, not yet confirmed by a code.
    totp_pending_cipher: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    totp_enabled_at: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    #: The last TOTP time step accepted, so that a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    disabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)

    agents: Mapped[list[Agent]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def has_totp(self) -> bool:
        return self.totp_secret_cipher is not None


class Organisation(Base):
    """A legal person (法人) or other organisation, keyed by its credit code."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(sa.String(18), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    created_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)

    agents: Mapped[list[Agent]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan", passive_deletes=True
    )


class Agent(Base):
    """A person's standing to act for an organisation."""

    __tablename__ = "agents"
    __table_args__ = (
        sa.UniqueConstraint("person_id", "organisation_id"),
        sa.CheckConstraint("role IN ('legal_representative', 'authorised_agent')", name="role"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    role: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    created_at: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)

    person: Mapped[Person] = relationship(back_populates="agents")
    organisation: Mapped[Organisation] = relationship(back_populates="agents")


# ---------------------------------------------------------------- identifiers

_PHONE_RE = re.compile(r"1[3-9][0-9]{9}")


class AccountError(Exception):
    """An account operation was refused; ``code`` names why (also an i18n key suffix)."""

    code = "account_error"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.code
        super().__init__(self.detail)


class InvalidPhoneNumber(AccountError, ValueError):
    code = "invalid_phone"


class PersonExists(AccountError):
    code = "person_exists"


class PhoneInUse(AccountError):
    code = "phone_in_use"


class OrganisationExists(AccountError):
    code = "organisation_exists"


class UnknownPerson(AccountError):
    code = "unknown_person"


class UnknownOrganisation(AccountError):
    code = "unknown_organisation"


class InvalidRole(AccountError, ValueError):
    code = "invalid_role"


def normalise_phone(value: str) -> str:
    """A mainland mobile number as 11 digits; accepts spaces, hyphens and a +86 prefix."""
    digits = re.sub(r"[\s\-()]", "", value or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not _PHONE_RE.fullmatch(digits):
        raise InvalidPhoneNumber()
    return digits


def mask_phone(phone: str) -> str:
    """``138****0000``: enough for a person to recognise their number, not to dial it."""
    return phone[:3] + "****" + phone[-4:]


@dataclass(frozen=True)
class LoginId:
    """What a person typed in the login field, recognised and normalised."""

    kind: str  # "id_number" | "phone" | "unknown"
    value: str

    @property
    def masked(self) -> str:
        """A form safe for the audit log and for display."""
        if self.kind == "id_number":
            return mask_id_number(self.value)
        if self.kind == "phone":
            return mask_phone(self.value)
        return "(unrecognised)"


def parse_login(raw: str) -> LoginId:
    """Recognise an ID number or a phone number; anything else is ``unknown``."""
    text = (raw or "").strip()
    try:
        return LoginId("phone", normalise_phone(text))
    except InvalidPhoneNumber:
        pass
    try:
        return LoginId("id_number", validate_id_number(text))
    except ValueError:
        pass
    return LoginId("unknown", text[:64])


# ---------------------------------------------------------------- persons and organisations


def now() -> int:
    return int(time.time())


def find_person(session: Session, login: LoginId) -> Person | None:
    """The person an ID number or phone number belongs to, if any."""
    if login.kind == "id_number":
        index = pii.blind_index(login.value, field="id_number")
        return session.scalars(sa.select(Person).where(Person.id_number_index == index)).first()
    if login.kind == "phone":
        index = pii.blind_index(login.value, field="phone")
        return session.scalars(sa.select(Person).where(Person.phone_index == index)).first()
    return None


def find_person_by_id_number(session: Session, id_number: str) -> Person | None:
    return find_person(session, LoginId("id_number", validate_id_number(id_number)))


def create_person(
    session: Session,
    *,
    id_number: str,
    name: str,
    phone: str | None = None,
    phone_verified: bool = False,
    password: str | None = None,
) -> Person:
    """Add a person (not committed); the ID number must be valid and new."""
    id_number = validate_id_number(id_number)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise AccountError("name must have 1 to 100 characters")
    if find_person(session, LoginId("id_number", id_number)) is not None:
        raise PersonExists()
    person = Person(
        id_number_cipher=pii.encrypt(id_number, field="id_number"),
        id_number_index=pii.blind_index(id_number, field="id_number"),
        name=name,
        phone_verified=False,
        disabled=False,
        created_at=now(),
    )
    if phone:
        set_phone(session, person, phone, verified=phone_verified)
    if password is not None:
        set_password(person, password, id_number=id_number)
    session.add(person)
    session.flush()
    return person


def set_phone(session: Session, person: Person, phone: str, *, verified: bool) -> None:
    phone = normalise_phone(phone)
    index = pii.blind_index(phone, field="phone")
    other = session.scalars(sa.select(Person).where(Person.phone_index == index)).first()
    if other is not None and other is not person:
        raise PhoneInUse()
    person.phone_cipher = pii.encrypt(phone, field="phone")
    person.phone_index = index
    person.phone_verified = verified


def id_number_of(person: Person) -> str:
    """The person's ID number, decrypted. Personal data: never log it."""
    return pii.decrypt(person.id_number_cipher, field="id_number")


def phone_of(person: Person) -> str | None:
    if person.phone_cipher is None:
        return None
    return pii.decrypt(person.phone_cipher, field="phone")


def set_password(person: Person, password: str, *, id_number: str | None = None) -> None:
    """Check the policy and store an argon2id hash of ``password``."""
    forbidden = [id_number or id_number_of(person)]
    phone = phone_of(person)
    if phone:
        forbidden.append(phone)
    passwords.check_policy(password, forbidden=tuple(forbidden))
    person.password_hash = passwords.hash_password(password)
    person.password_changed_at = now()


def create_organisation(session: Session, *, credit_code: str, name: str) -> Organisation:
    """Add an organisation (not committed); the credit code must be valid and new."""
    credit_code = validate_credit_code(credit_code)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise AccountError("name must have 1 to 200 characters")
    existing = session.scalars(
        sa.select(Organisation).where(Organisation.credit_code == credit_code)
    ).first()
    if existing is not None:
        raise OrganisationExists()
    org = Organisation(credit_code=credit_code, name=name, created_at=now())
    session.add(org)
    session.flush()
    return org


def find_organisation(session: Session, credit_code: str) -> Organisation | None:
    code = validate_credit_code(credit_code)
    return session.scalars(sa.select(Organisation).where(Organisation.credit_code == code)).first()


def link_agent(session: Session, person: Person, org: Organisation, role: str) -> Agent:
    """Let ``person`` act for ``org`` with ``role`` (updates the role if already linked)."""
    if role not in ROLES:
        raise InvalidRole(f"role must be one of {', '.join(ROLES)}")
    agent = session.scalars(
        sa.select(Agent).where(Agent.person_id == person.id, Agent.organisation_id == org.id)
    ).first()
    if agent is None:
        agent = Agent(person=person, organisation=org, role=role, created_at=now())
        session.add(agent)
    else:
        agent.role = role
    session.flush()
    return agent


def agent_links(session: Session, person_id: int) -> list[Agent]:
    """The organisations a person may act for, by name."""
    return list(
        session.scalars(
            sa.select(Agent)
            .join(Organisation, Agent.organisation_id == Organisation.id)
            .where(Agent.person_id == person_id)
            .order_by(Organisation.name, Organisation.id)
        )
    )


def agent_for(session: Session, person_id: int, org_id: int) -> Agent | None:
    """The person's standing for one organisation, if it (still) exists."""
    return session.scalars(
        sa.select(Agent).where(Agent.person_id == person_id, Agent.organisation_id == org_id)
    ).first()


# ---------------------------------------------------------------- claims and identity for tokens

ACR_PASSWORD = "urn:authority:acr:pwd"  # noqa: S105 (an acr value, not a password)
ACR_MFA = "urn:authority:acr:mfa"
AMR_PASSWORD = ("pwd",)
AMR_MFA = ("pwd", "otp")

#: Scopes whose claims this module releases, and the claims each releases.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name",),
    "phone": ("phone_number", "phone_number_verified"),
    "id_number": ("id_number",),
    "organisation": ("org_credit_code", "org_name", "org_role", "acting_person_name"),
}


def claims_for(
    session: Session, person_id: int, acting_org_id: int | None, scopes: set[str] | frozenset[str]
) -> dict[str, Any]:
    """The user claims ``scopes`` release for a person (OpenID Connect Core 1.0, 5.4).

    ``sub``, ``acr``, ``amr`` and ``auth_time`` are the provider's; this returns the
    person's data only. The ID number is released under the ``id_number`` scope and
    nowhere else. Organisation claims appear only when the person acts for an
    organisation it is (still) an agent of.
    """
    person = session.get(Person, person_id)
    if person is None or person.disabled:
        raise UnknownPerson()
    claims: dict[str, Any] = {}
    if "profile" in scopes:
        claims["name"] = person.name
    if "phone" in scopes:
        phone = phone_of(person)
        if phone is not None:
            claims["phone_number"] = "+86" + phone  # E.164, as Core 5.1 recommends
            claims["phone_number_verified"] = bool(person.phone_verified)
    if "id_number" in scopes:
        claims["id_number"] = id_number_of(person)
    if "organisation" in scopes and acting_org_id is not None:
        agent = agent_for(session, person_id, acting_org_id)
        if agent is not None:
            claims["org_credit_code"] = agent.organisation.credit_code
            claims["org_name"] = agent.organisation.name
            claims["org_role"] = agent.role
            claims["acting_person_name"] = person.name
    return claims


@dataclass(frozen=True)
class OrgLink:
    credit_code: str
    name: str
    role: str


@dataclass(frozen=True)
class PersonIdentity:
    """What oidc.api needs to build its ``UserInfo`` for a logged-in browser."""

    person_id: int
    id_number: str
    name: str
    organisations: tuple[OrgLink, ...]
    acting_for: OrgLink | None


def user_info(session: Session, sso: SSOSession) -> PersonIdentity:
    """The logged-in person of ``sso`` with their organisations and whom they act for."""
    person = session.get(Person, sso.person_id)
    if person is None or person.disabled:
        raise UnknownPerson()
    links = tuple(
        OrgLink(a.organisation.credit_code, a.organisation.name, a.role)
        for a in agent_links(session, person.id)
    )
    acting = None
    if sso.acting_org_id is not None:
        agent = agent_for(session, person.id, sso.acting_org_id)
        if agent is not None:
            acting = OrgLink(agent.organisation.credit_code, agent.organisation.name, agent.role)
    return PersonIdentity(person.id, id_number_of(person), person.name, links, acting)


def holder_ids(session: Session, person_id: int, acting_org_id: int | None) -> tuple[str, ...]:
    """Licence-holder identifiers a user token speaks for (oidc.api ``TokenInfo.holder_ids``).

    The person's ID number, then the acting organisation's credit code when the person
    acts for one and is still its agent.
    """
    person = session.get(Person, person_id)
    if person is None or person.disabled:
        return ()
    ids = [id_number_of(person)]
    if acting_org_id is not None:
        agent = agent_for(session, person_id, acting_org_id)
        if agent is not None:
            ids.append(agent.organisation.credit_code)
    return tuple(ids)
