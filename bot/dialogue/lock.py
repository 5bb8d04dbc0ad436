"""A per-conversation lock: one message of a conversation is handled at a time, in order.

In memory (one process) it is an asyncio.Lock per conversation. In Redis (several processes) it
is `SET key token NX PX ttl`, renewed while held, released only by its holder (compare-and-
delete in Lua), so a holder that died frees the conversation after `ttl` at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import redis.asyncio as aioredis

from bot.dialogue import redis_keys


class LockTimeout(RuntimeError):
    """The conversation stayed locked longer than we were willing to wait."""


class ConversationLock(Protocol):
    def hold(self, conversation_id: str) -> contextlib.AbstractAsyncContextManager[None]: ...


class MemoryConversationLock:
    def __init__(self, wait_seconds: float = 30.0) -> None:
        self._wait = wait_seconds
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(conversation_id, (asyncio.Lock(), 0))
        self._locks[conversation_id] = (lock, users + 1)
        try:
            try:
                await asyncio.wait_for(lock.acquire(), self._wait)
            except TimeoutError as exc:
                raise LockTimeout(conversation_id) from exc
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[conversation_id]
            if users == 1:
                del self._locks[conversation_id]
            else:
                self._locks[conversation_id] = (lock, users - 1)


_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class RedisConversationLock:
    """Fair enough for chat: waiters poll with a short, growing backoff (FIFO is not promised
    by Redis; message order is kept because a channel delivers one conversation's messages in
    order and each waits for the previous one to finish)."""

    def __init__(
        self, client: aioredis.Redis, *, ttl_seconds: float = 10.0, wait_seconds: float = 30.0
    ) -> None:
        self._redis = client
        self._ttl_ms = int(ttl_seconds * 1000)
        self._wait = wait_seconds
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        key = redis_keys.lock(conversation_id)
        token = secrets.token_hex(16)
        await self._acquire(key, token, conversation_id)
        renewer = asyncio.create_task(self._keep_alive(key, token))
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            await self._release(keys=[key], args=[token])

    async def _acquire(self, key: str, token: str, conversation_id: str) -> None:
        deadline = time.monotonic() + self._wait
        delay = 0.002
        while not await self._redis.set(key, token, nx=True, px=self._ttl_ms):
            if time.monotonic() >= deadline:
                raise LockTimeout(conversation_id)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def _keep_alive(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            if not await self._renew(keys=[key], args=[token, self._ttl_ms]):
                return  # lost it (expired while we were stalled); nothing left to renew
