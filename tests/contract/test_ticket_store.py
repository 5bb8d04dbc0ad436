"""The ticket record's contract on SQLite and PostgreSQL: lifecycle, guards, the event log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_store import models as m
from crm_store.store import CrmStore
from crm_store.tiers import Tier
from routing.errors import AgentAtCapacity, InvalidTransition, TicketNotFound, UnknownAgent
from routing.events import EventKind, TicketStatus, Urgency
from routing.ticket_store import SqlTicketStore
from routing.tickets import MOVES, NewTicket, Step, next_status
from tests.contract.routing_fixture import CHANNEL, T0, add_agents, add_customers

K, S = EventKind, TicketStatus


@pytest.fixture
async def tickets(store: CrmStore) -> SqlTicketStore:
    return SqlTicketStore(store.database)


@pytest.fixture
async def people(store: CrmStore) -> tuple[int, list[int]]:
    (customer,) = await add_customers(store.database, 1)
    agents = await add_agents(store.database, [(["billing"], 1), (["billing"], 2)])
    return customer, agents


def new_ticket(customer: int, queue: str = "billing") -> NewTicket:
    return NewTicket(customer, queue, Tier.GOLD, CHANNEL, "standard", 200, Urgency.COMPLAINT)


async def ticket_in(tickets, customer: int, agent: int, status: TicketStatus) -> int:
    """A ticket brought to `status` along the normal path."""
    ticket = (await tickets.create(new_ticket(customer), at=T0, actor="bot", data={})).ticket
    path = {
        S.QUEUED: [],
        S.OFFERED: [Step(K.OFFERED, {"agent_id": agent, "expires_at": T0.isoformat()})],
        S.ASSIGNED: [Step(K.ASSIGNED, {"agent_id": agent, "via": "pull"})],
        S.WAITING_ON_CUSTOMER: [Step(K.ASSIGNED), Step(K.WAITING_ON_CUSTOMER)],
        S.RESOLVED: [Step(K.ASSIGNED), Step(K.RESOLVED)],
        S.ABANDONED: [Step(K.ABANDONED)],
    }[status]
    if path:
        await tickets.apply(ticket.id, path, at=T0, actor="test", seat=agent)
    return ticket.id


def step_for(kind: EventKind, agent: int) -> tuple[Step, dict[str, int]]:
    data = {"agent_id": agent, "expires_at": T0.isoformat()}
    if kind is K.ASSIGNED:
        return Step(kind, data), {"seat": agent}
    return Step(kind, data), {}


async def test_a_new_ticket_is_queued_with_its_created_event(tickets, people) -> None:
    customer, _ = people
    change = await tickets.create(
        new_ticket(customer), at=T0, actor="bot", data={"queue": "billing"}
    )
    ticket = change.ticket
    assert (ticket.status, ticket.queue, ticket.priority, ticket.tier) == (
        S.QUEUED, "billing", 200, Tier.GOLD,
    )  # fmt: skip
    assert ticket.created_at == T0 and ticket.assigned_agent_id is None
    (event,) = await tickets.events(ticket.id)
    assert (event.kind, event.seq, event.actor, event.at, event.data) == (
        K.CREATED, 1, "bot", T0, {"queue": "billing"},
    )  # fmt: skip
    assert await tickets.get(ticket.id) == ticket
    with pytest.raises(TicketNotFound):
        await tickets.get(ticket.id + 100)


async def test_every_event_is_allowed_or_refused_with_a_reason(tickets, people, store) -> None:
    customer, _ = people
    (agent,) = await add_agents(store.database, [(["billing"], 50)], prefix="big")
    for status in S:
        holder = {"holder": agent} if status in (S.ASSIGNED, S.WAITING_ON_CUSTOMER) else {}
        unchanged = await ticket_in(tickets, customer, agent, status)
        for kind, move in MOVES.items():
            if kind is K.CREATED:
                continue
            step, extra = step_for(kind, agent)
            if status in move.allowed_from:
                ticket_id = await ticket_in(tickets, customer, agent, status)
                change = await tickets.apply(
                    ticket_id, [step], at=T0, actor="test", **extra, **holder
                )
                assert change.ticket.status == next_status(ticket_id, status, kind), kind
                assert change.events[-1].kind is kind
                continue
            with pytest.raises(InvalidTransition) as refused:
                await tickets.apply(unchanged, [step], at=T0, actor="test", **extra, **holder)
            assert f"the ticket is {status}" in refused.value.reason, kind
            assert f"'{kind}' is only allowed while it is" in refused.value.reason
            assert refused.value.status == status
        ticket = await tickets.get(unchanged)
        assert ticket.status is status and ticket.last_seq == len(await tickets.events(unchanged))


async def test_events_are_numbered_in_order_and_never_rewritten(tickets, people) -> None:
    customer, (agent, _) = people
    ticket_id = await ticket_in(tickets, customer, agent, S.QUEUED)
    later = T0 + timedelta(minutes=3)
    await tickets.apply(
        ticket_id, [Step(K.ASSIGNED, {"agent_id": agent})], at=later, actor="a", seat=agent
    )
    before = await tickets.events(ticket_id)
    await tickets.apply(
        ticket_id,
        [Step(K.AGENT_MESSAGE, {"text": "hello"}), Step(K.WAITING_ON_CUSTOMER)],
        at=later + timedelta(minutes=1),
        actor="a",
        holder=agent,
    )
    await tickets.apply(ticket_id, [Step(K.CUSTOMER_MESSAGE), Step(K.RESUMED)], at=later, actor="c")
    events = await tickets.events(ticket_id)
    assert events[: len(before)] == before
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e.kind for e in events] == [
        K.CREATED, K.ASSIGNED, K.AGENT_MESSAGE, K.WAITING_ON_CUSTOMER, K.CUSTOMER_MESSAGE,
        K.RESUMED,
    ]  # fmt: skip
    ticket = await tickets.get(ticket_id)
    assert ticket.first_response_at == later + timedelta(minutes=1) and ticket.last_seq == 6
    await tickets.apply(
        ticket_id, [Step(K.AGENT_MESSAGE)], at=later + timedelta(hours=1), actor="a"
    )
    assert (await tickets.get(ticket_id)).first_response_at == later + timedelta(minutes=1)


async def test_a_refused_step_refuses_the_whole_change(tickets, people) -> None:
    customer, (agent, _) = people
    ticket_id = await ticket_in(tickets, customer, agent, S.QUEUED)
    with pytest.raises(InvalidTransition):
        await tickets.apply(ticket_id, [Step(K.NOTE), Step(K.RESUMED)], at=T0, actor="test")
    assert [e.kind for e in await tickets.events(ticket_id)] == [K.CREATED]


async def test_only_the_holder_acts_on_a_ticket_and_only_one_agent_holds_it(
    tickets, people
) -> None:
    customer, (one, two) = people
    ticket_id = await ticket_in(tickets, customer, one, S.ASSIGNED)
    with pytest.raises(InvalidTransition, match=r"held by agent \d+, not agent"):
        await tickets.apply(ticket_id, [Step(K.RESOLVED)], at=T0, actor="x", holder=two)
    with pytest.raises(InvalidTransition, match="is assigned"):
        await tickets.apply(ticket_id, [Step(K.ASSIGNED)], at=T0, actor="x", seat=two)
    with pytest.raises(UnknownAgent):
        await tickets.apply(
            ticket_id, [Step(K.TRANSFERRED), Step(K.ASSIGNED)], at=T0, actor="x", seat=999
        )
    change = await tickets.apply(
        ticket_id,
        [Step(K.TRANSFERRED), Step(K.ASSIGNED, {"agent_id": two})],
        at=T0,
        actor="s",
        seat=two,
    )
    assert change.ticket.assigned_agent_id == two and change.ticket.status is S.ASSIGNED
    assert [e.kind for e in change.events] == [K.TRANSFERRED, K.ASSIGNED]


async def test_the_database_refuses_an_agent_over_capacity(tickets, people) -> None:
    customer, (one, _) = people  # capacity 1
    first = await ticket_in(tickets, customer, one, S.ASSIGNED)
    second = await ticket_in(tickets, customer, one, S.QUEUED)
    with pytest.raises(AgentAtCapacity):
        await tickets.apply(second, [Step(K.ASSIGNED)], at=T0, actor="x", seat=one)
    await tickets.apply(first, [Step(K.WAITING_ON_CUSTOMER)], at=T0, actor="x", holder=one)
    with pytest.raises(AgentAtCapacity):  # waiting on the customer still takes the seat
        await tickets.apply(second, [Step(K.ASSIGNED)], at=T0, actor="x", seat=one)
    resolved = await tickets.apply(
        first, [Step(K.RESOLVED)], at=T0 + timedelta(minutes=7), actor="x", holder=one
    )
    assert resolved.held_since == T0
    await tickets.apply(second, [Step(K.ASSIGNED)], at=T0, actor="x", seat=one)


async def test_open_tickets_carry_their_offer_state(tickets, people) -> None:
    customer, (one, two) = people
    expires = T0 + timedelta(seconds=30)
    offered = await ticket_in(tickets, customer, one, S.QUEUED)
    await tickets.apply(
        offered,
        [Step(K.OFFERED, {"agent_id": two, "expires_at": T0.isoformat()})],
        at=T0,
        actor="s",
    )
    await tickets.apply(offered, [Step(K.OFFER_DECLINED, {"agent_id": two})], at=T0, actor="s")
    await tickets.apply(
        offered,
        [Step(K.OFFERED, {"agent_id": one, "expires_at": expires.isoformat()})],
        at=T0,
        actor="s",
    )
    moved = await ticket_in(tickets, customer, one, S.QUEUED)
    await tickets.apply(
        moved, [Step(K.OFFERED, {"agent_id": two, "expires_at": T0.isoformat()})], at=T0, actor="s"
    )
    await tickets.apply(moved, [Step(K.OFFER_TIMED_OUT, {"agent_id": two})], at=T0, actor="s")
    await tickets.apply(
        moved, [Step(K.TRANSFERRED, changes={"queue": "general"})], at=T0, actor="s"
    )
    closed = await ticket_in(tickets, customer, one, S.ABANDONED)
    found = {o.ticket.id: o for o in await tickets.open_tickets()}
    assert set(found) == {offered, moved}
    assert (found[offered].offered_to, found[offered].offer_expires_at) == (one, expires)
    assert found[offered].declined_by == {two} and found[offered].offers_made == 2
    assert found[moved].ticket.queue == "general" and found[moved].declined_by == frozenset()
    assert await tickets.open_ticket(closed) is None
    assert (await tickets.open_ticket(offered)) == found[offered]


async def test_lookups_by_agent_conversation_and_handle_times(tickets, people, store) -> None:
    customer, (one, two) = people
    held = await ticket_in(tickets, customer, two, S.ASSIGNED)
    done = await ticket_in(tickets, customer, two, S.ASSIGNED)
    await tickets.apply(
        done,
        [Step(K.RESOLVED)],
        at=T0 + timedelta(minutes=4),
        actor="a",
        holder=two,
    )
    await tickets.apply(done, [Step(K.RATED, changes={"rating": 5})], at=T0, actor="c")
    mine = await tickets.tickets(statuses=[S.ASSIGNED], agent_id=two)
    assert [t.id for t in mine] == [held]
    assert await tickets.handle_times(T0 - timedelta(days=1)) == []  # resolved_at not set here
    await tickets.apply(
        held,
        [Step(K.RESOLVED, changes={"resolved_at": T0 + timedelta(minutes=2)})],
        at=T0,
        actor="a",
        holder=two,
    )
    assert await tickets.handle_times(T0 - timedelta(days=1)) == [("billing", 120.0)]
    assert (await tickets.get(done)).rating == 5
    seats = {s.agent_id: (sorted(s.skills), s.capacity) for s in await tickets.seats()}
    assert seats == {one: (["billing"], 1), two: (["billing"], 2)}


def test_the_stored_vocabulary_matches_routing() -> None:
    assert tuple(s.value for s in S) == m.TICKET_STATUSES
    assert tuple(u.value for u in Urgency) == m.TICKET_URGENCIES
    assert max(len(k.value) for k in EventKind) <= 32


async def test_a_customer_message_is_found_by_its_message_id(tickets, people) -> None:
    customer, agents = people
    one = await ticket_in(tickets, customer, agents[0], S.ASSIGNED)
    other = await ticket_in(tickets, customer, agents[1], S.ASSIGNED)
    message = Step(K.CUSTOMER_MESSAGE, {"text": "it still hurts", "message_id": "m1"})
    await tickets.apply(one, [message], at=T0, actor="customer")
    note = Step(K.AGENT_MESSAGE, {"text": "noted", "message_id": "m2", "agent_id": agents[0]})
    await tickets.apply(one, [note], at=T0, actor="agent")
    assert await tickets.has_customer_message(one, "m1")
    assert not await tickets.has_customer_message(one, "m2")  # the agent's, not the customer's
    assert not await tickets.has_customer_message(one, "m3")
    assert not await tickets.has_customer_message(other, "m1")  # another ticket's
