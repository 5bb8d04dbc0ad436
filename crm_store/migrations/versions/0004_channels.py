"""channels

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

The web chat's transcript (numbered per conversation, one row per browser idempotency key), so
the widget restores history and backfills after a reload or a server restart; and the address
a phone call is put through to when an agent takes it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crm_store.utc

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webchat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "author",
            sa.Enum("customer", "bot", "agent", name="webchatauthor", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("client_key", sa.String(length=64), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", crm_store.utc.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webchat_messages")),
        sa.UniqueConstraint(
            "conversation_id",
            "client_key",
            name=op.f("uq_webchat_messages_conversation_id_client_key"),
        ),
        sa.UniqueConstraint(
            "conversation_id", "seq", name=op.f("uq_webchat_messages_conversation_id_seq")
        ),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_address", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("phone_address")

    op.drop_table("webchat_messages")
