"""Never two agents on one ticket, never an agent over capacity: real Redis + PostgreSQL, many
claimers in several processes; and a Redis flush in the middle of a run loses nothing."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select, text

from crm_store import models as m
from crm_store.database import Database, create_engine
from crm_store.models import Base
from crm_store.tiers import Tier
from routing.calendar import always_open
from routing.events import EventKind, Presence, TicketStatus
from routing.sla import SlaClock, SlaTargets
from tests.conftest import ROOT
from tests.contract.routing_fixture import CHANNEL, add_agents, add_customers
from tests.integration.routing_claimers import TIME_LIMIT, claim_until_done, routing_service

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

PREFIX = "fd:test:concurrency:"
TICKETS = 1000
AGENTS = 60
SUBPROCESSES = 2


@pytest.fixture
async def database(postgres_url: str):
    db = Database(create_engine(postgres_url))
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield db
    await db.close()


async def seed(database: Database, service, tickets: int, agents: int) -> dict[int, int]:
    """Tickets in two queues, agents with capacity 2 to 5 and one or both skills."""
    skills = (["billing"], ["reception"], ["billing", "reception"])
    seats = [(skills[i % 3], 2 + i % 4) for i in range(agents)]
    agent_ids = await add_agents(database, seats)
    customers = await add_customers(database, 50)
    tiers = list(Tier)

    async def open_one(i: int) -> None:
        await service.open_ticket(
            customer_id=customers[i % len(customers)],
            queue="billing" if i % 10 < 7 else "general",
            tier=tiers[i % len(tiers)],
            channel=CHANNEL,
        )

    for start in range(0, tickets, 50):
        await asyncio.gather(*(open_one(i) for i in range(start, min(start + 50, tickets))))
    return {agent: capacity for agent, (_skills, capacity) in zip(agent_ids, seats, strict=True)}


async def verify(database: Database, capacities: dict[int, int], tickets: int) -> None:
    """From the record alone: one owner per ticket, no agent ever above capacity."""
    async with database.transaction() as session:
        statuses = Counter((await session.scalars(select(m.Ticket.status))).all())
        rows = (
            await session.execute(
                select(m.TicketEvent.ticket_id, m.TicketEvent.kind, m.TicketEvent.data)
                .where(m.TicketEvent.kind.in_([EventKind.ASSIGNED, EventKind.RESOLVED]))
                .order_by(m.TicketEvent.id)
            )
        ).all()
    assert statuses == {TicketStatus.RESOLVED.value: tickets}, "a ticket was lost"
    owners: dict[int, list[int]] = defaultdict(list)
    resolvers: dict[int, int] = {}
    for ticket_id, kind, data in rows:
        if kind == EventKind.ASSIGNED:
            owners[ticket_id].append(data["agent_id"])
        else:
            resolvers[ticket_id] = data["agent_id"]
    doubles = {t: a for t, a in owners.items() if len(a) != 1}
    assert len(owners) == tickets and doubles == {}, f"double assignments: {doubles}"
    assert all(resolvers[t] == a[0] for t, a in owners.items())
    # Every change of an agent's load locks the agent's row, so per agent the event ids are in
    # commit order: replaying them gives the exact number of tickets held at every moment.
    load: Counter[int] = Counter()
    overruns = []
    for ticket_id, kind, data in rows:
        agent = data["agent_id"]
        load[agent] += 1 if kind == EventKind.ASSIGNED else -1
        if load[agent] > capacities[agent]:
            overruns.append((agent, ticket_id, load[agent]))
    assert overruns == [], f"capacity overruns: {overruns[:10]}"
    assert max(load.values()) == 0


async def test_many_claimers_in_several_processes_never_double_assign_or_overfill(
    postgres_url: str, redis_url: str, database: Database
) -> None:
    async with routing_service(postgres_url, redis_url, PREFIX, pool=8) as service:
        capacities = await seed(database, service, TICKETS, AGENTS)
        agents = sorted(capacities)
        started = time.perf_counter()
        children = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.integration.routing_claimers",
                postgres_url, redis_url, PREFIX, ",".join(map(str, agents)),
                cwd=ROOT, stdout=asyncio.subprocess.PIPE,
            )
            for _ in range(SUBPROCESSES)
        ]  # fmt: skip
        try:  # every agent has a claimer here and in each child: 3 x 60 claimers at once
            mine = await asyncio.wait_for(claim_until_done(service, agents), TIME_LIMIT)
            outputs = [await child.communicate() for child in children]
        finally:
            for child in children:
                if child.returncode is None:
                    child.kill()
                    await child.wait()
        elapsed = time.perf_counter() - started
    assert [child.returncode for child in children] == [0] * SUBPROCESSES
    tallies = [mine.claims] + [json.loads(out)["claims"] for out, _err in outputs]
    assert sum(tallies) == TICKETS
    assert all(tallies[1:]), f"a child process claimed nothing: {tallies}"
    print(f"\n{TICKETS} tickets, {len(agents) * (1 + SUBPROCESSES)} claimers: {elapsed:.1f} s")
    await verify(database, capacities, TICKETS)


async def test_a_redis_flush_mid_run_loses_no_ticket_and_keeps_every_clock(
    postgres_url: str, redis_url: str, database: Database
) -> None:
    tickets = 300
    async with routing_service(postgres_url, redis_url, PREFIX, pool=8) as service:
        capacities = await seed(database, service, tickets, 20)
        agents = sorted(capacities)
        redis = aioredis.Redis.from_url(redis_url)
        # an offer in flight when the flush hits: its deadline must survive
        service.parts.options = service.parts.options.__class__(push=True)
        await service.sign_in(agents[0])
        queued = [TicketStatus.QUEUED]
        waiting = await service.store.tickets(statuses=queued, queue="billing", limit=tickets)
        offer = await service.offer_next(waiting[0].id)  # agent 0 serves billing
        assert offer is not None and offer.agent_id == agents[0]
        await service.heartbeat(agents[0], Presence.AWAY)  # no further offers during the run
        service.parts.options = service.parts.options.__class__(push=False)
        before = await live_picture(service, redis)
        clocks = {t.id: await sla_clock(service, t.id) for t in waiting[:20]}

        await redis.flushdb()  # 1: everything live is gone
        assert (await service.tick()).rebuilt is not None
        assert await live_picture(service, redis) == before

        async def flush_mid_run() -> None:  # 2: and again while 20 agents are claiming
            resolved: list[object] = []
            while not resolved:
                await asyncio.sleep(0.01)
                resolved = await service.store.tickets(statuses=[TicketStatus.RESOLVED], limit=1)
            await redis.flushdb()

        await service.accept_offer(offer.ticket_id, agents[0])
        await service.resolve(offer.ticket_id, agents[0])
        flusher = asyncio.create_task(flush_mid_run())
        tally = await asyncio.wait_for(claim_until_done(service, agents, ticking=True), 60)
        await flusher
        assert tally.rebuilds >= 1 and tally.claims == tickets - 1
        await redis.aclose()
        for ticket_id, clock in clocks.items():
            events = await service.events(ticket_id)
            cut = [e for e in events if e.seq <= clock[1]]
            assert await sla_clock(service, ticket_id, cut) == clock
    await verify(database, capacities, tickets)


async def live_picture(service, redis) -> dict[str, object]:
    """Every queue's order and scores, every offer deadline, every agent's seats."""
    keys = service.dispatcher.keys
    picture: dict[str, object] = {}
    for queue in ("billing", "general"):
        picture[queue] = await redis.zrange(keys.queue(queue), 0, -1, withscores=True)
    picture["offers"] = await redis.zrange(keys.offers, 0, -1, withscores=True)
    picture["loads"] = {a.agent_id: a.load for a in await service.agents() if a.load}
    assert picture["billing"] and picture["offers"]
    return picture


async def sla_clock(service, ticket_id: int, events=None) -> tuple[object, int]:
    events = events or await service.events(ticket_id)
    now = events[0].at + timedelta(hours=1)
    targets = SlaTargets(timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=4))
    clock = SlaClock.from_events(events, calendar=always_open(), targets=targets, now=now)
    return clock.cycles, events[-1].seq
