"""knowledge questions keyed by message

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

The message that asked an advice question ("<channel>:<message id>"), unique: a message
retried after a crash (the question was logged, the turn's own commit never happened) finds
its entry instead of logging the question twice, and its "Was this helpful?" buttons point at
the same entry. Rows logged before this revision, and messages without an id, hold NULL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("knowledge_questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_key", sa.String(length=150), nullable=True))
        batch_op.create_index("ix_knowledge_questions_message_key", ["message_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("knowledge_questions", schema=None) as batch_op:
        batch_op.drop_index("ix_knowledge_questions_message_key")
        batch_op.drop_column("message_key")
