"""When each message turned away "busy" first arrived, so that its retry keeps its place in line
(bot/dialogue/admission.py): in this process's memory (one instance), or in Redis, where every
instance behind the load balancer finds it, whichever one the retry reaches.

Arrivals are wall-clock seconds (time.time()), comparable between instances. The memory is a
help, not a record: lost, a retry waits at the end of the line as a new message would; a Redis
that fails is treated as one that remembers nothing, and never fails a turn.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.dialogue import redis_keys

log = logging.getLogger(__name__)

RETRY_MEMORY = 300.0  # seconds a turned-away message keeps its place in the order
REMEMBERED = 50_000  # in memory: turned-away messages remembered at most (the oldest go)


class TurnedAway(Protocol):
    async def first_arrival(self, message: str) -> float | None:
        """When `message` (channel and message id) first arrived, if it was turned away since;
        forgotten once asked."""
        ...

    async def remember(self, message: str, arrived: float) -> None: ...


class LocalTurnedAway:
    def __init__(self) -> None:
        self._arrivals: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._arrivals)

    async def first_arrival(self, message: str) -> float | None:
        return self._arrivals.pop(message, None)

    async def remember(self, message: str, arrived: float) -> None:
        self._arrivals[message] = arrived
        horizon = time.time() - RETRY_MEMORY
        while self._arrivals and (
            len(self._arrivals) > REMEMBERED or next(iter(self._arrivals.values())) < horizon
        ):
            self._arrivals.popitem(last=False)


class RedisTurnedAway:
    """`fd:away:{channel}:{message id}` (TTL RETRY_MEMORY): the message's first arrival."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def first_arrival(self, message: str) -> float | None:
        try:
            found = await self._redis.getdel(redis_keys.turned_away(message))
        except RedisError as exc:
            log.debug("turned-away arrivals unavailable: %s", exc)
            return None
        return None if found is None else float(found)

    async def remember(self, message: str, arrived: float) -> None:
        try:
            await self._redis.set(
                redis_keys.turned_away(message), repr(arrived), ex=int(RETRY_MEMORY)
            )
        except RedisError as exc:
            log.debug("turned-away arrivals unavailable: %s", exc)
