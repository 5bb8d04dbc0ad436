"""Read-only queries the desk needs beyond the repositories: a conversation's transcript, recent
transactions, a customer's past tickets, and the ticket logs the dashboard's numbers come from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, union

from crm_store import mapping
from crm_store import models as m
from crm_store.database import Database
from crm_store.records import InteractionRecord, TransactionRecord
from routing.events import TicketEvent
from routing.ticket_changes import EVENTS, TICKETS, event_of, ticket_of
from routing.tickets import OPEN, Ticket

OPEN_VALUES = sorted(status.value for status in OPEN)
MAX_TRANSCRIPT = 500


class DeskHistory:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def conversation(self, conversation_id: str) -> list[InteractionRecord]:
        """The conversation's messages, oldest first (the last MAX_TRANSCRIPT of them)."""
        i = m.Interaction
        query = (
            select(i)
            .where(i.conversation_id == conversation_id)
            .order_by(i.occurred_at.desc(), i.id.desc())
            .limit(MAX_TRANSCRIPT)
        )
        async with self._db.transaction() as session:
            rows = (await session.scalars(query)).all()
            return [mapping.interaction(row) for row in reversed(rows)]

    async def transactions(self, customer_id: int, limit: int = 10) -> list[TransactionRecord]:
        t = m.Transaction
        query = (
            select(t)
            .where(t.customer_id == customer_id)
            .order_by(t.occurred_at.desc(), t.id.desc())
            .limit(limit)
        )
        async with self._db.transaction() as session:
            return [mapping.transaction(row) for row in await session.scalars(query)]

    async def customer_tickets(self, customer_id: int, limit: int = 20) -> list[Ticket]:
        """The customer's tickets, newest first."""
        query = (
            select(TICKETS)
            .where(TICKETS.c.customer_id == customer_id)
            .order_by(TICKETS.c.id.desc())
            .limit(limit)
        )
        async with self._db.transaction() as session:
            return [ticket_of(row) for row in await session.execute(query)]

    async def tickets_created(self, start: datetime, end: datetime) -> list[Ticket]:
        query = (
            select(TICKETS)
            .where(TICKETS.c.created_at >= start, TICKETS.c.created_at < end)
            .order_by(TICKETS.c.id)
        )
        async with self._db.transaction() as session:
            return [ticket_of(row) for row in await session.execute(query)]

    async def open_tickets(self) -> list[Ticket]:
        query = select(TICKETS).where(TICKETS.c.status.in_(OPEN_VALUES)).order_by(TICKETS.c.id)
        async with self._db.transaction() as session:
            return [ticket_of(row) for row in await session.execute(query)]

    async def events_of(self, ticket_ids: Sequence[int]) -> dict[int, list[TicketEvent]]:
        """Each ticket's log in order."""
        found: dict[int, list[TicketEvent]] = defaultdict(list)
        for start in range(0, len(ticket_ids), 500):
            chunk = list(ticket_ids[start : start + 500])
            query = (
                select(EVENTS)
                .where(EVENTS.c.ticket_id.in_(chunk))
                .order_by(EVENTS.c.ticket_id, EVENTS.c.seq)
            )
            async with self._db.transaction() as session:
                for row in await session.execute(query):
                    event = event_of(row)
                    found[event.ticket_id].append(event)
        return found

    async def active_since(self, since: datetime, until: datetime | None = None) -> list[int]:
        """Tickets with an event in [since, until), or still open (their clocks run on).

        A UNION of two index range scans (ticket_events.at, tickets.status): an OR of the two
        conditions would read every ticket, however old.
        """
        touched = select(EVENTS.c.ticket_id).where(EVENTS.c.at >= since)
        if until is not None:
            touched = touched.where(EVENTS.c.at < until)
        still_open = select(TICKETS.c.id).where(TICKETS.c.status.in_(OPEN_VALUES))
        async with self._db.transaction() as session:
            return sorted(row[0] for row in await session.execute(union(touched, still_open)))

    async def messages_since(self, since: datetime) -> dict[tuple[str, str], int]:
        """Messages in the contact history since `since`, by (channel, direction)."""
        i = m.Interaction
        query = (
            select(i.channel, i.direction, func.count(i.id))
            .where(i.occurred_at >= since)
            .group_by(i.channel, i.direction)
        )
        async with self._db.transaction() as session:
            rows = (await session.execute(query)).all()
        return {(str(channel), str(direction)): int(n) for channel, direction, n in rows}

    async def customer_names(self, customer_ids: Sequence[int]) -> dict[int, str]:
        if not customer_ids:
            return {}
        c = m.Customer
        query = select(c.id, c.full_name).where(c.id.in_(sorted(set(customer_ids))))
        async with self._db.transaction() as session:
            return {int(i): str(name) for i, name in await session.execute(query)}
