"""Writing one change to a ticket: the guarded UPDATE and its event, inside one transaction.

The ticket row is updated only if its status (and holder) are still what the change expects
(`UPDATE ... WHERE status IN (...)`), bumping `last_seq`, which also takes the row lock; the event
is appended with that seq. Giving a ticket to an agent first locks the agent's row and counts
what they hold, so the database itself refuses a second owner or a ticket over capacity,
whatever the live layer believed. Taking a ticket off an agent locks their row too, so one
agent's load changes are serialised (their events are in commit order).

Statements are built once per shape and cached (with bind parameters): the hot paths (claims,
resolutions) then cost a lock, one statement and the commit. On PostgreSQL the UPDATE and the
event's INSERT are one statement (writable CTEs), and offers are committed asynchronously
(see TRANSIENT).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Row,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_store import models as m
from crm_store.enums import Channel
from crm_store.tiers import Tier
from crm_store.utc import UtcDateTime
from routing.errors import AgentAtCapacity, InvalidTransition, TicketNotFound, UnknownAgent
from routing.events import EventKind, TicketEvent, TicketStatus, Urgency
from routing.tickets import HELD, MOVES, Step, Ticket, refusal

K = EventKind
TICKETS: Table = m.Ticket.__table__  # type: ignore[assignment]
EVENTS: Table = m.TicketEvent.__table__  # type: ignore[assignment]
AGENTS: Table = m.Agent.__table__  # type: ignore[assignment]
RELEASING = frozenset({K.RESOLVED, K.TRANSFERRED})  # events that take a ticket off its holder
# Offers come and go: PostgreSQL may commit them without waiting for the disk. One lost in a
# crash leaves the ticket queued, as if never offered; any later change (an acceptance) is
# committed durably, and that also flushes the offer written before it.
TRANSIENT = frozenset({K.OFFERED, K.OFFER_DECLINED, K.OFFER_TIMED_OUT})
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")
EVENT_COLUMNS = ["ticket_id", "seq", "kind", "at", "actor", "data"]


@dataclass(frozen=True, slots=True)
class Change:
    ticket: Ticket
    events: tuple[TicketEvent, ...]
    held_since: datetime | None = None  # for a release: when the holder was given the ticket


def ticket_of(row: Row[Any]) -> Ticket:
    r = row._mapping
    return Ticket(
        id=r["id"],
        customer_id=r["customer_id"],
        queue=r["queue"],
        status=TicketStatus(r["status"]),
        priority=r["priority"],
        tier=Tier(r["tier"]),
        urgency=Urgency(r["urgency"]),
        channel=Channel(r["channel"]),
        conversation_id=r["conversation_id"],
        reason=r["reason"],
        intent=r["intent"],
        confidence=r["confidence"],
        assigned_agent_id=r["assigned_agent_id"],
        sla_policy=r["sla_policy"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        first_response_at=r["first_response_at"],
        resolved_at=r["resolved_at"],
        rating=r["rating"],
        last_seq=r["last_seq"],
    )


def event_of(row: Row[Any]) -> TicketEvent:
    r = row._mapping
    return TicketEvent(
        ticket_id=r["ticket_id"],
        kind=EventKind(r["kind"]),
        at=r["at"],
        actor=r["actor"],
        data=dict(r["data"] or {}),
        seq=r["seq"],
    )


def event_values(event: TicketEvent) -> dict[str, Any]:
    return {
        "ticket_id": event.ticket_id,
        "seq": event.seq,
        "kind": event.kind.value,
        "at": event.at,
        "actor": event.actor,
        "data": event.data,
    }


def logged(statement: Any, *, held_since: bool = False) -> Any:
    """PostgreSQL: a ticket INSERT/UPDATE ... RETURNING plus its event's INSERT as one statement,
    returning the ticket row (and, with held_since, when its holder was given it).

    Binds: ev_kind, ev_at, ev_actor, ev_data."""
    changed = statement.cte("changed")
    event = select(
        changed.c.id,
        changed.c.last_seq,
        bindparam("ev_kind", type_=String()),
        bindparam("ev_at", type_=UtcDateTime()),
        bindparam("ev_actor", type_=String()),
        bindparam("ev_data", type_=JSON()),
    )
    log = insert(EVENTS).from_select(EVENT_COLUMNS, event).cte("logged")
    columns: list[Any] = [changed]
    if held_since:
        since = (
            select(func.max(EVENTS.c.at))
            .where(EVENTS.c.ticket_id == changed.c.id, EVENTS.c.kind == K.ASSIGNED.value)
            .scalar_subquery()
        )
        columns.append(since.label("held_since"))
    return select(*columns).add_cte(log)


def event_binds(
    kind: EventKind, at: datetime, actor: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    return {"ev_kind": kind.value, "ev_at": at, "ev_actor": actor, "ev_data": dict(data)}


class _Unchecked(Enum):
    UNCHECKED = "unchecked"


UNCHECKED = _Unchecked.UNCHECKED
Guard = int | None | Literal[_Unchecked.UNCHECKED]  # who must hold the ticket (None: nobody)
GuardMode = Literal["any", "nobody", "agent"]


def _held_load() -> Any:
    """How many tickets the `seat` agent holds now (a scalar subquery)."""
    held = TICKETS.alias("held")
    return (
        select(func.count())
        .select_from(held)
        .where(
            held.c.assigned_agent_id == bindparam("seat"),
            held.c.status.in_([s.value for s in HELD]),
        )
        .scalar_subquery()
    )


@lru_cache(maxsize=512)
def _update_statement(
    kind: EventKind,
    allowed: frozenset[TicketStatus],
    guard: GuardMode,
    changes: tuple[str, ...],
    one_statement: bool,
) -> Any:
    """UPDATE the ticket if its status (and holder, and the seat's load) allow the step.

    Binds: ticket_id, at, guard, seat, capacity, set_<column> per change (+ the event's)."""
    conditions = [
        TICKETS.c.id == bindparam("ticket_id"),
        TICKETS.c.status.in_(sorted(s.value for s in allowed)),
    ]
    if guard == "nobody":
        conditions.append(TICKETS.c.assigned_agent_id.is_(None))
    elif guard == "agent":
        conditions.append(TICKETS.c.assigned_agent_id == bindparam("guard"))
    values: dict[str, Any] = {
        "last_seq": TICKETS.c.last_seq + 1,
        "updated_at": bindparam("at", type_=UtcDateTime()),
    }
    if kind is K.ASSIGNED:
        conditions += [TICKETS.c.assigned_agent_id.is_(None), _held_load() < bindparam("capacity")]
        values["assigned_agent_id"] = bindparam("seat")
    if kind in RELEASING:
        values["assigned_agent_id"] = None
    if kind is K.AGENT_MESSAGE:
        values["first_response_at"] = func.coalesce(
            TICKETS.c.first_response_at, bindparam("at", type_=UtcDateTime())
        )
    for column in changes:
        values[column] = bindparam(f"set_{column}", type_=TICKETS.c[column].type)
    to = MOVES[kind].to
    if to is not None:
        values["status"] = to.value
    statement = update(TICKETS).where(*conditions).values(values).returning(*TICKETS.c)
    return logged(statement, held_since=True) if one_statement else statement


_LOCK_AGENTS = (
    select(AGENTS.c.id, AGENTS.c.capacity, AGENTS.c.active)
    .where(AGENTS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(AGENTS.c.id)
    .with_for_update()
)
_CURRENT = select(TICKETS).where(TICKETS.c.id == bindparam("ticket_id"))
_HELD_SINCE = select(func.max(EVENTS.c.at)).where(
    EVENTS.c.ticket_id == bindparam("ticket_id"), EVENTS.c.kind == K.ASSIGNED.value
)


class ChangeWriter:
    """One `TicketStore.apply`, inside its transaction's connection."""

    def __init__(
        self,
        connection: AsyncConnection,
        ticket_id: int,
        at: datetime,
        actor: str,
        *,
        one_statement: bool = False,
    ) -> None:
        self.connection = connection
        self.one_statement = one_statement
        self.ticket_id = ticket_id
        self.at = at
        self.actor = actor

    async def run(self, steps: Sequence[Step], holder: int | None, seat: int | None) -> Change:
        if self.one_statement and steps and all(step.kind in TRANSIENT for step in steps):
            await self.connection.execute(_ASYNC_COMMIT)
        guard: Guard = UNCHECKED if holder is None else holder
        releasing = any(step.kind in RELEASING for step in steps)
        if releasing and holder is None:
            guard = (await self.current()).assigned_agent_id
        capacity = await self._lock_agents(seat, guard if releasing else None)
        if len(steps) == 1 and self.one_statement:
            step = steps[0]
            binds = event_binds(step.kind, self.at, self.actor, step.data)
            row = await self._update(step, guard, seat, capacity, binds)
            since = row._mapping["held_since"] if step.kind in RELEASING else None
            return Change(ticket_of(row), (self._event(step, row.last_seq),), since)
        events: list[TicketEvent] = []
        last: Row[Any] | None = None
        held_since = await self.connection.scalar(_HELD_SINCE, self._id) if releasing else None
        for step in steps:
            last = await self._update(step, guard, seat, capacity, None)
            if step.kind in RELEASING:
                guard = None
            if step.kind is K.ASSIGNED:
                guard = seat
            events.append(self._event(step, last.last_seq))
        if events:
            await self.connection.execute(insert(EVENTS), [event_values(e) for e in events])
        if last is None:
            return Change(await self.current(), ())
        return Change(ticket_of(last), tuple(events), held_since)

    @property
    def _id(self) -> dict[str, Any]:
        return {"ticket_id": self.ticket_id}

    def _event(self, step: Step, seq: int) -> TicketEvent:
        return TicketEvent(self.ticket_id, step.kind, self.at, self.actor, dict(step.data), seq=seq)

    async def current(self) -> Ticket:
        row = (await self.connection.execute(_CURRENT, self._id)).first()
        if row is None:
            raise TicketNotFound(self.ticket_id)
        return ticket_of(row)

    async def _lock_agents(self, seat: int | None, releasing_from: Guard) -> int:
        """Lock the rows of the agents whose load changes (in id order); the seat's capacity."""
        ids = sorted({a for a in (seat, releasing_from) if isinstance(a, int)})
        if not ids:
            return 0
        rows = {row.id: row for row in await self.connection.execute(_LOCK_AGENTS, {"ids": ids})}
        if seat is None:
            return 0
        if seat not in rows or not rows[seat].active:
            raise UnknownAgent(seat)
        return int(rows[seat].capacity)

    async def _update(
        self,
        step: Step,
        guard: Guard,
        seat: int | None,
        capacity: int,
        event: dict[str, Any] | None,
    ) -> Row[Any]:
        if step.kind is K.ASSIGNED and seat is None:
            raise ValueError("an ASSIGNED step needs the seat (agent) it gives the ticket to")
        mode: GuardMode = "any" if guard is UNCHECKED else "nobody" if guard is None else "agent"
        changes = tuple(sorted(step.changes))
        statement = _update_statement(step.kind, step.allowed(), mode, changes, event is not None)
        binds: dict[str, Any] = {"ticket_id": self.ticket_id, "at": self.at, **(event or {})}
        if mode == "agent":
            binds["guard"] = guard
        if step.kind is K.ASSIGNED:
            binds |= {"seat": seat, "capacity": capacity}
        binds |= {f"set_{column}": step.changes[column] for column in changes}
        row = (await self.connection.execute(statement, binds)).first()
        if row is None:
            await self._refuse(step, guard, seat, capacity)
        assert row is not None
        return row

    async def _refuse(self, step: Step, guard: Guard, seat: int | None, capacity: int) -> None:
        ticket = await self.current()
        status, holder = ticket.status, ticket.assigned_agent_id
        allowed = step.allowed()

        def refused(reason: str) -> InvalidTransition:
            return InvalidTransition(self.ticket_id, reason, status=status)

        if status not in allowed:
            raise refused(refusal(step.kind, status, allowed))
        if guard is not UNCHECKED and holder != guard:
            who = "no agent" if holder is None else f"agent {holder}"
            raise refused(f"the ticket is held by {who}, not agent {guard}")
        if step.kind is K.ASSIGNED and holder is not None:
            raise refused(f"the ticket is already assigned to agent {holder}")
        if step.kind is K.ASSIGNED and seat is not None:
            raise AgentAtCapacity(seat, capacity)
        raise refused("the ticket changed meanwhile; try again")
