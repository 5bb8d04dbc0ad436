"""Agents pulling and resolving tickets until none is left: run in-process or as a subprocess.

    python -m tests.integration.routing_claimers POSTGRES_URL REDIS_URL PREFIX AGENT_IDS

prints one JSON line with what it did. Used by the concurrency tests to put claimers in several
processes at once.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import create_async_engine

from crm_store.database import Database
from routing.dispatch_redis import RedisDispatcher
from routing.events import TicketStatus
from routing.parts import RoutingOptions
from routing.queues import QueueSpec
from routing.redis_keys import RedisKeys
from routing.service import RoutingService
from routing.ticket_store import SqlTicketStore

QUEUES = (
    QueueSpec("billing", frozenset({"billing"}), "standard", "general"),
    QueueSpec("general", frozenset({"reception"}), "standard"),
)


TIME_LIMIT = 120  # seconds: a claimer never outlives a broken test run by much


@dataclass
class Tally:
    claims: int = 0
    resolved: int = 0
    empty_pulls: int = 0
    rebuilds: int = 0


@asynccontextmanager
async def routing_service(
    postgres_url: str, redis_url: str, prefix: str, *, pool: int = 6
) -> AsyncIterator[RoutingService]:
    """A pull-only service on PostgreSQL (a small pool, several processes share the server)."""
    engine = create_async_engine(postgres_url, pool_size=pool, max_overflow=2, pool_timeout=60)
    redis_pool = aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=32, timeout=30)
    client = aioredis.Redis.from_pool(redis_pool)
    try:
        yield RoutingService(
            SqlTicketStore(Database(engine)),
            RedisDispatcher(client, RedisKeys(prefix)),
            QUEUES,
            options=RoutingOptions(push=False),
        )
    finally:
        await client.aclose()
        await engine.dispose()


async def claim_until_done(
    service: RoutingService, agents: Sequence[int], *, hold: float = 0.003, ticking: bool = False
) -> Tally:
    """One claimer per agent: pull, hold a moment, resolve; until no ticket waits anywhere.

    With `ticking`, also run the housekeeping tick (which rebuilds a lost live layer).
    """
    tally = Tally()
    done = asyncio.Event()

    async def watch() -> None:
        while True:
            waiting = await service.store.tickets(
                statuses=[TicketStatus.QUEUED, TicketStatus.OFFERED], limit=1
            )
            if not waiting:
                done.set()
                return
            if ticking and (await service.tick()).rebuilt is not None:
                tally.rebuilds += 1
            await asyncio.sleep(0.05)

    async def claimer(agent: int) -> None:
        while True:
            ticket = await service.next_ticket(agent)
            if ticket is None:
                if done.is_set():
                    return
                tally.empty_pulls += 1
                await asyncio.sleep(0.01)
                continue
            tally.claims += 1
            await asyncio.sleep(random.uniform(0, hold))
            await service.resolve(ticket.id, agent, "done")
            tally.resolved += 1

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(claimer(agent) for agent in agents))
    await watcher
    return tally


async def _main(postgres_url: str, redis_url: str, prefix: str, agents: Sequence[int]) -> None:
    async with routing_service(postgres_url, redis_url, prefix) as service:
        tally = await asyncio.wait_for(claim_until_done(service, agents), TIME_LIMIT)
    print(json.dumps(asdict(tally)))


if __name__ == "__main__":
    url, redis_url, prefix, agent_ids = sys.argv[1:5]
    asyncio.run(_main(url, redis_url, prefix, [int(a) for a in agent_ids.split(",")]))
