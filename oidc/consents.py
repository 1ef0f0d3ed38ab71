"""Consent remembered per person, client and scopes (OIDC Core §3.1.2.4).

A person is asked once per client; the consent page appears again only when the
client asks for a scope not yet granted (the new set is the union). Provincial
clients are pre-consented by the operator (``authority clients create --provincial``):
they are the province's own portals, which the person uses under the programme's
terms, so no consent page is shown for them and no row is stored. ``prompt=consent``
still shows the page for any client.

Revoking a consent (the account page's "connected apps") also revokes every token
that client holds for the person.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from authority import audit
from authority.db import Base
from oidc import tokens
from oidc.clients import Client


class Consent(Base):
    """The scopes a person granted to a client."""

    __tablename__ = "oidc_consents"
    __table_args__ = (sa.UniqueConstraint("person_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("oidc_clients.client_id", ondelete="CASCADE")
    )
    scope: Mapped[str] = mapped_column(sa.Text, default="")
    granted_at: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[int] = mapped_column(sa.BigInteger)

    @property
    def scopes(self) -> set[str]:
        return set(self.scope.split())


@dataclass(frozen=True)
class ConnectedApp:
    """One line of the account page's "connected apps" list."""

    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    granted_at: int
    updated_at: int


def _find(session: Session, person_id: int, client_id: str) -> Consent | None:
    return session.scalar(
        sa.select(Consent).where(Consent.person_id == person_id, Consent.client_id == client_id)
    )


def missing_scopes(session: Session, person_id: int, client: Client, scopes: set[str]) -> set[str]:
    """Scopes the person has not yet granted this client (empty: no page needed)."""
    if client.provincial:
        return set()
    consent = _find(session, person_id, client.client_id)
    granted = consent.scopes if consent else set()
    return set(scopes) - granted


def grant(session: Session, person_id: int, client: Client, scopes: set[str]) -> Consent:
    """Remember that the person granted ``scopes`` to ``client`` (added to earlier grants)."""
    now = int(time.time())
    consent = _find(session, person_id, client.client_id)
    if consent is None:
        consent = Consent(
            person_id=person_id,
            client_id=client.client_id,
            scope=" ".join(sorted(scopes)),
            granted_at=now,
            updated_at=now,
        )
        session.add(consent)
    else:
        consent.scope = " ".join(sorted(consent.scopes | set(scopes)))
        consent.updated_at = now
    audit.record(
        session,
        "oidc.consent.granted",
        actor=f"person:{person_id}",
        subject=client.client_id,
        details={"scope": " ".join(sorted(scopes))},
    )
    return consent


def list_for_person(session: Session, person_id: int) -> list[ConnectedApp]:
    """The clients this person has consented to, newest first."""
    rows = session.execute(
        sa.select(Consent, Client)
        .join(Client, Client.client_id == Consent.client_id)
        .where(Consent.person_id == person_id)
        .order_by(Consent.updated_at.desc(), Consent.id.desc())
    ).all()
    return [
        ConnectedApp(
            client_id=consent.client_id,
            client_name=client.name,
            scopes=tuple(sorted(consent.scopes)),
            granted_at=consent.granted_at,
            updated_at=consent.updated_at,
        )
        for consent, client in rows
    ]


def revoke(session: Session, person_id: int, client_id: str) -> bool:
    """Withdraw the person's consent to ``client_id`` and revoke that client's tokens.

    Returns False when there was no such consent. The caller commits.
    """
    consent = _find(session, person_id, client_id)
    if consent is None:
        return False
    session.delete(consent)
    revoked = tokens.revoke_where(
        session,
        sa.and_(tokens.Token.person_id == person_id, tokens.Token.client_id == client_id),
        reason="consent_revoked",
        actor=f"person:{person_id}",
    )
    audit.record(
        session,
        "oidc.consent.revoked",
        actor=f"person:{person_id}",
        subject=client_id,
        details={"tokens_revoked": revoked},
    )
    return True
