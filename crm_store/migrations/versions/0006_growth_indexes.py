"""growth indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

Three indexes that keep slot search and the supervisors' dashboard flat as the history grows
(bench/growth.py measures them at 10k / 100k / 1M customers and tickets):

- appointments (resource_id, end_at): a practitioner's busy times in a window read only the
  appointments ending after the window opens. With (resource_id, start_at) alone, `start_at <
  window end` bounds them from above only, so every past appointment was read (and the
  exclusion constraint's index holds every booked one, past ones included).
- ticket_events (at): the tickets with an event since midnight (the live board, the day's
  intervals), instead of reading the whole log.
- interactions (occurred_at): today's messages by channel on the board, instead of reading the
  whole contact history.

Building an index holds writes to its table until it is done. On a large PostgreSQL database
where that matters, build them first with CREATE INDEX CONCURRENTLY under the same names: the
upgrade then skips them (IF NOT EXISTS) and only records the revision.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_appointments_resource_end",
        "appointments",
        ["resource_id", "end_at"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_interactions_occurred_at"),
        "interactions",
        ["occurred_at"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_ticket_events_at"), "ticket_events", ["at"], unique=False, if_not_exists=True
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_events_at"), table_name="ticket_events")
    op.drop_index(op.f("ix_interactions_occurred_at"), table_name="interactions")
    op.drop_index("ix_appointments_resource_end", table_name="appointments")
