"""The live dispatch layer's contract, run over the memory adapter and a real Redis."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from routing.desk_bus import DeskEvent, Interest
from routing.dispatch import (
    AgentSeat,
    Claim,
    LiveSnapshot,
    LiveState,
    NoClaim,
    Offer,
    OfferAnswer,
    QueueEntry,
)
from routing.events import EventKind, Presence, TicketStatus
from tests.contract.routing_fixture import T0, live_fixture, live_url_fixture  # noqa: F401

TTL = 60.0


def at(seconds: float) -> object:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def dispatcher(live):
    return live[0]


@pytest.fixture
def bus(live):
    return live[1]


async def seat(dispatcher, agent_id: int, capacity: int = 2, queues=("billing",), *, now=T0):
    await dispatcher.register_agent(AgentSeat(agent_id, capacity, tuple(queues)))
    assert await dispatcher.heartbeat(agent_id, Presence.AVAILABLE, now=now, ttl_seconds=TTL)


async def test_a_pull_takes_the_best_ranked_ticket_first_come_first_served_among_equals(
    dispatcher,
) -> None:
    await seat(dispatcher, 1, capacity=5, queues=("billing", "general"))
    for ticket_id, queue, rank in [(3, "billing", 10.0), (1, "general", 5.0), (2, "billing", 5.0)]:
        await dispatcher.enqueue(QueueEntry(ticket_id, queue, rank))
    await dispatcher.enqueue(QueueEntry(9, "appointments", -100.0))  # not the agent's queue
    taken = [await dispatcher.claim_next(1, now=T0) for _ in range(4)]
    assert taken == [
        Claim(1, "general", 5.0),
        Claim(2, "billing", 5.0),
        Claim(3, "billing", 10.0),
        NoClaim.NO_TICKET,
    ]
    assert await dispatcher.queue_lengths(["billing", "appointments"]) == {
        "billing": 0,
        "appointments": 1,
    }


async def test_a_pull_never_exceeds_capacity_and_needs_a_registered_agent(dispatcher) -> None:
    assert await dispatcher.claim_next(7, now=T0) is NoClaim.UNKNOWN_AGENT
    assert not await dispatcher.heartbeat(7, Presence.AVAILABLE, now=T0, ttl_seconds=TTL)
    await seat(dispatcher, 1, capacity=2)
    for ticket_id in range(1, 5):
        await dispatcher.enqueue(QueueEntry(ticket_id, "billing", float(ticket_id)))
    assert isinstance(await dispatcher.claim_next(1, now=T0), Claim)
    assert isinstance(await dispatcher.claim_next(1, now=T0), Claim)
    assert await dispatcher.claim_next(1, now=T0) is NoClaim.AT_CAPACITY
    await dispatcher.drop(1, holder=1)
    assert await dispatcher.claim_next(1, now=T0) == Claim(3, "billing", 3.0)
    assert await dispatcher.heads("billing", 5) == [4]


async def test_concurrent_pulls_never_share_a_ticket_or_overfill_a_seat(dispatcher) -> None:
    capacities = {agent: 1 + agent % 3 for agent in range(1, 31)}
    for agent, capacity in capacities.items():
        await seat(dispatcher, agent, capacity)
    for ticket_id in range(1, 101):
        await dispatcher.enqueue(QueueEntry(ticket_id, "billing", float(ticket_id % 7)))
    claims = await asyncio.gather(
        *(dispatcher.claim_next(agent, now=T0) for agent in capacities for _ in range(4))
    )
    taken = [c.ticket_id for c in claims if isinstance(c, Claim)]
    assert len(taken) == len(set(taken)) == sum(capacities.values())
    loads = {a.agent_id: a.load for a in await dispatcher.agents(T0)}
    assert loads == capacities


async def test_an_offer_goes_to_the_longest_idle_fitting_agent_and_takes_a_seat(
    dispatcher,
) -> None:
    await seat(dispatcher, 1, queues=("general",), now=T0)  # wrong queue
    await seat(dispatcher, 2, capacity=1, now=at(1))
    await seat(dispatcher, 3, now=at(2))
    await seat(dispatcher, 4, now=at(3))
    await dispatcher.register_agent(AgentSeat(5, 3, ("billing",)))  # never present
    await dispatcher.enqueue(QueueEntry(50, "billing", 0.0))
    await dispatcher.enqueue(QueueEntry(51, "billing", 1.0))
    await dispatcher.enqueue(QueueEntry(52, "billing", 2.0))
    expires = at(40)
    assert await dispatcher.offer(50, now=at(10), expires_at=expires) == Offer(50, 2, expires)
    # agent 2 is full now and went to the back of the idle line: 3, then 4
    assert (await dispatcher.offer(51, now=at(11), expires_at=expires)).agent_id == 3
    assert (await dispatcher.offer(52, now=at(12), expires_at=expires)).agent_id == 4
    assert await dispatcher.offer(52, now=at(12), expires_at=expires) is None  # already offered
    standing = await dispatcher.standing(50, at(12))
    assert standing.state is LiveState.OFFERED and standing.position == 0
    loads = {a.agent_id: a.load for a in await dispatcher.agents(at(12))}
    assert loads == {1: 0, 2: 1, 3: 1, 4: 1, 5: 0}


async def test_accepting_declining_and_expiring_offers(dispatcher) -> None:
    await seat(dispatcher, 1)
    await seat(dispatcher, 2, now=at(1))
    await dispatcher.enqueue(QueueEntry(10, "billing", 0.0))
    await dispatcher.enqueue(QueueEntry(11, "billing", 1.0))
    assert (await dispatcher.offer(10, now=at(5), expires_at=at(35))).agent_id == 1
    assert await dispatcher.accept(10, 2, now=at(6)) is OfferAnswer.NOT_OFFERED
    assert await dispatcher.accept(10, 1, now=at(36)) is OfferAnswer.EXPIRED
    assert await dispatcher.accept(10, 1, now=at(6)) is OfferAnswer.OK
    assert await dispatcher.accept(10, 1, now=at(6)) is OfferAnswer.NOT_OFFERED
    assert (await dispatcher.standing(10, at(6))).state is LiveState.HELD

    assert (await dispatcher.offer(11, now=at(7), expires_at=at(37))).agent_id == 2
    assert not await dispatcher.decline(11, 1)
    assert await dispatcher.decline(11, 2)
    assert (await dispatcher.standing(11, at(8))).position == 1
    # agent 2 declined: the next offer goes to agent 1 (who has a free seat), never back to 2
    assert (await dispatcher.offer(11, now=at(8), expires_at=at(38))).agent_id == 1
    assert await dispatcher.expired_offers(at(37)) == []
    assert await dispatcher.expired_offers(at(38)) == [Offer(11, 1, at(38))]
    assert await dispatcher.expired_offers(at(99)) == []  # each expiry is reported once
    assert await dispatcher.offer(11, now=at(40), expires_at=at(70)) is None  # both refused it
    assert {a.agent_id: a.load for a in await dispatcher.agents(at(40))} == {1: 1, 2: 0}


async def test_presence_lapses_without_heartbeats(dispatcher) -> None:
    await seat(dispatcher, 1, now=T0)
    await dispatcher.enqueue(QueueEntry(1, "billing", 0.0))
    late = at(TTL + 1)
    assert [a.presence for a in await dispatcher.agents(at(TTL - 1))] == [Presence.AVAILABLE]
    assert [a.presence for a in await dispatcher.agents(late)] == [Presence.OFFLINE]
    assert await dispatcher.offer(1, now=late, expires_at=late) is None
    assert await dispatcher.heartbeat(1, Presence.AWAY, now=late, ttl_seconds=TTL)
    assert await dispatcher.offer(1, now=late, expires_at=late) is None
    assert [a.presence for a in await dispatcher.agents(late)] == [Presence.AWAY]
    assert await dispatcher.heartbeat(1, Presence.AVAILABLE, now=late, ttl_seconds=TTL)
    assert (await dispatcher.offer(1, now=late, expires_at=late)).agent_id == 1
    (state,) = await dispatcher.agents(late)
    assert state.idle_since == late


async def test_standing_counts_position_free_agents_seats_and_handle_time(dispatcher) -> None:
    await seat(dispatcher, 1, capacity=2)
    await seat(dispatcher, 2, capacity=3)
    await seat(dispatcher, 3, capacity=4, queues=("general",))
    for ticket_id in (1, 2, 3):
        await dispatcher.enqueue(QueueEntry(ticket_id, "billing", float(ticket_id)))
    standing = await dispatcher.standing(3, T0)
    assert (standing.position, standing.waiting, standing.free_agents, standing.seats) == (
        3,
        3,
        2,
        5,
    )
    assert standing.avg_handle_seconds is None
    await dispatcher.drop(1, handle_seconds=100.0)
    await dispatcher.drop(2, handle_seconds=200.0)
    standing = await dispatcher.standing(3, T0)
    assert standing.position == 1 and standing.avg_handle_seconds == pytest.approx(120.0)
    assert await dispatcher.standing(1, T0) is None


async def test_settle_moves_a_ticket_to_where_the_record_says(dispatcher) -> None:
    await seat(dispatcher, 1)
    await seat(dispatcher, 2)
    entry = QueueEntry(5, "billing", 1.0)
    await dispatcher.enqueue(entry)
    assert await dispatcher.claim_next(1, now=T0) == Claim(5, "billing", 1.0)
    await dispatcher.settle(entry, 2, stray=1)  # the record says agent 2 holds it
    loads = {a.agent_id: a.load for a in await dispatcher.agents(T0)}
    assert loads == {1: 0, 2: 1}
    await dispatcher.settle(QueueEntry(5, "general", 2.0), None, stray=None)  # waiting again
    assert await dispatcher.queue_lengths(["billing", "general"]) == {"billing": 0, "general": 1}
    assert {a.agent_id: a.load for a in await dispatcher.agents(T0)} == {1: 0, 2: 0}
    await dispatcher.settle(entry, 1, stray=None, offer_expires_at=at(30))
    assert await dispatcher.accept(5, 1, now=at(1)) is OfferAnswer.OK


async def test_reset_and_restore_rebuild_the_same_live_state(dispatcher) -> None:
    assert not await dispatcher.is_built()
    snapshot = LiveSnapshot(
        agents=[AgentSeat(1, 2, ("billing",)), AgentSeat(2, 1, ("billing",))],
        queued=[QueueEntry(3, "billing", 2.0), QueueEntry(4, "billing", 1.0)],
        held=[(QueueEntry(5, "billing", 0.5), 1)],
        offered=[(QueueEntry(6, "billing", 0.1), Offer(6, 2, at(30)))],
        declined={3: frozenset({2})},
        handle_seconds={"billing": [60.0, 120.0]},
    )
    await dispatcher.restore(snapshot)
    await dispatcher.mark_built(T0)
    assert await dispatcher.is_built()
    assert await dispatcher.heads("billing", 10) == [4, 3]
    assert {a.agent_id: a.load for a in await dispatcher.agents(T0)} == {1: 1, 2: 1}
    assert (await dispatcher.standing(4, T0)).avg_handle_seconds == pytest.approx(90.0)
    assert await dispatcher.expired_offers(at(30)) == [Offer(6, 2, at(30))]
    await dispatcher.heartbeat(2, Presence.AVAILABLE, now=at(31), ttl_seconds=TTL)
    # agent 2 declined ticket 3 before the rebuild: still remembered
    assert (await dispatcher.offer(3, now=at(31), expires_at=at(60))) is None
    await dispatcher.reset()
    assert not await dispatcher.is_built()
    assert await dispatcher.heads("billing", 10) == []
    assert await dispatcher.agents(T0) == []


async def test_only_one_rebuild_at_a_time(dispatcher) -> None:
    assert await dispatcher.try_lock_rebuild(30)
    assert not await dispatcher.try_lock_rebuild(30)
    await dispatcher.unlock_rebuild()
    assert await dispatcher.try_lock_rebuild(30)
    await dispatcher.unlock_rebuild()


async def test_the_desk_bus_delivers_by_queue_agent_and_to_supervisors(bus) -> None:
    def event(seq: int, queue: str, agent: int | None) -> DeskEvent:
        return DeskEvent(
            1, seq, EventKind.OFFERED, TicketStatus.OFFERED, queue, agent, T0, {"n": seq}
        )

    async with (
        bus.subscribe(Interest(agent_id=7)) as mine,
        bus.subscribe(Interest(queues=frozenset({"billing"}), agent_id=7)) as desk,
        bus.subscribe(Interest(everything=True)) as all_events,
    ):
        await bus.publish(
            [event(1, "billing", 7), event(2, "general", None), event(3, "general", 7)]
        )

        async def first(stream, n):
            return [await asyncio.wait_for(anext(stream), 5) for _ in range(n)]

        assert [e.seq for e in await first(mine, 2)] == [1, 3]
        assert [e.seq for e in await first(desk, 2)] == [1, 3]  # heard twice, delivered once
        received = await first(all_events, 3)
        assert received[0] == event(1, "billing", 7)
        assert [e.seq for e in received] == [1, 2, 3]
