"""The web chat's message rate limit per conversation: a token bucket of `capacity` messages,
refilled evenly over `period` seconds.

The limit belongs to the conversation, not to a socket: a visitor who opens a second tab, or
reconnects and lands on another process behind the load balancer, shares one bucket. So with
`stores.redis_url` set the buckets are in Redis (RedisRateLimiter: one Lua script reads, refills
and takes a token atomically, on Redis's own clock, so the processes' clocks do not matter);
without it, in this process's memory (MemoryRateLimiter).

If Redis cannot be reached while the chat runs, a message is let through (logged): the limit
is a guard against floods, and the dialogue behind it answers "busy" when its own state is
unreachable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.channels.webchat import redis_keys as keys

log = logging.getLogger(__name__)

MAX_BUCKETS = 10_000  # memory: above this, buckets that have refilled are forgotten


class RateLimiter(Protocol):
    async def allow(self, key: str) -> bool:
        """Take a token from `key`'s bucket: True if there was one."""
        ...


class MemoryRateLimiter:
    def __init__(
        self, capacity: int, period: float, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._capacity = capacity
        self._rate = capacity / period
        self._now = now
        self._buckets: dict[str, tuple[float, float]] = {}

    async def allow(self, key: str) -> bool:
        now = self._now()
        tokens, since = self._buckets.get(key, (float(self._capacity), now))
        tokens = min(self._capacity, tokens + (now - since) * self._rate)
        allowed = tokens >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) > MAX_BUCKETS:
            self._forget_full(now)
        return allowed

    def _forget_full(self, now: float) -> None:
        self._buckets = {
            key: (tokens, since)
            for key, (tokens, since) in self._buckets.items()
            if tokens + (now - since) * self._rate < self._capacity
        }


# KEYS[1] the bucket; ARGV[1] capacity, ARGV[2] period in ms. Returns 1 (allowed) or 0.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * capacity / period)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'at', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], period)
return allowed
"""


class RedisRateLimiter:
    def __init__(self, client: aioredis.Redis, capacity: int, period: float) -> None:
        self._capacity = capacity
        self._period_ms = max(1, int(period * 1000))
        self._take = client.register_script(_TAKE)

    async def allow(self, key: str) -> bool:
        try:
            taken = await self._take(keys=[keys.rate(key)], args=[self._capacity, self._period_ms])
        except (RedisError, OSError) as exc:
            log.warning("web chat %s: rate limit unavailable, message let through: %s", key, exc)
            return True
        return bool(int(taken))


def rate_limiter(redis: aioredis.Redis | None, capacity: int, period: float) -> RateLimiter:
    """Shared by every process when Redis is configured; else this process's own."""
    if redis is None:
        return MemoryRateLimiter(capacity, period)
    return RedisRateLimiter(redis, capacity, period)
