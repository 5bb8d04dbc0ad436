"""Login throttling: failed sign-ins counted per username and per client address in a window.

Once either count reaches its limit, sign-ins for that username (or from that address) pause
until the window since the first failure has passed; a successful sign-in clears the username's
count. The counters are live state: `FailureCounter` in Redis or in this process's memory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from desk.config import LoginLimits
from desk.errors import NotReady, Throttled
from desk.keys import DeskKeys


class FailureCounter(Protocol):
    async def add(self, key: str, window: timedelta) -> int:
        """Count one failure; the window starts at the first. Returns the count now."""
        ...

    async def count(self, key: str) -> tuple[int, float]:
        """(failures in the current window, seconds until it ends); (0, 0) without any."""
        ...

    async def clear(self, key: str) -> None: ...


class MemoryFailureCounter:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}

    async def add(self, key: str, window: timedelta) -> int:
        count, until = self._current(key)
        if count == 0:
            until = time.monotonic() + window.total_seconds()
        self._counts[key] = (count + 1, until)
        return count + 1

    async def count(self, key: str) -> tuple[int, float]:
        count, until = self._current(key)
        return count, max(until - time.monotonic(), 0.0) if count else 0.0

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)

    def _current(self, key: str) -> tuple[int, float]:
        count, until = self._counts.get(key, (0, 0.0))
        if count and until <= time.monotonic():
            self._counts.pop(key, None)
            return 0, 0.0
        return count, until


# INCR and set the expiry on the first failure, atomically.
_ADD = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RedisFailureCounter:
    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client
        self._add = client.register_script(_ADD)

    async def add(self, key: str, window: timedelta) -> int:
        try:
            return int(await self._add(keys=[key], args=[int(window.total_seconds() * 1000)]))
        except (RedisError, OSError) as exc:
            raise NotReady("sign-in is unavailable; try again shortly") from exc

    async def count(self, key: str) -> tuple[int, float]:
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.get(key)
            pipe.pttl(key)
            raw, ttl = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise NotReady("sign-in is unavailable; try again shortly") from exc
        if raw is None:
            return 0, 0.0
        return int(raw), max(int(ttl), 0) / 1000

    async def clear(self, key: str) -> None:
        try:
            await self._redis.delete(key)
        except (RedisError, OSError) as exc:
            raise NotReady("sign-in is unavailable; try again shortly") from exc


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    counter: FailureCounter
    limits: LoginLimits
    keys: DeskKeys = field(default_factory=DeskKeys)

    def _keys(self, username: str, address: str | None) -> list[tuple[str, int]]:
        found = [(self.keys.failures("user", username.strip().lower()), self.limits.max_failures)]
        if address:
            key = self.keys.failures("addr", address)
            found.append((key, self.limits.max_failures_per_address))
        return found

    async def check(self, username: str, address: str | None) -> None:
        """Throttled (with Retry-After seconds) while either count is at its limit."""
        for key, limit in self._keys(username, address):
            count, left = await self.counter.count(key)
            if count >= limit:
                raise Throttled("too many failed sign-ins; try again later", max(left, 1.0))

    async def failed(self, username: str, address: str | None) -> None:
        for key, _limit in self._keys(username, address):
            await self.counter.add(key, self.limits.window)

    async def succeeded(self, username: str) -> None:
        await self.counter.clear(self.keys.failures("user", username.strip().lower()))
