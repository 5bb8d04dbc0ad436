"""dialogue records

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Advice questions with how sure the answer was (the knowledge-base gaps report), and one
reminder row per appointment start time, claimed before sending so a restart never repeats one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crm_store.utc

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("article_slug", sa.String(length=100), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("sure", sa.Boolean(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=True),
        sa.Column("asked_at", crm_store.utc.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_knowledge_questions_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_questions")),
    )
    with op.batch_alter_table("knowledge_questions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_knowledge_questions_asked_at"), ["asked_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_knowledge_questions_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("start_at", crm_store.utc.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "sending",
                "sent",
                "skipped",
                "failed",
                name="reminderstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "telegram",
                "phone",
                "email",
                "web",
                "rest",
                name="channel",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", crm_store.utc.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", crm_store.utc.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_reminders_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint(
            "appointment_id", "start_at", name=op.f("uq_reminders_appointment_id_start_at")
        ),
    )


def downgrade() -> None:
    op.drop_table("reminders")
    with op.batch_alter_table("knowledge_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_questions_customer_id"))
        batch_op.drop_index(batch_op.f("ix_knowledge_questions_asked_at"))

    op.drop_table("knowledge_questions")
