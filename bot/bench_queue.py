"""`frontdesk bench queue`: how fast the dispatch layer hands out work, against Redis's ceiling.

Measured in one run, in a throwaway database (PostgreSQL: `frontdesk_bench_<random>` created on
the configured server and dropped at the end; SQLite: a temporary file) and a throwaway Redis key
prefix (`fd:bench:<random>:`, deleted at the end with SCAN + UNLINK):

  redis_ping_per_s       raw Redis round trips per second (PING), with as many concurrent
                         callers as there are claimers: the ceiling a one-round-trip claim can
                         reach. Measured before and after the claims; the mean is reported.
  claims_per_s           atomic claims by the live layer (one Lua script each: best ticket across
                         the agent's queues + a seat), `agents` concurrent claimers draining
                         `tickets` tickets; each claimer frees its oldest seat when full.
  recorded_claims_per_s  the same through RoutingService, end to end: the live claim plus the
                         database record (agent row lock, guarded UPDATE + event), each claimed
                         ticket then resolved (also recorded) to free the seat.
  double_assignments     tickets given to two agents (client-side in the live phase, from the
  capacity_overruns      database's event log in the recorded phase), and agents holding more
                         than their capacity at any moment. Both must be 0.
  offer_p50_ms / p99     one push offer end to end (longest-idle fitting agent chosen in Redis,
                         OFFERED recorded in the database, the offer published to the desks),
                         `offer_concurrency` at a time (default 1: tickets arriving one after
                         another); offer_p99_ms_4_at_once is the same with 4 at a time.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import tempfile
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from sqlalchemy import URL, insert, make_url, select

from crm_store import models as m
from crm_store.database import Database, create_engine
from crm_store.enums import Channel
from crm_store.migrate import upgrade
from crm_store.tiers import Tier
from routing.desk_bus_redis import RedisDeskBus
from routing.dispatch import AgentSeat, Claim, LiveSnapshot, NoClaim, QueueEntry
from routing.dispatch_redis import RedisDispatcher
from routing.events import EventKind
from routing.parts import RoutingOptions
from routing.queues import QueueSpec
from routing.redis_keys import RedisKeys
from routing.service import RoutingService
from routing.ticket_store import SqlTicketStore

QUEUES = (
    QueueSpec("billing", frozenset({"billing"}), "standard"),
    QueueSpec("general", frozenset({"reception"}), "standard"),
)
SKILLS = (("billing",), ("reception",), ("billing", "reception"))


@dataclass(frozen=True)
class QueueBench:
    tickets: int = 1000
    agents: int = 60
    offers: int = 300
    offer_concurrency: int = 1  # offers made at once; 1: as tickets arrive one after another
    ping_seconds: float = 2.0


@dataclass
class Audit:
    double_assignments: int = 0
    capacity_overruns: int = 0


def capacity(i: int) -> int:
    return 2 + i % 4


@asynccontextmanager
async def throwaway_database(url: str) -> AsyncIterator[Database]:
    """A migrated, empty database beside the one configured, dropped afterwards."""
    if url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as folder:
            database = Database(create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'b.db'}"))
            try:
                await upgrade(database)
                yield database
            finally:
                await database.close()
        return
    server = make_url(url)
    name = f"frontdesk_bench_{secrets.token_hex(5)}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    database = Database(create_engine(server.set(database=name).render_as_string(False)))
    try:
        await upgrade(database)
        yield database
    finally:
        await database.close()
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(server: URL, sql: str) -> None:
    """`sql` on the server's own database; `?host=/run/postgresql` names a Unix socket."""
    host = server.host or server.query.get("host")
    connection = await asyncpg.connect(
        host=host if isinstance(host, str) else None,
        port=server.port,
        user=server.username,
        password=server.password,
        database=server.database,
        timeout=10,
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def run(database_url: str, redis_url: str, bench: QueueBench) -> dict[str, Any]:
    prefix = f"fd:bench:{secrets.token_hex(4)}:"
    pool = aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=96, timeout=60)
    client = aioredis.Redis.from_pool(pool)
    try:
        async with throwaway_database(database_url) as database:
            return await _measure(database, client, prefix, bench)
    finally:
        for namespace in (prefix, prefix + "e2e:", prefix + "offers:", prefix + "burst:"):
            keys = RedisKeys(namespace)
            await RedisDispatcher(client, keys).reset()
            await client.delete(keys.rebuild_lock)
        await client.aclose()


async def _measure(
    database: Database, client: aioredis.Redis, prefix: str, bench: QueueBench
) -> dict[str, Any]:
    before = await ping_rate(client, bench.agents, bench.ping_seconds)
    live_rate, live_audit = await live_claims(client, RedisKeys(prefix), bench)
    after = await ping_rate(client, bench.agents, bench.ping_seconds)
    ping = (before + after) / 2
    recorded_rate, record_audit = await recorded_claims(database, client, prefix, bench)
    offers_ms = await offer_latencies(database, client, prefix + "offers:", bench)
    p99 = _p99(offers_ms)
    burst = replace(bench, offer_concurrency=4)
    burst_ms = await offer_latencies(database, client, prefix + "burst:", burst)
    info = await client.info("server")
    return {
        "claims_per_s": round(live_rate, 1),
        "recorded_claims_per_s": round(recorded_rate, 1),
        "double_assignments": live_audit.double_assignments + record_audit.double_assignments,
        "capacity_overruns": live_audit.capacity_overruns + record_audit.capacity_overruns,
        "offer_p50_ms": round(statistics.median(offers_ms), 2),
        "offer_p99_ms": round(p99, 2),
        "offer_p99_ms_4_at_once": round(_p99(burst_ms), 2),
        "redis_ping_per_s": round(ping, 1),
        "claims_to_ping": round(live_rate / ping, 3),
        "targets_met": {
            "offer_p99_ms <= 20": p99 <= 20,
            "claims_per_s >= redis_ping_per_s / 5": live_rate >= ping / 5,
        },
        "tickets": bench.tickets,
        "agents": bench.agents,
        "claimers": bench.agents,
        "offers": bench.offers,
        "offer_concurrency": bench.offer_concurrency,
        "database": database.dialect,
        "redis_version": info.get("redis_version"),
    }


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


async def ping_rate(client: aioredis.Redis, workers: int, seconds: float) -> float:
    count = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            await client.ping()
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return count / (time.perf_counter() - started)


async def live_claims(
    client: aioredis.Redis, keys: RedisKeys, bench: QueueBench
) -> tuple[float, Audit]:
    """Drain the queues with one claimer per agent; a full agent frees its oldest seat."""
    dispatcher = RedisDispatcher(client, keys)
    seats = [
        AgentSeat(i + 1, capacity(i), tuple(q.key for q in QUEUES if q.served_by(SKILLS[i % 3])))
        for i in range(bench.agents)
    ]
    queued = [
        QueueEntry(t, "billing" if t % 10 < 7 else "general", float(t % 17))
        for t in range(1, bench.tickets + 1)
    ]
    await dispatcher.restore(LiveSnapshot(agents=seats, queued=queued))
    seen: Counter[int] = Counter()
    audit = Audit()
    now = datetime.now(UTC)

    async def claimer(seat: AgentSeat) -> None:
        held: deque[int] = deque()
        while True:
            claim = await dispatcher.claim_next(seat.agent_id, now=now)
            if claim is NoClaim.NO_TICKET:
                return
            if isinstance(claim, Claim):
                seen[claim.ticket_id] += 1
                held.append(claim.ticket_id)
                audit.capacity_overruns += len(held) > seat.capacity
            if len(held) >= seat.capacity or claim is NoClaim.AT_CAPACITY:
                await dispatcher.drop(held.popleft(), holder=seat.agent_id)

    started = time.perf_counter()
    await asyncio.gather(*(claimer(seat) for seat in seats))
    elapsed = time.perf_counter() - started
    audit.double_assignments = sum(n - 1 for n in seen.values() if n > 1)
    if sum(seen.values()) != bench.tickets:
        audit.double_assignments += abs(bench.tickets - len(seen))  # lost or doubled
    return sum(seen.values()) / elapsed, audit


async def _people(database: Database, agents: int, prefix: str) -> tuple[list[int], list[int]]:
    now = datetime.now(UTC)
    customer = {
        "full_name": "Bench Customer", "language": "en", "timezone": "UTC",
        "consent_marketing": False, "consent_data_processing": True, "tier": Tier.LEAD,
        "lifetime_value": Decimal(0), "created_at": now, "updated_at": now,
    }  # fmt: skip
    rows = [
        {
            "username": f"{prefix}{i}", "display_name": f"Agent {i}", "password_hash": "-",
            "roles": ["agent"], "skills": list(SKILLS[i % 3]), "capacity": capacity(i),
            "active": True, "created_at": now,
        }
        for i in range(agents)
    ]  # fmt: skip
    async with database.transaction() as session:
        await session.execute(insert(m.Customer), [customer] * 10)
        await session.execute(insert(m.Agent), rows)
        customers = list(await session.scalars(select(m.Customer.id)))
        names = [str(row["username"]) for row in rows]
        found = await session.execute(
            select(m.Agent.username, m.Agent.id).where(m.Agent.username.in_(names))
        )
        ids = {name: agent_id for name, agent_id in found}
    return customers, [ids[name] for name in names]


def _service(database: Database, client: aioredis.Redis, prefix: str) -> RoutingService:
    return RoutingService(
        SqlTicketStore(database),
        RedisDispatcher(client, RedisKeys(prefix)),
        QUEUES,
        bus=RedisDeskBus(client, RedisKeys(prefix)),
        options=RoutingOptions(push=False),
    )


async def _gather_in_batches(make: Callable[[int], Awaitable[object]], count: int) -> None:
    for start in range(0, count, 50):
        await asyncio.gather(*(make(i) for i in range(start, min(start + 50, count))))


async def recorded_claims(
    database: Database, client: aioredis.Redis, prefix: str, bench: QueueBench
) -> tuple[float, Audit]:
    service = _service(database, client, prefix + "e2e:")
    customers, agents = await _people(database, bench.agents, "bench")
    await service.start()

    async def open_one(i: int) -> None:
        queue = "billing" if i % 10 < 7 else "general"
        await service.open_ticket(
            customer_id=customers[i % len(customers)], queue=queue, tier=list(Tier)[i % 4],
            channel=Channel.WEB,
        )  # fmt: skip

    await _gather_in_batches(open_one, bench.tickets)
    claimed = 0

    async def claimer(agent: int) -> None:
        nonlocal claimed
        while (ticket := await service.next_ticket(agent)) is not None or await _waiting(service):
            if ticket is None:
                await asyncio.sleep(0.005)
                continue
            claimed += 1
            await service.resolve(ticket.id, agent, "done")

    started = time.perf_counter()
    await asyncio.gather(*(claimer(agent) for agent in agents))
    elapsed = time.perf_counter() - started
    return claimed / elapsed, await audit_record(database)


async def _waiting(service: RoutingService) -> bool:
    return any((await service.queue_lengths()).values())


async def audit_record(database: Database) -> Audit:
    """From the event log: tickets with other than one ASSIGNED event, and every moment an
    agent held more than their capacity (replaying their events in commit order)."""
    async with database.transaction() as session:
        agents = await session.execute(select(m.Agent.id, m.Agent.capacity))
        capacities = {agent_id: seats for agent_id, seats in agents}
        rows = (
            await session.execute(
                select(m.TicketEvent.ticket_id, m.TicketEvent.kind, m.TicketEvent.data)
                .where(m.TicketEvent.kind.in_([EventKind.ASSIGNED, EventKind.RESOLVED]))
                .order_by(m.TicketEvent.id)
            )
        ).all()
    audit = Audit()
    owners: Counter[int] = Counter()
    load: Counter[int] = Counter()
    for ticket_id, kind, data in rows:
        agent = int(data["agent_id"])
        assigned = kind == EventKind.ASSIGNED.value
        owners[ticket_id] += assigned
        load[agent] += 1 if assigned else -1
        audit.capacity_overruns += load[agent] > capacities[agent]
    audit.double_assignments = sum(n - 1 for n in owners.values() if n > 1)
    return audit


async def offer_latencies(
    database: Database, client: aioredis.Redis, prefix: str, bench: QueueBench
) -> list[float]:
    """Push offers to present agents, each timed end to end; declined to free the seat."""
    service = _service(database, client, prefix)
    customers, agents = await _people(database, 10, prefix.replace(":", "-"))
    for agent in agents:
        await service.sign_in(agent)
    tickets: list[int] = []

    async def open_one(i: int) -> None:
        ticket = await service.open_ticket(
            customer_id=customers[0], queue="billing" if i % 2 else "general", tier=Tier.GOLD,
            channel=Channel.WEB,
        )  # fmt: skip
        tickets.append(ticket.id)

    await _gather_in_batches(open_one, bench.offers)
    latencies: list[float] = []
    todo = iter(tickets)

    async def offerer() -> None:
        for ticket_id in todo:
            started = time.perf_counter()
            offer = await service.offer_next(ticket_id)
            latencies.append((time.perf_counter() - started) * 1000)
            if offer is not None:
                await service.decline_offer(ticket_id, offer.agent_id)

    await asyncio.gather(*(offerer() for _ in range(bench.offer_concurrency)))
    return latencies
