"""The one outbound port: messages nobody just asked for (agent replies, queue updates, reminders).

A message for a conversation whose turn is running in this process joins that turn's replies.
Otherwise it goes out through its channel's sender (Telegram, web chat, ...); a channel that
cannot push (the REST channel) keeps it in the conversation's outbox, delivered first with the
next turn's replies.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis

from bot.dialogue import redis_keys
from bot.dialogue.messages import Reply
from crm_store.enums import Channel

Sender = Callable[[str, Sequence[Reply]], Awaitable[None]]


class MemoryOutbox:
    def __init__(self) -> None:
        self._items: dict[str, list[Reply]] = {}

    async def push(self, conversation_id: str, replies: Sequence[Reply]) -> None:
        self._items.setdefault(conversation_id, []).extend(replies)

    async def drain(self, conversation_id: str) -> list[Reply]:
        return self._items.pop(conversation_id, [])

    async def put_back(self, conversation_id: str, replies: Sequence[Reply]) -> None:
        """Return drained messages that were not delivered, ahead of any that came since."""
        self._items[conversation_id] = [*replies, *self._items.get(conversation_id, [])]


class RedisOutbox:
    def __init__(self, client: aioredis.Redis, ttl_seconds: float = 86400) -> None:
        self._redis = client
        self._ttl_ms = int(ttl_seconds * 1000)

    async def push(self, conversation_id: str, replies: Sequence[Reply]) -> None:
        key = redis_keys.outbox(conversation_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *(json.dumps(r.to_json()) for r in replies))
            pipe.pexpire(key, self._ttl_ms)
            await pipe.execute()

    async def drain(self, conversation_id: str) -> list[Reply]:
        key = redis_keys.outbox(conversation_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lrange(key, 0, -1)
            pipe.delete(key)
            raw, _ = await pipe.execute()
        return [Reply.from_json(json.loads(item)) for item in raw]

    async def put_back(self, conversation_id: str, replies: Sequence[Reply]) -> None:
        """Return drained messages that were not delivered, ahead of any that came since."""
        key = redis_keys.outbox(conversation_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, *(json.dumps(r.to_json()) for r in reversed(replies)))
            pipe.pexpire(key, self._ttl_ms)
            await pipe.execute()


class ChannelOutbound:
    def __init__(self, outbox: MemoryOutbox | RedisOutbox) -> None:
        self.outbox = outbox
        self._senders: dict[Channel, Sender] = {}
        self._turns: dict[str, list[Reply]] = {}

    def register(self, channel: Channel, sender: Sender) -> None:
        self._senders[channel] = sender

    def begin_turn(self, conversation_id: str) -> None:
        self._turns[conversation_id] = []

    def end_turn(self, conversation_id: str) -> list[Reply]:
        return self._turns.pop(conversation_id, [])

    async def send(self, channel: Channel, recipient_id: str, replies: Sequence[Reply]) -> None:
        conversation_id = f"{channel.value}:{recipient_id}"
        if conversation_id in self._turns:
            self._turns[conversation_id].extend(replies)
            return
        sender = self._senders.get(channel)
        if sender is not None:
            await sender(recipient_id, replies)
        else:
            await self.outbox.push(conversation_id, replies)
