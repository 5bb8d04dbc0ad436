"""Desk events over Redis pub/sub: one channel per queue, one per agent, one for everything."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from routing.desk_bus import DeskEvent, Interest
from routing.errors import DispatchUnavailable
from routing.redis_keys import RedisKeys

RECENT = 256  # (ticket, seq) pairs remembered to drop an event heard on two channels


class RedisDeskBus:
    def __init__(self, client: aioredis.Redis, keys: RedisKeys | None = None) -> None:
        self._redis = client
        self.keys = keys or RedisKeys()

    async def publish(self, events: Sequence[DeskEvent]) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for event in events:
                text = event.to_json()
                pipe.publish(self.keys.all_channel, text)
                pipe.publish(self.keys.queue_channel(event.queue), text)
                if event.agent_id is not None:
                    pipe.publish(self.keys.agent_channel(event.agent_id), text)
            await pipe.execute()
        except (RedisError, OSError) as exc:
            raise DispatchUnavailable(f"redis: {exc}") from exc

    def _channels(self, interest: Interest) -> list[str]:
        if interest.everything:
            return [self.keys.all_channel]
        channels = [self.keys.queue_channel(q) for q in sorted(interest.queues)]
        if interest.agent_id is not None:
            channels.append(self.keys.agent_channel(interest.agent_id))
        return channels

    @asynccontextmanager
    async def subscribe(self, interest: Interest) -> AsyncIterator[AsyncIterator[DeskEvent]]:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        channels = self._channels(interest)
        try:
            if channels:
                await pubsub.subscribe(*channels)
        except (RedisError, OSError) as exc:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise DispatchUnavailable(f"redis: {exc}") from exc

        async def events() -> AsyncIterator[DeskEvent]:
            seen: deque[tuple[int, int]] = deque(maxlen=RECENT)
            try:
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    event = DeskEvent.from_json(message["data"])
                    key = (event.ticket_id, event.seq)
                    if key in seen:
                        continue
                    seen.append(key)
                    yield event
            except (RedisError, OSError) as exc:
                raise DispatchUnavailable(f"redis: {exc}") from exc

        try:
            yield events()
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
