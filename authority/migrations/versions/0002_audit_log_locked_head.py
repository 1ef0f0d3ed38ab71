"""audit log: lock the chain and read its head in one round trip

Revision ID: authority_0002
Revises: authority_0001
Create Date: 2026-11-27

``audit_log_locked_head(key)`` takes the transaction-scoped advisory lock that
serialises appends, then reads the head entry. It must be a VOLATILE PL/pgSQL
function: under READ COMMITTED each statement inside it takes a fresh snapshot, so the
SELECT sees the entry committed by the writer that held the lock before us. (One plain
SELECT that also took the lock would read with a snapshot from before the wait.)
"""

from __future__ import annotations

from alembic import op

revision = "authority_0002"
down_revision = "authority_0001"
branch_labels = None
depends_on = None

LOCKED_HEAD_FUNCTION = """
CREATE FUNCTION audit_log_locked_head(lock_key bigint)
RETURNS TABLE (seq bigint, hash varchar)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY SELECT a.seq, a.hash FROM audit_log AS a ORDER BY a.seq DESC LIMIT 1;
END;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LOCKED_HEAD_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_locked_head(bigint)")
