"""Authorization codes and access/refresh tokens (RFC 6749 §4.1, §6; RFC 9700 §4.14).

Nothing here lives in process memory: codes and tokens are rows, found by the SM3
digest of their value (:mod:`oidc.hashing`); the values themselves are never stored.

Policies (docs/oidc.md, "Tokens"):

- A code is consumed by its first redemption attempt by its own client, successful or
  not. Presenting a consumed code again is a replay: refused, and every token issued
  from that code (with its whole refresh family) is revoked (RFC 6749 §4.1.2).
- Refresh tokens rotate: each refresh returns a new refresh token and spends the old
  one. Presenting a spent refresh token more than ``refresh_grace`` seconds after it
  was spent revokes the whole family (RFC 9700 §4.14.2); within the grace period it
  is honoured once more, so two concurrent refreshes do not log the person out.
- Access tokens are opaque (256-bit) and looked up by digest, so revocation takes
  effect immediately everywhere.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, TokenMixin
from sqlalchemy.orm import Mapped, Session, mapped_column

from authority import audit
from authority.db import Base
from oidc import hashing
from oidc.clients import Client


@dataclass(frozen=True)
class AuthenticatedUser:
    """The person (and organisation they act for) a code or token was granted by."""

    person_id: int
    acting_org_id: int | None = None
    sid: str | None = None
    auth_time: int | None = None
    acr: str | None = None
    amr: tuple[str, ...] = field(default_factory=tuple)

    def get_user_id(self) -> int:
        return self.person_id


class AuthorizationCode(Base, AuthorizationCodeMixin):
    """An issued authorization code, bound to its client, redirect URI and PKCE challenge."""

    __tablename__ = "oidc_authorization_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("oidc_clients.client_id", ondelete="CASCADE"), index=True
    )
    redirect_uri: Mapped[str] = mapped_column(sa.Text)
    scope: Mapped[str] = mapped_column(sa.Text, default="")
    nonce: Mapped[str | None] = mapped_column(sa.String(255))
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("persons.id", ondelete="CASCADE"))
    acting_org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE")
    )
    sid: Mapped[str | None] = mapped_column(sa.String(64))
    auth_time: Mapped[int | None] = mapped_column(sa.BigInteger)
    acr: Mapped[str | None] = mapped_column(sa.String(64))
    amr: Mapped[str | None] = mapped_column(sa.String(64))
    code_challenge: Mapped[str | None] = mapped_column(sa.String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(sa.String(8))
    issued_at: Mapped[int] = mapped_column(sa.BigInteger)
    expires_at: Mapped[int] = mapped_column(sa.BigInteger)
    used_at: Mapped[int | None] = mapped_column(sa.BigInteger)

    # Authlib AuthorizationCodeMixin and OpenID extension accessors.
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int | None:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str]:
        return self.amr.split() if self.amr else []

    def user(self) -> AuthenticatedUser:
        return AuthenticatedUser(
            person_id=self.person_id,
            acting_org_id=self.acting_org_id,
            sid=self.sid,
            auth_time=self.auth_time,
            acr=self.acr,
            amr=tuple(self.get_amr()),
        )


class Token(Base, TokenMixin):
    """An access token and, for user grants, its refresh token (one row per issuance)."""

    __tablename__ = "oidc_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("oidc_clients.client_id", ondelete="CASCADE"), index=True
    )
    grant_type: Mapped[str] = mapped_column(sa.String(32))
    person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    acting_org_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE")
    )
    scope: Mapped[str] = mapped_column(sa.Text, default="")
    access_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    refresh_digest: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    issued_at: Mapped[int] = mapped_column(sa.BigInteger)
    access_expires_at: Mapped[int] = mapped_column(sa.BigInteger)
    refresh_expires_at: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Set when the refresh token was exchanged for a new one (rotation).
    refresh_used_at: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Set when both tokens of the row were revoked.
    revoked_at: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Every token descending from one authorization shares a family (a random id).
    family: Mapped[str] = mapped_column(sa.String(32), index=True)
    code_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    sid: Mapped[str | None] = mapped_column(sa.String(64))
    auth_time: Mapped[int | None] = mapped_column(sa.BigInteger)
    acr: Mapped[str | None] = mapped_column(sa.String(64))
    amr: Mapped[str | None] = mapped_column(sa.String(64))

    # Authlib TokenMixin.
    def check_client(self, client: Any) -> bool:
        return bool(self.client_id == client.get_client_id())

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.access_expires_at - self.issued_at

    def is_expired(self) -> bool:
        return self.access_expires_at <= time.time()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def user(self) -> AuthenticatedUser | None:
        if self.person_id is None:
            return None
        return AuthenticatedUser(
            person_id=self.person_id,
            acting_org_id=self.acting_org_id,
            sid=self.sid,
            auth_time=self.auth_time,
            acr=self.acr,
            amr=tuple(self.amr.split()) if self.amr else (),
        )


# ------------------------------------------------------------------ codes


def save_code(
    session: Session,
    code: str,
    *,
    client_id: str,
    redirect_uri: str,
    scope: str,
    nonce: str | None,
    user: AuthenticatedUser,
    code_challenge: str | None,
    code_challenge_method: str | None,
    ttl: int,
) -> AuthorizationCode:
    now = int(time.time())
    row = AuthorizationCode(
        code_digest=hashing.digest(code),
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        nonce=nonce,
        person_id=user.person_id,
        acting_org_id=user.acting_org_id,
        sid=user.sid,
        auth_time=user.auth_time,
        acr=user.acr,
        amr=" ".join(user.amr) or None,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method,
        issued_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    return row


def redeem_code(session: Session, code: str, client_id: str) -> AuthorizationCode | None:
    """Consume ``code`` for ``client_id``; None if unknown, expired, foreign or replayed.

    A replay revokes every token that the code produced (and their families).
    """
    row = session.scalar(
        sa.select(AuthorizationCode).where(AuthorizationCode.code_digest == hashing.digest(code))
    )
    if row is None or row.client_id != client_id:
        return None
    now = int(time.time())
    # The conditional UPDATE makes consumption atomic across workers: of two concurrent
    # redemptions exactly one sees rowcount 1.
    result = session.execute(
        sa.update(AuthorizationCode)
        .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        revoked = revoke_where(session, Token.code_id == row.id, reason="code_replay")
        audit.record(
            session,
            "oidc.code.replayed",
            actor=client_id,
            details={"code_id": row.id, "tokens_revoked": revoked},
        )
        return None
    row.used_at = now
    if row.expires_at <= now:
        return None
    return row


def nonce_used(session: Session, client_id: str, nonce: str) -> bool:
    """Whether a code with this nonce was already issued to this client."""
    return (
        session.scalar(
            sa.select(AuthorizationCode.id)
            .where(AuthorizationCode.client_id == client_id, AuthorizationCode.nonce == nonce)
            .limit(1)
        )
        is not None
    )


# ------------------------------------------------------------------ tokens


def new_token_values(include_refresh: bool) -> dict[str, str]:
    values = {"access_token": hashing.new_secret()}
    if include_refresh:
        values["refresh_token"] = hashing.new_secret()
    return values


class StaleClient(Exception):
    """The client row changed (disabled, deleted, updated) since it was read."""


_TOKEN_COLUMNS = (
    "client_id", "grant_type", "person_id", "acting_org_id", "scope", "access_digest",
    "refresh_digest", "issued_at", "access_expires_at", "refresh_expires_at", "family",
    "code_id", "sid", "auth_time", "acr", "amr",
)  # fmt: skip


class TokenAuditOutbox(Base):
    """Issued tokens whose ``oidc.token.issued`` entry is not in the audit chain yet
    (oidc/token_audit.py). A copy of what the entry says: no join, no foreign key."""

    __tablename__ = "oidc_token_audit_outbox"

    token_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    client_id: Mapped[str] = mapped_column(sa.String(64))
    person_id: Mapped[int | None] = mapped_column(sa.Integer)
    grant_type: Mapped[str] = mapped_column(sa.String(32))
    scope: Mapped[str] = mapped_column(sa.Text)
    family: Mapped[str] = mapped_column(sa.String(32))
    refresh: Mapped[bool] = mapped_column(sa.Boolean)
    issued_at: Mapped[int] = mapped_column(sa.BigInteger)


_OUTBOX_COLUMNS = (
    "token_id", "client_id", "person_id", "grant_type", "scope", "family", "refresh", "issued_at",
)  # fmt: skip


def _insert_token_statement(*, with_outbox: bool, flush_wal: bool = True) -> Any:
    """INSERT ... SELECT <values> WHERE <the client row is as read> RETURNING id.

    One round trip writes the token and re-checks the client it is issued to, so a
    cached copy of a client (oidc.client_cache) can never issue a token that the
    current row would refuse. ``with_outbox`` (PostgreSQL, whose CTEs may hold an
    INSERT): the same statement also adds the token's audit outbox row. Without
    ``flush_wal`` (PostgreSQL) it also sets ``synchronous_commit`` off for its
    transaction, as ``SET LOCAL`` would, without a round trip of its own: the volatile
    ``set_config`` in its FROM clause runs once, for the one row it selects.
    """
    table = Token.__table__
    clients_table = Client.__table__
    values = sa.select(*(sa.bindparam(name, type_=table.c[name].type) for name in _TOKEN_COLUMNS))
    current = sa.exists().where(
        clients_table.c.client_id == sa.bindparam("client_id"),
        clients_table.c.version == sa.bindparam("client_version"),
        clients_table.c.disabled.is_(False),
    )
    if not flush_wal:
        no_flush = sa.select(
            sa.func.set_config("synchronous_commit", "off", sa.true()).label("setting")
        ).subquery("no_wal_flush")
        values = values.select_from(no_flush)
    insert = sa.insert(table).from_select(list(_TOKEN_COLUMNS), values.where(current))
    if not with_outbox:
        return insert.returning(table.c.id)
    written = insert.returning(
        table.c.id, table.c.client_id, table.c.person_id, table.c.grant_type, table.c.scope,
        table.c.family, table.c.refresh_digest.is_not(None).label("refresh"), table.c.issued_at,
    ).cte("written")  # fmt: skip
    outbox = TokenAuditOutbox.__table__
    return (
        sa.insert(outbox)
        .from_select(list(_OUTBOX_COLUMNS), sa.select(*written.c))
        .returning(outbox.c.token_id)
    )


_INSERT_TOKEN_AND_OUTBOX = _insert_token_statement(with_outbox=True)
_INSERT_TOKEN_AND_OUTBOX_NO_FLUSH = _insert_token_statement(with_outbox=True, flush_wal=False)
_INSERT_TOKEN = _insert_token_statement(with_outbox=False)


def save_token(
    session: Session,
    token: dict[str, Any],
    *,
    client: Client,
    grant_type: str,
    user: AuthenticatedUser | None,
    refresh_ttl: int,
    code_id: int | None = None,
    parent: Token | None = None,
    standalone: bool = False,
) -> int:
    """Store an issued token response (digests only) and return its row id.

    With the row goes its audit outbox row (:class:`TokenAuditOutbox`): the
    ``oidc.token.issued`` entry is chained by oidc/token_audit.py after the commit (a
    transactional outbox), so the token endpoint never takes the audit chain's lock.
    ``standalone`` (client credentials, whose grant changes nothing else): on
    PostgreSQL the token is committed at once, on its own, as the single statement of
    an autocommit transaction that does not wait for the WAL flush; ``session`` is not
    used. Only for grants whose transaction would merely add rows. Raises
    :class:`StaleClient`, writing nothing, if ``client`` no longer matches its row
    (see :func:`_insert_token_statement`).
    """
    now = int(time.time())
    refresh = token.get("refresh_token")
    values = {
        "client_id": client.client_id,
        "grant_type": grant_type,
        "person_id": user.person_id if user else None,
        "acting_org_id": user.acting_org_id if user else None,
        "scope": token.get("scope", "") or "",
        "access_digest": hashing.digest(token["access_token"]),
        "refresh_digest": hashing.digest(refresh) if refresh else None,
        "issued_at": now,
        "access_expires_at": now + int(token["expires_in"]),
        "refresh_expires_at": now + refresh_ttl if refresh else None,
        "family": parent.family if parent is not None else secrets.token_hex(16),
        "code_id": code_id if code_id is not None else (parent.code_id if parent else None),
        "sid": user.sid if user else None,
        "auth_time": user.auth_time if user else None,
        "acr": user.acr if user else None,
        "amr": (" ".join(user.amr) or None) if user else None,
        "client_version": client.version,
    }
    # Core INSERTs, not the ORM's unit of work (nothing later in the request needs the
    # row object): on PostgreSQL one statement writes the token and its outbox row.
    engine = session.get_bind()
    if engine.dialect.name == "postgresql":
        if standalone:
            # One round trip in all: no BEGIN, no COMMIT. If a crash loses it, the
            # client holds a token that never existed, refused everywhere, with no
            # audit entry owed; it asks again.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                token_id = conn.execute(_INSERT_TOKEN_AND_OUTBOX_NO_FLUSH, values).scalar()
        else:
            token_id = session.execute(_INSERT_TOKEN_AND_OUTBOX, values).scalar()
        if token_id is None:
            raise StaleClient(client.client_id)
        return int(token_id)
    token_id = session.execute(_INSERT_TOKEN, values).scalar_one_or_none()
    if token_id is None:
        raise StaleClient(client.client_id)
    session.execute(
        sa.insert(TokenAuditOutbox.__table__),
        {
            "token_id": token_id,
            "refresh": refresh is not None,
            **{k: values[k] for k in _OUTBOX_COLUMNS if k in values},
        },
    )
    return int(token_id)


def find_access_token(session: Session, access_token: str) -> Token | None:
    """The token row for a presented access token, whatever its state."""
    if not access_token or len(access_token) > 512:
        return None
    return session.scalar(
        sa.select(Token).where(Token.access_digest == hashing.digest(access_token))
    )


def find_refresh_token(session: Session, refresh_token: str) -> Token | None:
    """The token row for a presented refresh token, whatever its state."""
    if not refresh_token or len(refresh_token) > 512:
        return None
    return session.scalar(
        sa.select(Token).where(Token.refresh_digest == hashing.digest(refresh_token))
    )


def authenticate_refresh(
    session: Session, refresh_token: str, client_id: str, *, grace: int
) -> Token | None:
    """The refresh token's row if it may be exchanged now, else None.

    Reuse of a spent refresh token outside the grace period revokes its whole family.
    The row is locked (PostgreSQL ``FOR UPDATE``) so that concurrent refreshes of one
    token are serialised and see each other's rotation.
    """
    if not refresh_token or len(refresh_token) > 512:
        return None
    row = session.scalar(
        sa.select(Token)
        .where(Token.refresh_digest == hashing.digest(refresh_token))
        .with_for_update()
    )
    if row is None or row.client_id != client_id:
        return None
    now = int(time.time())
    if row.revoked_at is not None:
        return None
    if row.refresh_expires_at is not None and row.refresh_expires_at <= now:
        return None
    if row.refresh_used_at is not None:
        if now - row.refresh_used_at <= grace:
            return row
        revoked = revoke_where(session, Token.family == row.family, reason="refresh_reuse")
        audit.record(
            session,
            "oidc.refresh.reused",
            actor=client_id,
            subject=f"person:{row.person_id}" if row.person_id else None,
            details={"token_id": row.id, "family": row.family, "tokens_revoked": revoked},
        )
        return None
    return row


def spend_refresh(session: Session, row: Token) -> None:
    """Mark a refresh token as exchanged (rotation).

    Its access token stays valid until it expires (minutes): a client refreshing
    early may still have requests in flight with it.
    """
    now = int(time.time())
    if row.refresh_used_at is None:
        row.refresh_used_at = now


def revoke(session: Session, row: Token, *, reason: str, actor: str | None = None) -> None:
    """Revoke one token row (its access and refresh token) and audit it."""
    if row.revoked_at is None:
        # Its issuance (maybe still in the outbox) goes into the chain before this.
        audit.append_late_events(session)
        row.revoked_at = int(time.time())
        audit.record(
            session,
            "oidc.token.revoked",
            actor=actor or row.client_id,
            subject=f"person:{row.person_id}" if row.person_id else None,
            details={"token_id": row.id, "reason": reason},
        )


def revoke_family(session: Session, row: Token, *, reason: str, actor: str | None = None) -> int:
    """Revoke every token of ``row``'s family (a refresh token and its descendants)."""
    return revoke_where(session, Token.family == row.family, reason=reason, actor=actor)


def revoke_where(session: Session, condition: Any, *, reason: str, actor: str | None = None) -> int:
    """Revoke every live token matching ``condition`` (and their families); returns count."""
    families = set(session.scalars(sa.select(Token.family).where(condition)))
    if not families:
        return 0
    rows = list(
        session.scalars(
            sa.select(Token).where(Token.family.in_(families), Token.revoked_at.is_(None))
        )
    )
    for row in rows:
        revoke(session, row, reason=reason, actor=actor)
    return len(rows)
