"""oidc provider: the outbox of token issuance audit entries

Revision ID: oidc_provider_0003
Revises: oidc_provider_0002
Create Date: 2026-11-27

One row per issued token whose ``oidc.token.issued`` entry is not yet in the audit
chain: written by the same statement as the token, removed by oidc/token_audit.py when
it chains the entry. It copies what the entry says, so it needs no join and no
foreign key (a token deleted meanwhile, with its client, still gets its entry).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "oidc_provider_0003"
down_revision = "oidc_provider_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_token_audit_outbox",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("grant_type", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("refresh", sa.Boolean(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_oidc_token_audit_outbox")),
    )


def downgrade() -> None:
    op.drop_table("oidc_token_audit_outbox")
