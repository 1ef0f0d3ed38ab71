"""oidc provider: a version number on every client row

Revision ID: oidc_provider_0002
Revises: oidc_provider_0001
Create Date: 2026-11-27

The ORM increments ``version`` on every UPDATE of a client (``version_id_col``). The
token endpoint works from a client record cached for a moment and inserts the token
only if the row still has the version it read (oidc/client_cache.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "oidc_provider_0002"
down_revision = "oidc_provider_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oidc_clients") as batch:
        batch.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )


def downgrade() -> None:
    with op.batch_alter_table("oidc_clients") as batch:
        batch.drop_column("version")
