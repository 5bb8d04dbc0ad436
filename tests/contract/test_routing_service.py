"""RoutingService end to end over each live layer (memory, real Redis) on a real database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from crm_store.tiers import Tier
from routing.desk_bus import Interest
from routing.dispatch import QueueEntry
from routing.errors import InvalidTransition, UnknownQueue
from routing.events import EventKind, Presence, TicketStatus, Urgency
from routing.notify import NoticeKind
from routing.parts import RoutingOptions
from routing.service import RoutingService
from routing.ticket_store import SqlTicketStore
from tests.contract.routing_fixture import (  # noqa: F401
    CHANNEL,
    DEMO_QUEUES,
    RecordingNotifier,
    add_agents,
    add_customers,
    live_fixture,
    live_url_fixture,
    sqlite_crm_fixture,
)

K, S = EventKind, TicketStatus
OFFER = timedelta(seconds=30)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


def make_service(live, crm, clock, notifier, *, push: bool = True) -> RoutingService:
    dispatcher, bus = live
    options = RoutingOptions(offer_timeout=OFFER, presence_ttl=timedelta(seconds=60), push=push)
    return RoutingService(
        SqlTicketStore(crm.database),
        dispatcher,
        DEMO_QUEUES,
        bus=bus,
        notifier=notifier,
        options=options,
        clock=clock,
    )


@pytest.fixture
async def pull(live, sqlite_crm, clock, notifier) -> RoutingService:
    service = make_service(live, sqlite_crm, clock, notifier, push=False)
    await service.start()
    return service


@pytest.fixture
async def push(live, sqlite_crm, clock, notifier) -> RoutingService:
    service = make_service(live, sqlite_crm, clock, notifier, push=True)
    await service.start()
    return service


@pytest.fixture
async def customer(sqlite_crm) -> int:
    (customer_id,) = await add_customers(sqlite_crm.database, 1)
    return customer_id


async def open_(service, customer, queue="billing", tier=Tier.LEAD, urgency=Urgency.NORMAL):
    return await service.open_ticket(
        customer_id=customer, queue=queue, tier=tier, channel=CHANNEL, urgency=urgency
    )


async def kinds(service, ticket_id) -> list[EventKind]:
    return [e.kind for e in await service.events(ticket_id)]


async def test_pulls_follow_urgency_tier_and_first_come_first_served(
    pull,
    sqlite_crm,
    customer,
    clock,
) -> None:
    (agent,) = await add_agents(sqlite_crm.database, [(["billing"], 10)])
    opened = []
    for tier, urgency in [
        (Tier.LEAD, Urgency.NORMAL),
        (Tier.GOLD, Urgency.NORMAL),
        (Tier.PLATINUM, Urgency.NORMAL),
        (Tier.LEAD, Urgency.EMERGENCY),
        (Tier.GOLD, Urgency.COMPLAINT),
        (Tier.GOLD, Urgency.NORMAL),
    ]:
        opened.append((await open_(pull, customer, tier=tier, urgency=urgency)).id)
        clock.advance(seconds=1)
    lead, gold, platinum, emergency, complaint, gold_later = opened
    served = [(await pull.next_ticket(agent)).id for _ in opened]
    assert served == [emergency, complaint, platinum, gold, gold_later, lead]
    assert await pull.next_ticket(agent) is None


@pytest.mark.parametrize(("waited", "first"), [(10, "gold"), (25, "lead")])
async def test_ageing_lets_a_long_wait_overtake_a_higher_tier(
    pull,
    sqlite_crm,
    customer,
    clock,
    waited,
    first,
) -> None:
    (agent,) = await add_agents(sqlite_crm.database, [(["billing"], 2)])
    lead = await open_(pull, customer, tier=Tier.LEAD)
    clock.advance(minutes=waited)
    gold = await open_(pull, customer, tier=Tier.GOLD)
    expected = {"gold": gold.id, "lead": lead.id}[first]
    assert (await pull.next_ticket(agent)).id == expected


async def test_a_pull_respects_skills_and_capacity(pull, sqlite_crm, customer) -> None:
    billing, booking = await add_agents(sqlite_crm.database, [(["billing"], 2), (["booking"], 1)])
    for queue in ("appointments", "billing", "billing", "billing"):
        await open_(pull, customer, queue=queue)
    first, second = await pull.next_ticket(billing), await pull.next_ticket(billing)
    assert {first.queue, second.queue} == {"billing"}
    assert await pull.next_ticket(billing) is None  # capacity 2
    assert (await pull.next_ticket(booking)).queue == "appointments"
    resolved = await pull.resolve(first.id, billing, "refund issued")
    assert resolved.status is S.RESOLVED and resolved.resolved_at is not None
    third = await pull.next_ticket(billing)
    assert third.status is S.ASSIGNED and third.assigned_agent_id == billing
    assert [t.id for t in await pull.my_tickets(billing)] == sorted([second.id, third.id])
    with pytest.raises(InvalidTransition, match="held by agent"):
        await pull.resolve(second.id, booking)


async def test_push_offers_to_the_longest_idle_agent_then_the_next(
    push,
    sqlite_crm,
    customer,
    clock,
) -> None:
    one, two, three = await add_agents(
        sqlite_crm.database, [(["billing"], 1), (["billing"], 1), (["booking"], 1)]
    )
    for agent in (two, one, three):  # agent two has been idle longest
        await push.sign_in(agent)
        clock.advance(seconds=5)
    ticket = await open_(push, customer)
    assert (await push.ticket(ticket.id)).status is S.OFFERED
    with pytest.raises(InvalidTransition, match="not on offer to agent"):
        await push.accept_offer(ticket.id, one)

    clock.advance(seconds=29)
    assert (await push.tick()).offers_expired == 0
    clock.advance(seconds=2)  # past the 30 s deadline: offered to the next (agent one)
    assert (await push.tick()).offers_expired == 1
    events = await push.events(ticket.id)
    assert [(e.kind, e.data.get("agent_id")) for e in events[1:]] == [
        (K.OFFERED, two), (K.OFFER_TIMED_OUT, two), (K.OFFERED, one),
    ]  # fmt: skip
    assert await push.decline_offer(ticket.id, one) is None  # nobody else fits
    assert (await push.ticket(ticket.id)).status is S.QUEUED
    assert (await kinds(push, ticket.id))[-1] is K.OFFER_DECLINED

    taken = await push.next_ticket(two)  # declined offers do not stop a pull
    assert taken.id == ticket.id and taken.assigned_agent_id == two


async def test_an_accepted_offer_assigns_and_an_expired_one_is_refused(
    push,
    sqlite_crm,
    customer,
    clock,
    notifier,
) -> None:
    (agent,) = await add_agents(sqlite_crm.database, [(["billing"], 2)])
    await push.sign_in(agent)
    late = await open_(push, customer)
    clock.advance(seconds=31)
    with pytest.raises(InvalidTransition, match="expired"):
        await push.accept_offer(late.id, agent)
    await push.tick()  # timed out; nobody else: waits in the queue
    assert (await push.ticket(late.id)).status is S.QUEUED

    ticket = await open_(push, customer)
    assert (await push.ticket(ticket.id)).status is S.OFFERED
    assigned = await push.accept_offer(ticket.id, agent)
    assert assigned.status is S.ASSIGNED and assigned.assigned_agent_id == agent
    via = [e.data.get("via") for e in await push.events(ticket.id) if e.kind is K.ASSIGNED]
    assert via == ["push"]
    joined = [n for n in notifier.notices if n.kind is NoticeKind.AGENT_JOINED]
    assert [(n.ticket_id, n.agent_id) for n in joined] == [(ticket.id, agent)]


async def test_a_conversation_with_the_customer(
    pull, sqlite_crm, customer, clock, notifier
) -> None:
    (agent,) = await add_agents(sqlite_crm.database, [(["billing"], 1)])
    ticket = await pull.open_ticket(
        customer_id=customer, queue="billing", tier=Tier.IRON, channel=CHANNEL,
        conversation_id="conv-1", reason="double charge",
    )  # fmt: skip
    assert (await pull.open_ticket_of("conv-1")).id == ticket.id
    await pull.next_ticket(agent)
    clock.advance(minutes=2)
    answered = await pull.agent_message(ticket.id, agent, "Could you send the receipt?")
    assert answered.first_response_at == clock.now
    await pull.wait_on_customer(ticket.id, agent)
    resumed = await pull.customer_message(ticket.id, "here it is")
    assert resumed.status is S.ASSIGNED
    clock.advance(minutes=8)
    await pull.resolve(ticket.id, agent, "refunded")
    rated = await pull.rate(ticket.id, 5, "quick")
    assert rated.rating == 5
    await pull.note(ticket.id, f"agent:{agent}", "refund reference R-1", agent_id=agent)
    with pytest.raises(InvalidTransition):
        await pull.rate(ticket.id, 6)
    with pytest.raises(InvalidTransition, match="is resolved"):
        await pull.customer_message(ticket.id, "thanks")
    assert await kinds(pull, ticket.id) == [
        K.CREATED, K.ASSIGNED, K.AGENT_MESSAGE, K.WAITING_ON_CUSTOMER, K.CUSTOMER_MESSAGE,
        K.RESUMED, K.RESOLVED, K.RATED, K.NOTE,
    ]  # fmt: skip
    sent = [(n.kind, n.text) for n in notifier.notices if n.ticket_id == ticket.id]
    assert sent == [
        (NoticeKind.QUEUED, None),
        (NoticeKind.AGENT_JOINED, None),
        (NoticeKind.AGENT_MESSAGE, "Could you send the receipt?"),
        (NoticeKind.RESOLVED, None),
    ]
    assert await pull.open_ticket_of("conv-1") is None


async def test_transfers_between_queues_and_agents(push, sqlite_crm, customer) -> None:
    biller, booker = await add_agents(sqlite_crm.database, [(["billing"], 1), (["booking"], 1)])
    ticket = await open_(push, customer)  # nobody signed in: waits
    await push.sign_in(booker)
    moved = await push.transfer(ticket.id, actor="bot", to_queue="appointments", reason="booking")
    assert moved.queue == "appointments"
    assert (await push.ticket(ticket.id)).status is S.OFFERED  # offered to the booker
    await push.accept_offer(ticket.id, booker)
    handed = await push.transfer(ticket.id, actor=f"agent:{booker}", to_agent=biller)
    assert handed.status is S.ASSIGNED and handed.assigned_agent_id == biller
    assert handed.queue == "appointments"
    loads = {a.agent_id: a.load for a in await push.agents()}
    assert loads[booker] == 0 and loads[biller] == 1
    with pytest.raises(UnknownQueue):
        await push.transfer(ticket.id, actor="x", to_queue="nowhere")
    with pytest.raises(InvalidTransition, match="queue or an agent"):
        await push.transfer(ticket.id, actor="x")


async def test_abandoning_an_offered_ticket_frees_the_agent(push, sqlite_crm, customer) -> None:
    (agent,) = await add_agents(sqlite_crm.database, [(["billing"], 1)])
    await push.sign_in(agent)
    ticket = await open_(push, customer)
    assert (await push.ticket(ticket.id)).status is S.OFFERED
    gone = await push.abandon(ticket.id, "customer_cancelled")
    assert gone.status is S.ABANDONED
    with pytest.raises(InvalidTransition, match="not on offer"):
        await push.accept_offer(ticket.id, agent)
    second = await open_(push, customer)
    assert (await push.ticket(second.id)).status is S.OFFERED  # the seat is free again
    assigned = await push.accept_offer(second.id, agent)
    with pytest.raises(InvalidTransition, match="is assigned"):
        await push.abandon(assigned.id)


async def test_position_and_estimated_wait(pull, sqlite_crm, customer, clock) -> None:
    one, two = await add_agents(sqlite_crm.database, [(["billing"], 1), (["billing"], 1)])
    tickets = [await open_(pull, customer) for _ in range(4)]
    nobody = await pull.position(tickets[0].id)
    assert (nobody.position, nobody.waiting, nobody.estimated_wait) == (1, 4, None)
    await pull.sign_in(one)
    await pull.sign_in(two)
    first = await pull.position(tickets[0].id)
    assert (first.position, first.free_agents, first.estimated_wait) == (1, 2, timedelta(0))
    assert first.avg_handle_seconds == 300  # the default before any ticket was resolved
    await pull.next_ticket(one)
    clock.advance(minutes=10)
    await pull.heartbeat(one)
    await pull.heartbeat(two)
    await pull.resolve(tickets[0].id, one)
    await pull.next_ticket(one)
    await pull.next_ticket(two)
    last = await pull.position(tickets[3].id)
    assert (last.position, last.waiting, last.free_agents) == (1, 1, 0)
    assert last.avg_handle_seconds == 600
    assert last.estimated_wait == timedelta(seconds=600 / 2)
    held = await pull.position(tickets[1].id)
    assert held.status is S.ASSIGNED and held.position is None and held.estimated_wait is None


async def test_presence_lapses_and_a_returning_agent_gets_waiting_work(
    push,
    sqlite_crm,
    customer,
    clock,
) -> None:
    (agent,) = await add_agents(sqlite_crm.database, [(["billing"], 1)])
    await push.sign_in(agent)
    clock.advance(seconds=61)  # no heartbeat for longer than the presence TTL
    ticket = await open_(push, customer)
    assert (await push.ticket(ticket.id)).status is S.QUEUED
    assert [a.presence for a in await push.agents()] == [Presence.OFFLINE]
    await push.heartbeat(agent)
    assert (await push.tick()).offers_made == 1
    assert (await push.ticket(ticket.id)).status is S.OFFERED


async def test_overflow_moves_a_waiting_ticket_to_the_overflow_queue(pull, customer) -> None:
    ticket = await open_(pull, customer, queue="billing")
    moved = await pull.overflow(ticket.id)
    assert moved.queue == "general" and moved.status is S.QUEUED
    assert await pull.queue_lengths() == {
        "appointments": 0, "billing": 0, "nurse-advice": 0, "general": 1,
    }  # fmt: skip
    with pytest.raises(InvalidTransition, match="no overflow queue"):
        await pull.overflow(ticket.id)


async def test_a_lost_live_layer_is_rebuilt_with_every_clock_intact(
    push,
    sqlite_crm,
    customer,
    clock,
) -> None:
    one, two, three = await add_agents(
        sqlite_crm.database, [(["billing"], 1), (["billing"], 1), (["billing"], 1)]
    )
    await push.sign_in(one)
    held = await open_(push, customer)
    await push.accept_offer(held.id, one)
    await push.sign_in(two)
    offered = await open_(push, customer, tier=Tier.GOLD)
    waiting = [await open_(push, customer, tier=tier) for tier in (Tier.LEAD, Tier.PLATINUM)]
    clock.advance(seconds=10)
    heads = await push.dispatcher.heads("billing", 10)
    assert heads == [waiting[1].id, waiting[0].id]
    ranks = {t.id: push.parts.entry(t).rank for t in waiting}

    await push.dispatcher.reset()  # e.g. Redis flushed
    assert (await push.tick()).rebuilt is not None
    assert await push.dispatcher.heads("billing", 10) == heads
    assert ranks == {t.id: push.parts.entry(await push.ticket(t.id)).rank for t in waiting}
    loads = {a.agent_id: a.load for a in await push.agents()}
    assert loads == {one: 1, two: 1, three: 0}
    clock.advance(seconds=21)  # the offer made before the flush expires on time
    await push.sign_in(three)
    assert (await push.tick()).offers_expired == 1
    events = await push.events(offered.id)
    assert [(e.kind, e.data.get("agent_id")) for e in events[-2:]] == [
        (K.OFFER_TIMED_OUT, two),
        (K.OFFERED, three),
    ]
    assert (await push.rebuild()).held == 1


async def test_the_live_layer_is_corrected_when_the_record_refuses_a_claim(
    pull,
    sqlite_crm,
    customer,
) -> None:
    one, two = await add_agents(sqlite_crm.database, [(["billing"], 1), (["billing"], 1)])
    first = await open_(pull, customer)
    second = await open_(pull, customer)
    assert (await pull.next_ticket(one)).id == first.id
    # a stale live entry (say, from a rebuild that raced a claim) puts the taken ticket back
    stale = pull.parts.entry(await pull.ticket(first.id))
    await pull.dispatcher.settle(
        QueueEntry(first.id, "billing", stale.rank - 1000), None, stray=None
    )
    taken = await pull.next_ticket(two)
    assert taken.id == second.id  # the database refused the stale one; the pull moved on
    loads = {a.agent_id: a.load for a in await pull.agents()}
    assert loads == {one: 1, two: 1}
    assert await pull.dispatcher.heads("billing", 10) == []
    assigned = [e for e in await pull.events(first.id) if e.kind is K.ASSIGNED]
    assert [e.data["agent_id"] for e in assigned] == [one]


async def test_desks_hear_offers_and_assignments(push, sqlite_crm, customer) -> None:
    (agent,) = await add_agents(sqlite_crm.database, [(["billing"], 1)])
    await push.sign_in(agent)
    async with push.parts.bus.subscribe(Interest(agent_id=agent)) as desk:
        ticket = await open_(push, customer)
        offered = await asyncio.wait_for(anext(desk), 5)
        assert (offered.ticket_id, offered.kind, offered.agent_id) == (ticket.id, K.OFFERED, agent)
        assert offered.data["expires_at"]
        await push.accept_offer(ticket.id, agent)
        assigned = await asyncio.wait_for(anext(desk), 5)
        assert (assigned.kind, assigned.status) == (K.ASSIGNED, S.ASSIGNED)
