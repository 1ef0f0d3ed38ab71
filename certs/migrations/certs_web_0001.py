"""certs: expiry reminders (sent_reminders, reminder_subscriptions)

Revision ID: certs_web_0001
Revises: certs_0001 (the certs branch stays linear: a later certs migration revises this)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "certs_web_0001"
down_revision = "certs_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sent_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("threshold_days", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_sent_reminders_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_reminders")),
        sa.UniqueConstraint(
            "license_id", "expires_at", "threshold_days", name="uq_sent_reminders_once"
        ),
    )
    with op.batch_alter_table("sent_reminders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sent_reminders_license_id"), ["license_id"], unique=False
        )
    op.create_table(
        "reminder_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder_index", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_subscriptions")),
        sa.UniqueConstraint("holder_index", name=op.f("uq_reminder_subscriptions_holder_index")),
    )


def downgrade() -> None:
    op.drop_table("reminder_subscriptions")
    with op.batch_alter_table("sent_reminders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sent_reminders_license_id"))
    op.drop_table("sent_reminders")
