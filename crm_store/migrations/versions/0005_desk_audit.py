"""desk audit

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

The desk's security audit log: logins (and failed or throttled ones), logouts, refused requests
(wrong role, another queue's ticket, a missing CSRF token) and the sensitive actions of staff.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crm_store.utc

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", crm_store.utc.UtcDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("target", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_desk_audit_events_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_audit_events")),
    )
    with op.batch_alter_table("desk_audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_desk_audit_events_agent_id_at", ["agent_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_desk_audit_events_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("desk_audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desk_audit_events_at"))
        batch_op.drop_index("ix_desk_audit_events_agent_id_at")

    op.drop_table("desk_audit_events")
