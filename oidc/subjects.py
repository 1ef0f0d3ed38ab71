"""Subject identifiers (OpenID Connect Core 1.0 §8): pairwise and public.

- Third-party clients (the default) get *pairwise* identifiers, computed per sector
  (the host all of the client's redirect URIs share, see ``Client.sector_identifier``)
  as ``base64url(HMAC-SM3(salt, sector ‖ 0x00 ‖ person id))``. Two clients of the same
  sector see the same ``sub``; clients of different sectors cannot correlate people.
- Provincial clients (marked by the operator) get the *public* identifier, the same
  for every provincial portal: ``base64url(HMAC-SM3(salt, "public" ‖ 0x00 ‖ person
  id))``; it is still opaque, so the internal row id never leaves the database.

The salt is a 256-bit secret generated on first use and kept in the database
(``oidc_provider_secrets``), so every worker and node computes the same identifiers
and nothing needs configuring; it must never change, or every ``sub`` would.
"""

from __future__ import annotations

import base64
import hmac
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from authority.db import Base
from oidc.clients import Client

SALT_NAME = "pairwise_salt"


class ProviderSecret(Base):
    """Secrets the provider generates for itself (hex), by name."""

    __tablename__ = "oidc_provider_secrets"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(128))


def _salt(session: Session) -> bytes:
    row = session.get(ProviderSecret, SALT_NAME)
    if row is None:
        try:
            with session.begin_nested():
                session.add(ProviderSecret(name=SALT_NAME, value=secrets.token_hex(32)))
        except sa.exc.IntegrityError:
            # Another worker created it first; use theirs.
            pass
        row = session.get(ProviderSecret, SALT_NAME)
        assert row is not None
    return bytes.fromhex(row.value)


def _identifier(session: Session, namespace: str, person_id: int) -> str:
    mac = hmac.new(_salt(session), f"{namespace}\x00{person_id}".encode(), "sm3").digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def subject_for(session: Session, client: Client, person_id: int) -> str:
    """The ``sub`` value ``client`` sees for this person."""
    if client.provincial:
        return _identifier(session, "public", person_id)
    return _identifier(session, "sector:" + client.sector_identifier, person_id)
