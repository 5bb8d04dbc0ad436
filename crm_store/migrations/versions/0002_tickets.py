"""tickets and their append-only event log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

A ticket row holds the current state (queue, status, assigned agent, priority); ticket_events
holds its history, one row per event, numbered 1, 2, ... per ticket (`seq`, unique per ticket).
`tickets.last_seq` is bumped by every append: the UPDATE that bumps it takes the ticket's row
lock, so two appends to one ticket queue up instead of racing for the same seq.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crm_store.utc

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_STATUSES = ("queued", "offered", "assigned", "waiting_on_customer", "resolved", "abandoned")
_URGENCIES = ("normal", "complaint", "emergency")
_TIERS = ("platinum", "gold", "iron", "lead")
_CHANNELS = ("telegram", "phone", "email", "web", "rest")


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("status", _enum("ticketstatus", _STATUSES), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("tier", _enum("tier", _TIERS), nullable=False),
        sa.Column("urgency", _enum("urgency", _URGENCIES), nullable=False),
        sa.Column("channel", _enum("channel", _CHANNELS), nullable=False),
        sa.Column("conversation_id", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("assigned_agent_id", sa.Integer(), nullable=True),
        sa.Column("sla_policy", sa.String(length=64), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", crm_store.utc.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm_store.utc.UtcDateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", crm_store.utc.UtcDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", crm_store.utc.UtcDateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_agent_id"], ["agents.id"], name=op.f("fk_tickets_assigned_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_tickets_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_assigned_agent_id_status", ["assigned_agent_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_tickets_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            "ix_tickets_customer_id_created_at", ["customer_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_tickets_status_queue", ["status", "queue"], unique=False)

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", crm_store.utc.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_events_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
        sa.UniqueConstraint("ticket_id", "seq", name=op.f("uq_ticket_events_ticket_id_seq")),
    )
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_events_kind_at", ["kind", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_events_kind_at")
    op.drop_table("ticket_events")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_status_queue")
        batch_op.drop_index("ix_tickets_customer_id_created_at")
        batch_op.drop_index(batch_op.f("ix_tickets_conversation_id"))
        batch_op.drop_index("ix_tickets_assigned_agent_id_status")
    op.drop_table("tickets")
