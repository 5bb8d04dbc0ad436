"""Lifecycles of the backends the app holds open: the CRM store and, when configured, Redis.

Each is an async context manager wired into aiohttp's cleanup_ctx by `bot.app`. A backend that
is configured but unreachable fails start-up with a clear message; nothing falls back silently.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from bot.config import Settings
from crm_store.clock import Clock, system_clock
from crm_store.segmentation import SegmentationPolicy
from crm_store.store import CrmStore

# seconds a Redis command may go unanswered; every one the bot sends takes under a millisecond
REDIS_COMMAND_TIMEOUT = 2.0


class BackendUnavailable(RuntimeError):
    """A configured backend could not be reached at start-up."""


def segmentation_policy(settings: Settings) -> SegmentationPolicy:
    return SegmentationPolicy(tiers=settings.tiers, clv=settings.clv)


@asynccontextmanager
async def open_crm(
    settings: Settings, *, clock: Clock = system_clock, migrate: bool = False, serving: bool = False
) -> AsyncIterator[CrmStore]:
    """The CRM store. `serving` (the server's): each statement is bounded by
    stores.database_timeout; the CLI's imports and migrations are not."""
    async with CrmStore.open(
        settings.stores.database_url,
        segmentation_policy(settings),
        default_region=settings.business.default_region,
        default_timezone=settings.business.timezone,
        clock=clock,
        migrate=migrate,
        pool_size=settings.stores.database_pool_size,
        statement_timeout=settings.stores.database_timeout if serving else None,
    ) as store:
        yield store


@asynccontextmanager
async def open_redis(url: str) -> AsyncIterator[aioredis.Redis]:
    """A connected client; raises BackendUnavailable when the server does not answer PING."""
    # A blocking pool waits for a free connection instead of failing past max_connections.
    # After Redis restarts, every pooled connection is dead: a command on one reconnects and is
    # sent again (a few times, briefly) instead of failing one request per stale connection.
    # A command unanswered for REDIS_COMMAND_TIMEOUT (a hung server, a network partition) fails
    # (503 at the edge) instead of holding its request until the client gives up; it is not
    # sent again: the server may have run it (a lock script taking a number, say).
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=200,
        timeout=10,
        socket_connect_timeout=5,
        socket_timeout=REDIS_COMMAND_TIMEOUT,  # subscriptions' reads wait on regardless
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3, (RedisConnectionError,)),
    )
    client = aioredis.Redis(connection_pool=pool)
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            raise BackendUnavailable(f"redis at {_safe(url)} is unreachable: {exc}") from exc
        yield client
    finally:
        await client.aclose()
        await pool.aclose()


def _safe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
