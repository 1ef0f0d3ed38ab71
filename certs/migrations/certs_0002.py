"""certs: drop ix_licenses_signing_kid, redundant with uq_licenses_kid_status_index

Revision ID: certs_0002
Revises: certs_web_0002

Every look-up by signing key (the trust bundle's status lists, online verification) is
served by the unique index on (signing_kid, status_index), whose leading column is the
kid. The single-column index only cost PostgreSQL one more B-tree insertion per issued
license (docs/licenses.md, "Performance").
"""

from __future__ import annotations

from alembic import op

revision = "certs_0002"
down_revision = "certs_web_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licenses_signing_kid"))


def downgrade() -> None:
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_licenses_signing_kid"), ["signing_kid"], unique=False)
