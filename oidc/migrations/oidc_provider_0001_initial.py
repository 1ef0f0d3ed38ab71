"""oidc provider: clients, codes, tokens, consents, registration

Revision ID: oidc_provider_0001
Revises: (none; first revision of the oidc_provider branch)
Create Date: 2026-11-27 18:10:49.887272
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "oidc_provider_0001"
down_revision = None
branch_labels = ("oidc_provider",)
# persons and organisations (foreign keys) come from the accounts branch.
depends_on = "oidc_accounts_0001"


def upgrade() -> None:
    op.create_table(
        "oidc_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_digest", sa.String(length=64), nullable=True),
        sa.Column("client_id_issued_at", sa.BigInteger(), nullable=False),
        sa.Column("client_secret_expires_at", sa.BigInteger(), nullable=False),
        sa.Column("client_metadata", sa.JSON(), nullable=False),
        sa.Column("registration_token_digest", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=18), nullable=True),
        sa.Column("provincial", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("resource_server", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oidc_clients_client_id")),
        sa.UniqueConstraint(
            "registration_token_digest", name=op.f("uq_oidc_clients_registration_token_digest")
        ),
    )
    op.create_table(
        "oidc_initial_access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_initial_access_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_oidc_initial_access_tokens_digest")),
    )
    op.create_table(
        "oidc_provider_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_oidc_provider_secrets")),
    )
    op.create_table(
        "oidc_used_assertions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_oidc_used_assertions")),
    )
    with op.batch_alter_table("oidc_used_assertions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oidc_used_assertions_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "oidc_authorization_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("nonce", sa.String(length=255), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("acting_org_id", sa.Integer(), nullable=True),
        sa.Column("sid", sa.String(length=64), nullable=True),
        sa.Column("auth_time", sa.BigInteger(), nullable=True),
        sa.Column("acr", sa.String(length=64), nullable=True),
        sa.Column("amr", sa.String(length=64), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=8), nullable=True),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acting_org_id"],
            ["organisations.id"],
            name=op.f("fk_oidc_authorization_codes_acting_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oidc_clients.client_id"],
            name=op.f("fk_oidc_authorization_codes_client_id_oidc_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_oidc_authorization_codes_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_authorization_codes")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_oidc_authorization_codes_code_digest")),
    )
    with op.batch_alter_table("oidc_authorization_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oidc_authorization_codes_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "oidc_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oidc_clients.client_id"],
            name=op.f("fk_oidc_consents_client_id_oidc_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_oidc_consents_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_consents")),
        sa.UniqueConstraint("person_id", "client_id", name=op.f("uq_oidc_consents_person_id")),
    )
    with op.batch_alter_table("oidc_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_consents_person_id"), ["person_id"], unique=False)

    op.create_table(
        "oidc_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("grant_type", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("acting_org_id", sa.Integer(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("access_digest", sa.String(length=64), nullable=False),
        sa.Column("refresh_digest", sa.String(length=64), nullable=True),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("access_expires_at", sa.BigInteger(), nullable=False),
        sa.Column("refresh_expires_at", sa.BigInteger(), nullable=True),
        sa.Column("refresh_used_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=True),
        sa.Column("sid", sa.String(length=64), nullable=True),
        sa.Column("auth_time", sa.BigInteger(), nullable=True),
        sa.Column("acr", sa.String(length=64), nullable=True),
        sa.Column("amr", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["acting_org_id"],
            ["organisations.id"],
            name=op.f("fk_oidc_tokens_acting_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oidc_clients.client_id"],
            name=op.f("fk_oidc_tokens_client_id_oidc_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_oidc_tokens_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_tokens")),
        sa.UniqueConstraint("access_digest", name=op.f("uq_oidc_tokens_access_digest")),
        sa.UniqueConstraint("refresh_digest", name=op.f("uq_oidc_tokens_refresh_digest")),
    )
    with op.batch_alter_table("oidc_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_tokens_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oidc_tokens_code_id"), ["code_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oidc_tokens_family"), ["family"], unique=False)
        batch_op.create_index(batch_op.f("ix_oidc_tokens_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oidc_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_tokens_person_id"))
        batch_op.drop_index(batch_op.f("ix_oidc_tokens_family"))
        batch_op.drop_index(batch_op.f("ix_oidc_tokens_code_id"))
        batch_op.drop_index(batch_op.f("ix_oidc_tokens_client_id"))

    op.drop_table("oidc_tokens")
    with op.batch_alter_table("oidc_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_consents_person_id"))

    op.drop_table("oidc_consents")
    with op.batch_alter_table("oidc_authorization_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_authorization_codes_client_id"))

    op.drop_table("oidc_authorization_codes")
    with op.batch_alter_table("oidc_used_assertions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_used_assertions_expires_at"))

    op.drop_table("oidc_used_assertions")
    op.drop_table("oidc_provider_secrets")
    op.drop_table("oidc_initial_access_tokens")
    op.drop_table("oidc_clients")
