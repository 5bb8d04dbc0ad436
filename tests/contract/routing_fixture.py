"""Shared routing test helpers: demo queues, bulk customers and agents, both dispatch adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import redis.asyncio as aioredis
from sqlalchemy import insert, select

from crm_store import models as m
from crm_store.database import Database
from crm_store.enums import Channel
from crm_store.store import CrmStore
from crm_store.tiers import Tier
from routing.desk_bus import DeskBus, MemoryDeskBus
from routing.desk_bus_redis import RedisDeskBus
from routing.dispatch import Dispatcher
from routing.dispatch_memory import MemoryDispatcher
from routing.dispatch_redis import RedisDispatcher
from routing.notify import CustomerNotice
from routing.queues import QueueSpec
from routing.redis_keys import RedisKeys

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TEST_KEYS = RedisKeys("fd:test:routing:")

DEMO_QUEUES = (
    QueueSpec("appointments", frozenset({"booking"}), "standard", "general"),
    QueueSpec("billing", frozenset({"billing"}), "standard", "general"),
    QueueSpec("nurse-advice", frozenset({"nursing", "triage"}), "urgent", "general"),
    QueueSpec("general", frozenset({"reception"}), "standard"),
)


async def add_customers(database: Database, count: int, tier: Tier = Tier.LEAD) -> list[int]:
    rows = [
        {
            "full_name": f"Customer {i}",
            "language": "en",
            "timezone": "Europe/London",
            "consent_marketing": False,
            "consent_data_processing": True,
            "tier": tier,
            "lifetime_value": Decimal(0),
            "created_at": T0,
            "updated_at": T0,
        }
        for i in range(count)
    ]
    async with database.transaction() as session:
        first = await session.scalar(select(m.Customer.id).order_by(m.Customer.id.desc()))
        await session.execute(insert(m.Customer), rows)
        ids = await session.scalars(
            select(m.Customer.id).where(m.Customer.id > (first or 0)).order_by(m.Customer.id)
        )
        return list(ids)


async def add_agents(
    database: Database, seats: Sequence[tuple[Sequence[str], int]], prefix: str = "agent"
) -> list[int]:
    """Agents with these (skills, capacity), straight into the table (no password hashing)."""
    rows = [
        {
            "username": f"{prefix}{i}",
            "display_name": f"Agent {i}",
            "password_hash": "x",
            "roles": ["agent"],
            "skills": sorted(skills),
            "capacity": capacity,
            "active": True,
            "created_at": T0,
        }
        for i, (skills, capacity) in enumerate(seats)
    ]
    async with database.transaction() as session:
        await session.execute(insert(m.Agent), rows)
        names = [row["username"] for row in rows]
        found = await session.execute(
            select(m.Agent.username, m.Agent.id).where(m.Agent.username.in_(names))
        )
        by_name = {name: agent_id for name, agent_id in found}
    return [by_name[name] for name in names]


def redis_client(url: str, connections: int = 64) -> aioredis.Redis:
    """A client whose pool makes callers wait for a connection rather than fail."""
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=connections, timeout=20)
    return aioredis.Redis.from_pool(pool)


class RecordingNotifier:
    def __init__(self) -> None:
        self.notices: list[CustomerNotice] = []

    async def notify(self, notice: CustomerNotice) -> None:
        self.notices.append(notice)


@pytest.fixture(name="live_url", params=["memory", "redis"])
def live_url_fixture(request: pytest.FixtureRequest) -> str | None:
    """None for the in-process adapters, else the (flushed) test Redis."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture(name="live")
async def live_fixture(live_url: str | None) -> AsyncIterator[tuple[Dispatcher, DeskBus]]:
    """A (dispatcher, desk bus) pair of each kind."""
    if live_url is None:
        yield MemoryDispatcher(), MemoryDeskBus()
        return
    client = redis_client(live_url)
    try:
        yield RedisDispatcher(client, TEST_KEYS), RedisDeskBus(client, TEST_KEYS)
    finally:
        await client.aclose()


Clients = list[aioredis.Redis | None]


@pytest.fixture(name="clients")
async def clients_fixture(live_url: str | None) -> AsyncIterator[Clients]:
    """Two processes' Redis clients of the test Redis; [None, None] for the in-memory adapters
    (whose two "processes" share one object)."""
    if live_url is None:
        yield [None, None]
        return
    made = [aioredis.Redis.from_url(live_url) for _ in range(2)]
    try:
        yield list(made)
    finally:
        for client in made:
            await client.aclose()


CHANNEL = Channel.WEB


@pytest.fixture(name="sqlite_crm")
async def sqlite_crm_fixture(tmp_path, policy, clock) -> AsyncIterator[CrmStore]:
    """A migrated CRM store on SQLite (the service tests vary the live layer, not the database)."""
    async with CrmStore.open(
        f"sqlite+aiosqlite:///{tmp_path / 'routing.db'}",
        policy,
        default_region="GB",
        default_timezone="Europe/London",
        clock=clock,
        migrate=True,
    ) as crm:
        yield crm
