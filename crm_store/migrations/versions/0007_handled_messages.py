"""handled messages

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

The message ids the bot has answered, with their replies, written in the same transaction as
the turn's history: the durable half of "each message exactly once" (it used to live only in
Redis, which a flush or a crash between the store and the remember could lose).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crm_store.utc

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handled_messages",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("replies", sa.JSON(), nullable=False),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("handled_at", crm_store.utc.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "message_id", name=op.f("pk_handled_messages")),
    )
    with op.batch_alter_table("handled_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handled_messages_handled_at"), ["handled_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("handled_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handled_messages_handled_at"))
    op.drop_table("handled_messages")
