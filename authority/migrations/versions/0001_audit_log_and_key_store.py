"""audit log and key store

Revision ID: authority_0001
Revises:
Create Date: 2026-11-27

On PostgreSQL a trigger makes ``audit_log`` append-only: UPDATE and DELETE raise.
TRUNCATE is a separate statement-level event and stays allowed (the test suite empties
tables with it); an owner can also ``ALTER TABLE audit_log DISABLE TRIGGER
audit_log_append_only``. The SM3 chain, not the trigger, is what proves integrity.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "authority_0001"
down_revision = None
branch_labels = ("authority",)
depends_on = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

APPEND_ONLY_TRIGGER = """
CREATE TRIGGER audit_log_append_only
BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_log_prev_hash")),
    )
    op.create_index(op.f("ix_audit_log_created_at"), "audit_log", ["created_at"])
    op.create_index(op.f("ix_audit_log_event"), "audit_log", ["event"])

    op.create_table(
        "stored_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("public_pem", sa.Text(), nullable=False),
        sa.Column("sealed_private", sa.LargeBinary(), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("compromised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unpublished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'retired', 'compromised')", name=op.f("ck_stored_keys_status")
        ),
        sa.CheckConstraint(
            "algorithm IN ('SM2', 'RS256', 'ES256')", name=op.f("ck_stored_keys_algorithm")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_stored_keys_kid")),
    )
    op.create_index(op.f("ix_stored_keys_purpose"), "stored_keys", ["purpose"])
    op.create_index(
        "uq_stored_keys_active_purpose",
        "stored_keys",
        ["purpose"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_index("uq_stored_keys_active_purpose", table_name="stored_keys")
    op.drop_index(op.f("ix_stored_keys_purpose"), table_name="stored_keys")
    op.drop_table("stored_keys")
    op.drop_index(op.f("ix_audit_log_event"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_created_at"), table_name="audit_log")
    op.drop_table("audit_log")
