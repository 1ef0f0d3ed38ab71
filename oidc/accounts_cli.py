"""Operator commands: ``authority accounts <command>``.

Commands: ``create-person``, ``create-org``, ``link-agent``, ``set-password``, ``unlock``,
``list``, ``disable``, ``enable``, ``purge``.

Passwords are prompted for (hidden, asked twice) or read from standard input with
``--password-stdin``; never taken on the command line, where they would land in the
shell history and the process list. Output shows ID and phone numbers masked.
"""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from authority import audit, db
from oidc import accounts, lockout, passwords, sessions
from oidc.accounts import AccountError, Organisation, Person

OPERATOR = "operator:cli"


def setup_accounts_cli(app: Flask) -> None:
    """Add ``authority accounts ...`` and the demo accounts seeder (from oidc.web.setup_oidc)."""
    from oidc import demo_accounts  # noqa: F401  (registers its demo seeder on import)

    app.cli.add_command(accounts_group)


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _person(session: Session, id_number: str) -> Person:
    try:
        person = accounts.find_person_by_id_number(session, id_number)
    except ValueError as exc:
        _fail(getattr(exc, "message_en", "invalid ID number"))
        raise
    if person is None:
        _fail("no person with this ID number")
    assert person is not None
    return person


def _org(session: Session, credit_code: str) -> Organisation:
    try:
        org = accounts.find_organisation(session, credit_code)
    except ValueError as exc:
        _fail(getattr(exc, "message_en", "invalid credit code"))
        raise
    if org is None:
        _fail("no organisation with this credit code")
    assert org is not None
    return org


def _masked(person: Person) -> str:
    return accounts.LoginId("id_number", accounts.id_number_of(person)).masked


@click.group("accounts")
def accounts_group() -> None:
    """Persons, organisations and agents."""


@accounts_group.command("create-person")
@click.option("--id-number", required=True, help="18-character citizen ID number (GB 11643).")
@click.option("--name", required=True, help="Full name.")
@click.option("--phone", default=None, help="Mainland mobile number (optional).")
@click.option("--phone-verified", is_flag=True, help="The phone number has been verified.")
@click.option("--no-password", is_flag=True, help="Create without a password (set it later).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_person(
    id_number: str,
    name: str,
    phone: str | None,
    phone_verified: bool,
    no_password: bool,
    password_stdin: bool,
) -> None:
    """Create a person who can log in."""
    password = None if no_password else _read_password(password_stdin)
    with db.session_scope(current_app) as session:
        try:
            person = accounts.create_person(
                session,
                id_number=id_number,
                name=name,
                phone=phone,
                phone_verified=phone_verified,
                password=password,
            )
        except passwords.PasswordPolicyError as exc:
            _fail(_policy_message(exc))
            raise
        except AccountError as exc:
            _fail(_account_message(exc))
            raise
        except ValueError as exc:  # InvalidIdNumber
            _fail(getattr(exc, "message_en", "invalid input"))
            raise
        masked = _masked(person)
        audit.record(session, "account.created", actor=OPERATOR, subject=masked)
    click.echo(f"created person {masked} ({name})")


@accounts_group.command("create-org")
@click.option("--credit-code", required=True, help="18-character unified social credit code.")
@click.option("--name", required=True, help="Registered name.")
@with_appcontext
def create_org(credit_code: str, name: str) -> None:
    """Create an organisation."""
    with db.session_scope(current_app) as session:
        try:
            org = accounts.create_organisation(session, credit_code=credit_code, name=name)
        except AccountError as exc:
            _fail(_account_message(exc))
            raise
        except ValueError as exc:  # InvalidCreditCode
            _fail(getattr(exc, "message_en", "invalid credit code"))
            raise
        audit.record(session, "organisation.created", actor=OPERATOR, subject=org.credit_code)
        code = org.credit_code
    click.echo(f"created organisation {code} ({name})")


@accounts_group.command("link-agent")
@click.option("--id-number", required=True, help="The person's ID number.")
@click.option("--credit-code", required=True, help="The organisation's credit code.")
@click.option(
    "--role", type=click.Choice(accounts.ROLES), default="authorised_agent", show_default=True
)
@with_appcontext
def link_agent(id_number: str, credit_code: str, role: str) -> None:
    """Let a person act for an organisation."""
    with db.session_scope(current_app) as session:
        person = _person(session, id_number)
        org = _org(session, credit_code)
        accounts.link_agent(session, person, org, role)
        masked = _masked(person)
        audit.record(
            session,
            "organisation.agent_linked",
            actor=OPERATOR,
            subject=org.credit_code,
            details={"person": masked, "role": role},
        )
        code = org.credit_code
    click.echo(f"{masked} acts for {code} as {role}")


@accounts_group.command("set-password")
@click.option("--id-number", required=True, help="The person's ID number.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def set_password(id_number: str, password_stdin: bool) -> None:
    """Set a person's password (ends their sessions)."""
    password = _read_password(password_stdin)
    with db.session_scope(current_app) as session:
        person = _person(session, id_number)
        try:
            accounts.set_password(person, password)
        except passwords.PasswordPolicyError as exc:
            _fail(_policy_message(exc))
        ended, count, masked = _end_sessions_audited(
            session, person, reason="password_set", event="account.password_set"
        )
    sessions.notify_ended(ended)
    click.echo(f"password set for {masked}; {count} session(s) ended")


def _end_sessions_audited(
    session: Session, person: Person, *, reason: str, event: str
) -> tuple[list[tuple[str, str]], int, str]:
    """End every session of ``person`` and audit ``event`` with how many ended.

    Returns what :func:`sessions.notify_ended` needs after the commit, the count and the
    masked identifier for the operator's message.
    """
    count = sessions.count_sessions_of(person.id, session)
    ended = sessions.end_sessions_of(person.id, reason=reason, session=session)
    masked = _masked(person)
    audit.record(session, event, actor=OPERATOR, subject=masked, details={"sessions_ended": count})
    return ended, count, masked


@accounts_group.command("unlock")
@click.option("--id-number", default=None, help="Unlock this person's account.")
@click.option("--ip", "address", default=None, help="Unlock this client address.")
@with_appcontext
def unlock(id_number: str | None, address: str | None) -> None:
    """Clear the failed-login lock of an account or a client address."""
    if not id_number and not address:
        _fail("give --id-number or --ip")
    with db.session_scope(current_app) as session:
        if id_number:
            person = _person(session, id_number)
            lockout.reset(session, lockout.account_key(person.id, ""))
            masked = _masked(person)
            audit.record(session, "login.unlocked", actor=OPERATOR, subject=masked)
            click.echo(f"unlocked {masked}")
        if address:
            lockout.reset(session, lockout.ip_key(address))
            audit.record(session, "login.unlocked", actor=OPERATOR, subject=f"ip:{address}")
            click.echo(f"unlocked address {address}")


@accounts_group.command("disable")
@click.option("--id-number", required=True, help="The person's ID number.")
@with_appcontext
def disable(id_number: str) -> None:
    """Stop a person from logging in and end their sessions (reversible with ``enable``)."""
    with db.session_scope(current_app) as session:
        person = _person(session, id_number)
        person.disabled = True
        ended, count, masked = _end_sessions_audited(
            session, person, reason="disabled", event="account.disabled"
        )
    # After the commit: the clients that took part are logged out (back-channel).
    sessions.notify_ended(ended)
    click.echo(f"disabled {masked}; {count} session(s) ended")


@accounts_group.command("enable")
@click.option("--id-number", required=True, help="The person's ID number.")
@with_appcontext
def enable(id_number: str) -> None:
    """Let a disabled person log in again."""
    with db.session_scope(current_app) as session:
        person = _person(session, id_number)
        person.disabled = False
        masked = _masked(person)
        audit.record(session, "account.enabled", actor=OPERATOR, subject=masked)
    click.echo(f"enabled {masked}")


@accounts_group.command("purge")
@with_appcontext
def purge() -> None:
    """Delete expired sessions and pending logins, and stale lockout counters (run daily)."""
    now = accounts.now()
    with db.session_scope(current_app) as session:
        ended = sessions.purge_expired(session, now)
        counters = lockout.purge_stale(session, now)
    click.echo(f"purged {ended} expired session(s) and {counters} stale lockout counter(s)")


@accounts_group.command("list")
@with_appcontext
def list_accounts() -> None:
    """List persons (masked) and organisations with their agents."""
    with db.session_scope(current_app) as session:
        persons = session.scalars(sa.select(Person).order_by(Person.id)).all()
        click.echo(f"persons: {len(persons)}")
        for p in persons:
            phone = accounts.phone_of(p)
            flags = []
            if p.password_hash is None:
                flags.append("no-password")
            if p.has_totp:
                flags.append("totp")
            if p.disabled:
                flags.append("disabled")
            click.echo(
                f"  {_masked(p)}  {p.name}  {accounts.mask_phone(phone) if phone else '-'}"
                f"  {' '.join(flags) or '-'}"
            )
        orgs = session.scalars(sa.select(Organisation).order_by(Organisation.credit_code)).all()
        click.echo(f"organisations: {len(orgs)}")
        for o in orgs:
            click.echo(f"  {o.credit_code}  {o.name}")
            for agent in o.agents:
                click.echo(f"    {agent.role}: {_masked(agent.person)} {agent.person.name}")


def _policy_message(exc: passwords.PasswordPolicyError) -> str:
    return {
        "too_short": f"the password needs at least {passwords.MIN_LENGTH} characters",
        "too_long": f"the password may have at most {passwords.MAX_LENGTH} characters",
        "is_identifier": "the password may not be the ID number or phone number",
    }.get(exc.reason, "the password is not acceptable")


def _account_message(exc: AccountError) -> str:
    return {
        "person_exists": "a person with this ID number already exists",
        "phone_in_use": "this phone number belongs to another person",
        "organisation_exists": "an organisation with this credit code already exists",
        "invalid_phone": "not a mainland mobile number (11 digits starting with 1)",
    }.get(exc.code, exc.detail)
