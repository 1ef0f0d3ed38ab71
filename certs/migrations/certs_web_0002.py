"""certs: reminder e-mail addresses encrypted at rest (reminder_subscriptions.email_cipher)

Revision ID: certs_web_0002
Revises: certs_web_0001

A migration does not know the key-encryption key, so it cannot encrypt the addresses
already stored. It adds the nullable ``email_cipher`` column and makes the clear
``email`` column nullable; the application seals a row's address (and sets ``email`` to
NULL) the next time it reads or writes the row, and ``authority reminders reseal``
seals every remaining row at once (docs/holder-directory.md, "Reminders").

Downgrade cannot decrypt either: it refuses while any row holds only a ciphertext,
rather than dropping addresses holders gave.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "certs_web_0002"
down_revision = "certs_web_0001"
branch_labels = None
depends_on = None

_DELETE_SEALED = "DELETE FROM reminder_subscriptions WHERE email IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("reminder_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_cipher", sa.LargeBinary(), nullable=True))
        batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=True)
        batch_op.create_check_constraint(
            op.f("ck_reminder_subscriptions_has_email"),
            "email_cipher IS NOT NULL OR email IS NOT NULL",
        )


def downgrade() -> None:
    sealed = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM reminder_subscriptions WHERE email IS NULL")
    )
    if sealed:
        raise RuntimeError(
            f"{sealed} reminder subscription(s) hold only an encrypted address, which a "
            "migration cannot decrypt; downgrading would lose them. If that is intended, "
            f"delete those rows first: {_DELETE_SEALED}"
        )
    with op.batch_alter_table("reminder_subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_reminder_subscriptions_has_email"), type_="check")
        batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=False)
        batch_op.drop_column("email_cipher")
