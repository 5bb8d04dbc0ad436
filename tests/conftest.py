"""Shared fixtures: a fresh CRM store on SQLite and on a real PostgreSQL, and a real Redis.

PostgreSQL and Redis tests skip with one clear line when the service is unreachable, except in
CI (CI=true or FRONTDESK_REQUIRE_SERVICES=1), where an unreachable service fails the run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from crm_store.database import Database, create_engine
from crm_store.migrate import upgrade
from crm_store.models import Base
from crm_store.segmentation import SegmentationPolicy
from crm_store.store import CrmStore
from crm_store.tiers import Tier

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def services_required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("FRONTDESK_REQUIRE_SERVICES") == "1"


def unavailable(what: str, url: str, exc: BaseException) -> None:
    message = f"{what} not reachable at {url} ({type(exc).__name__}: {exc}); set {what.upper()}_URL"
    if services_required():
        pytest.fail(f"{message} -- required in CI", pytrace=False)
    pytest.skip(message)


# -- time and policy ------------------------------------------------------------------------------


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass(frozen=True)
class Rule:
    min_revenue: Decimal
    min_transactions: int
    max_recency_days: int | None = None
    max_contacts_per_100: Decimal | None = None


@dataclass(frozen=True)
class Rules:
    window_days: int = 365
    platinum: Rule = Rule(Decimal(1200), 4, 180, Decimal(5))
    gold: Rule = Rule(Decimal(500), 2, 365)
    iron: Rule = Rule(Decimal(100), 1)


@dataclass(frozen=True)
class Clv:
    margin_rate: Decimal = Decimal("0.6")
    discount_rate: Decimal = Decimal("0.1")
    retention: dict[Tier, Decimal] = field(
        default_factory=lambda: {
            Tier.PLATINUM: Decimal("0.9"),
            Tier.GOLD: Decimal("0.75"),
            Tier.IRON: Decimal("0.6"),
            Tier.LEAD: Decimal("0.3"),
        }
    )


@pytest.fixture
def policy() -> SegmentationPolicy:
    return SegmentationPolicy(tiers=Rules(), clv=Clv())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- the trained NLU model ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nlu_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The shipped training data trained once, exactly as `frontdesk nlu train` does."""
    from bot.cli import main

    folder = tmp_path_factory.mktemp("nlu")
    env = {"FRONTDESK_NLU_MODEL_DIR": str(folder)}
    assert main(["--config", str(ROOT / "config.yml"), "nlu", "train"], environ=env) == 0
    return str(folder)


# -- PostgreSQL ------------------------------------------------------------------------------------


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway database on the PostgreSQL server named by DATABASE_URL, migrated once."""
    server_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    name = f"frontdesk_test_{uuid.uuid4().hex[:10]}"
    base, _, _db = server_url.rpartition("/")

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(server_url), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        unavailable("database", server_url, exc)
    url = f"{base}/{name}"

    async def migrate() -> None:
        database = Database(create_engine(url))
        try:
            await upgrade(database)
        finally:
            await database.close()

    asyncio.run(migrate())
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def truncate_postgres(database: Database) -> None:
    """Every table emptied, identities restarted."""
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with database.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(
    database_url: str, policy: SegmentationPolicy, clock: FakeClock
) -> AsyncIterator[CrmStore]:
    """A migrated, empty CRM store on each backend."""
    is_sqlite = database_url.startswith("sqlite")
    async with CrmStore.open(
        database_url,
        policy,
        default_region="GB",
        default_timezone="Europe/London",
        clock=clock,
        migrate=is_sqlite,
    ) as crm:
        if not is_sqlite:
            await truncate_postgres(crm.database)
        yield crm


# -- Redis -----------------------------------------------------------------------------------------


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """REDIS_URL (default db 15 on the local server), flushed before and after each test."""
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    client = aioredis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        await client.flushdb()
    except (RedisError, OSError) as exc:
        await client.aclose()
        unavailable("redis", url, exc)
    try:
        yield url
    finally:
        await client.flushdb()
        await client.aclose()
