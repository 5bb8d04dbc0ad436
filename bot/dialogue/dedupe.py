"""Inbound message ids seen before are not processed twice; a retry gets the same replies."""

from __future__ import annotations

import json
import time
from typing import Protocol

import redis.asyncio as aioredis

from bot.dialogue import redis_keys
from bot.dialogue.messages import Reply


class Deduplicator(Protocol):
    async def replies_for(self, channel: str, message_id: str) -> list[Reply] | None:
        """The replies already sent for this message, or None if it is new."""
        ...

    async def remember(self, channel: str, message_id: str, replies: list[Reply]) -> None: ...


def _dump(replies: list[Reply]) -> str:
    return json.dumps([r.to_json() for r in replies], separators=(",", ":"))


def _load(raw: str | bytes) -> list[Reply]:
    return [Reply.from_json(item) for item in json.loads(raw)]


class MemoryDeduplicator:
    def __init__(self, ttl_seconds: float = 86400, max_items: int = 100_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_items
        self._items: dict[tuple[str, str], tuple[float, str]] = {}

    async def replies_for(self, channel: str, message_id: str) -> list[Reply] | None:
        item = self._items.get((channel, message_id))
        if item is None or item[0] < time.monotonic():
            return None
        return _load(item[1])

    async def remember(self, channel: str, message_id: str, replies: list[Reply]) -> None:
        if len(self._items) >= self._max:
            now = time.monotonic()
            self._items = {k: v for k, v in self._items.items() if v[0] >= now}
            while len(self._items) >= self._max:  # still full: drop the oldest entries
                self._items.pop(next(iter(self._items)))
        self._items[(channel, message_id)] = (time.monotonic() + self._ttl, _dump(replies))


class RedisDeduplicator:
    def __init__(self, client: aioredis.Redis, ttl_seconds: float = 86400) -> None:
        self._redis = client
        self._ttl_ms = int(ttl_seconds * 1000)

    async def replies_for(self, channel: str, message_id: str) -> list[Reply] | None:
        raw = await self._redis.get(redis_keys.seen(channel, message_id))
        return None if raw is None else _load(raw)

    async def remember(self, channel: str, message_id: str, replies: list[Reply]) -> None:
        await self._redis.set(redis_keys.seen(channel, message_id), _dump(replies), px=self._ttl_ms)
