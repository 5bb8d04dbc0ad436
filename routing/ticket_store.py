"""The ticket record: the TicketStore port and its adapter on the CRM store's database.

Every change is one transaction (routing.ticket_changes): refused with a reason unless the
ticket's current status and holder allow it, and never giving a ticket a second owner or an agent
more than their capacity, whatever the live layer believed. Events are only ever appended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from crm_store.database import Database
from routing.errors import RoutingError, TicketNotFound, UnknownAgent
from routing.events import EventKind, TicketEvent, TicketStatus
from routing.ticket_changes import (
    AGENTS,
    EVENTS,
    TICKETS,
    Change,
    ChangeWriter,
    event_binds,
    event_of,
    event_values,
    logged,
    ticket_of,
)
from routing.tickets import OPEN, NewTicket, Step, Ticket

K = EventKind
OFFER_KINDS = (K.OFFERED, K.OFFER_DECLINED, K.OFFER_TIMED_OUT, K.TRANSFERRED, K.OVERFLOWED)


@dataclass(frozen=True, slots=True)
class Seat:
    """An active agent as routing sees them."""

    agent_id: int
    skills: frozenset[str]
    capacity: int


@dataclass(frozen=True, slots=True)
class OpenTicket:
    """An open ticket with what the live layer needs to rebuild its routing state."""

    ticket: Ticket
    offered_to: int | None = None
    offer_expires_at: datetime | None = None
    declined_by: frozenset[int] = frozenset()
    offers_made: int = 0


class TicketStore(Protocol):
    async def create(
        self, new: NewTicket, *, at: datetime, actor: str, data: Mapping[str, Any]
    ) -> Change: ...

    async def get(self, ticket_id: int) -> Ticket: ...

    async def events(self, ticket_id: int) -> list[TicketEvent]: ...

    async def has_customer_message(self, ticket_id: int, message_id: str) -> bool:
        """Whether the customer's message with this channel message id is on the ticket."""
        ...

    async def apply(
        self,
        ticket_id: int,
        steps: Sequence[Step],
        *,
        at: datetime,
        actor: str,
        holder: int | None = None,
        seat: int | None = None,
    ) -> Change:
        """Append `steps` in one transaction, or refuse them all with the reason.

        holder: the agent who must hold the ticket (an agent acting on their own ticket).
        seat: the agent an ASSIGNED step gives the ticket to (capacity checked, row locked).
        """
        ...

    async def tickets(
        self,
        *,
        statuses: Sequence[TicketStatus] | None = None,
        queue: str | None = None,
        agent_id: int | None = None,
        customer_id: int | None = None,
        conversation_id: str | None = None,
        limit: int = 100,
    ) -> list[Ticket]: ...

    async def open_tickets(self) -> list[OpenTicket]: ...

    async def open_ticket(self, ticket_id: int) -> OpenTicket | None:
        """The ticket with its live routing state; None when it is closed or unknown."""
        ...

    async def seats(self) -> list[Seat]: ...

    async def seat(self, agent_id: int) -> Seat: ...

    async def handle_times(self, since: datetime, limit: int = 500) -> list[tuple[str, float]]:
        """(queue, seconds from assignment to resolution) of recently resolved tickets."""
        ...


_CREATE = (
    insert(TICKETS)
    .values({c.name: bindparam(c.name, type_=c.type) for c in TICKETS.c if c.name != "id"})
    .returning(*TICKETS.c)
)
_CREATE_LOGGED = logged(_CREATE)


class SqlTicketStore:
    """TicketStore on SQLAlchemy (SQLite or PostgreSQL), sharing the CRM store's Database."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._one_statement = database.dialect == "postgresql"  # writable CTEs

    async def create(
        self, new: NewTicket, *, at: datetime, actor: str, data: Mapping[str, Any]
    ) -> Change:
        values = {
            "customer_id": new.customer_id,
            "queue": new.queue,
            "status": TicketStatus.QUEUED.value,
            "priority": new.priority,
            "tier": new.tier,
            "urgency": new.urgency.value,
            "channel": new.channel,
            "conversation_id": new.conversation_id,
            "reason": new.reason,
            "intent": new.intent,
            "confidence": new.confidence,
            "sla_policy": new.sla_policy,
            "last_seq": 1,
            "created_at": at,
            "updated_at": at,
            "assigned_agent_id": None,
            "first_response_at": None,
            "resolved_at": None,
            "rating": None,
        }
        event = TicketEvent(0, K.CREATED, at, actor, dict(data), seq=1)
        try:
            async with self._db.transaction() as session:
                connection = await session.connection()
                if self._one_statement:
                    binds = values | event_binds(K.CREATED, at, actor, data)
                    row = (await connection.execute(_CREATE_LOGGED, binds)).one()
                else:
                    row = (await connection.execute(_CREATE, values)).one()
                    event = replace(event, ticket_id=row.id)
                    await connection.execute(insert(EVENTS), event_values(event))
        except IntegrityError as exc:
            raise RoutingError(f"customer {new.customer_id} does not exist") from exc
        return Change(ticket_of(row), (replace(event, ticket_id=row.id),))

    async def get(self, ticket_id: int) -> Ticket:
        async with self._db.transaction() as session:
            row = (await session.execute(select(TICKETS).where(TICKETS.c.id == ticket_id))).first()
        if row is None:
            raise TicketNotFound(ticket_id)
        return ticket_of(row)

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        query = select(EVENTS).where(EVENTS.c.ticket_id == ticket_id).order_by(EVENTS.c.seq)
        async with self._db.transaction() as session:
            return [event_of(row) for row in await session.execute(query)]

    async def has_customer_message(self, ticket_id: int, message_id: str) -> bool:
        query = select(EVENTS.c.id).where(
            EVENTS.c.ticket_id == ticket_id,
            EVENTS.c.kind == EventKind.CUSTOMER_MESSAGE.value,
            EVENTS.c.data["message_id"].as_string() == message_id,
        )
        async with self._db.statement() as connection:
            return (await connection.execute(query.limit(1))).first() is not None

    async def apply(
        self,
        ticket_id: int,
        steps: Sequence[Step],
        *,
        at: datetime,
        actor: str,
        holder: int | None = None,
        seat: int | None = None,
    ) -> Change:
        async with self._db.transaction() as session:
            writer = ChangeWriter(
                await session.connection(), ticket_id, at, actor, one_statement=self._one_statement
            )
            return await writer.run(steps, holder, seat)

    async def tickets(
        self,
        *,
        statuses: Sequence[TicketStatus] | None = None,
        queue: str | None = None,
        agent_id: int | None = None,
        customer_id: int | None = None,
        conversation_id: str | None = None,
        limit: int = 100,
    ) -> list[Ticket]:
        query = select(TICKETS).order_by(TICKETS.c.id).limit(limit)
        if statuses is not None:
            query = query.where(TICKETS.c.status.in_([s.value for s in statuses]))
        for column, value in (
            (TICKETS.c.queue, queue),
            (TICKETS.c.assigned_agent_id, agent_id),
            (TICKETS.c.customer_id, customer_id),
            (TICKETS.c.conversation_id, conversation_id),
        ):
            if value is not None:
                query = query.where(column == value)
        async with self._db.transaction() as session:
            return [ticket_of(row) for row in await session.execute(query)]

    async def open_tickets(self) -> list[OpenTicket]:
        return await self._open(None)

    async def open_ticket(self, ticket_id: int) -> OpenTicket | None:
        found = await self._open(ticket_id)
        return found[0] if found else None

    async def _open(self, ticket_id: int | None) -> list[OpenTicket]:
        open_values = [s.value for s in OPEN]
        tickets_query = select(TICKETS).where(TICKETS.c.status.in_(open_values))
        history = (
            select(EVENTS.c.ticket_id, EVENTS.c.kind, EVENTS.c.data)
            .join(TICKETS, TICKETS.c.id == EVENTS.c.ticket_id)
            .where(TICKETS.c.status.in_(open_values), EVENTS.c.kind.in_(OFFER_KINDS))
            .order_by(EVENTS.c.ticket_id, EVENTS.c.seq)
        )
        if ticket_id is not None:
            tickets_query = tickets_query.where(TICKETS.c.id == ticket_id)
            history = history.where(EVENTS.c.ticket_id == ticket_id)
        async with self._db.transaction() as session:
            rows = await session.execute(tickets_query.order_by(TICKETS.c.id))
            tickets = [ticket_of(row) for row in rows]
            offers: dict[int, list[tuple[EventKind, dict[str, Any]]]] = {}
            for event_ticket, kind, data in await session.execute(history):
                offers.setdefault(event_ticket, []).append((EventKind(kind), data or {}))
        return [_open_ticket(t, offers.get(t.id, [])) for t in tickets]

    async def seats(self) -> list[Seat]:
        query = select(AGENTS.c.id, AGENTS.c.skills, AGENTS.c.capacity).where(AGENTS.c.active)
        async with self._db.transaction() as session:
            rows = await session.execute(query.order_by(AGENTS.c.id))
            return [Seat(row.id, frozenset(row.skills or ()), row.capacity) for row in rows]

    async def seat(self, agent_id: int) -> Seat:
        query = select(AGENTS.c.id, AGENTS.c.skills, AGENTS.c.capacity).where(
            AGENTS.c.id == agent_id, AGENTS.c.active
        )
        async with self._db.transaction() as session:
            row = (await session.execute(query)).first()
        if row is None:
            raise UnknownAgent(agent_id)
        return Seat(row.id, frozenset(row.skills or ()), row.capacity)

    async def handle_times(self, since: datetime, limit: int = 500) -> list[tuple[str, float]]:
        assigned_at = func.max(EVENTS.c.at)
        query = (
            select(TICKETS.c.queue, TICKETS.c.resolved_at, assigned_at)
            .join(EVENTS, EVENTS.c.ticket_id == TICKETS.c.id)
            .where(
                TICKETS.c.status == TicketStatus.RESOLVED.value,
                TICKETS.c.resolved_at >= since,
                EVENTS.c.kind == K.ASSIGNED.value,
            )
            .group_by(TICKETS.c.id, TICKETS.c.queue, TICKETS.c.resolved_at)
            .order_by(TICKETS.c.resolved_at.desc())
            .limit(limit)
        )
        async with self._db.transaction() as session:
            rows = (await session.execute(query)).all()
        return [
            (queue, (resolved - started).total_seconds())
            for queue, resolved, started in rows
            if resolved is not None and started is not None
        ]


def _open_ticket(ticket: Ticket, history: list[tuple[EventKind, dict[str, Any]]]) -> OpenTicket:
    """Fold the ticket's offer history since its last transfer into the live routing state."""
    offered_to: int | None = None
    expires_at: datetime | None = None
    declined: set[int] = set()
    made = 0
    for kind, data in history:
        if kind in (K.TRANSFERRED, K.OVERFLOWED):
            declined, made = set(), 0
        elif kind is K.OFFERED:
            made += 1
            offered_to = int(data["agent_id"])
            expires_at = datetime.fromisoformat(str(data["expires_at"]))
        else:
            declined.add(int(data["agent_id"]))
    if ticket.status is not TicketStatus.OFFERED:
        offered_to = expires_at = None
    return OpenTicket(ticket, offered_to, expires_at, frozenset(declined), made)
