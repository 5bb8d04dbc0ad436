"""Telling every process that a conversation has new messages, so its sockets show them at once.

`publish(conversation_id, last_seq)` follows every message stored and pushed to this process's
sockets; a process that holds sockets of that conversation hears `new(conversation_id, last_seq)`
and they read what they lack from the transcript (hub.py). Two adapters:

- MemoryFanout: one process; it holds every socket, so nothing to tell (publish does nothing).
- RedisFanout: Redis pub/sub on one channel, `fd:webchat:new` (no key, no storage: nothing to
  expire), messages `{"c": conversation id, "s": last seq, "o": the publishing process}`.
  Pub/sub keeps nothing: an announcement made while a subscriber is cut off is lost, so the
  widget's ping (with its last seq) stays the safety net, and a subscriber that gets its link
  back first has every local socket catch up (`resync`). A lost link is logged once, retried
  with backoff, and its return logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CHANNEL = "fd:webchat:new"
PUBLISH_TIMEOUT = 2.0  # seconds; an announcement that cannot go out is skipped (pings catch up)
BACKOFF_FIRST = 0.5  # seconds before resubscribing after a lost link, doubling ...
BACKOFF_MAX = 10.0  # ... up to this


@dataclass(frozen=True)
class Listener:
    """What a subscriber is told. Both are called on the subscriber's task and must not wait:
    they start the work (the sockets' catch-up) and return."""

    new: Callable[[str, int], None]  # the conversation has messages up to this number
    resync: Callable[[], None]  # announcements may have been missed: every socket catches up


class Fanout(Protocol):
    async def publish(self, conversation_id: str, last_seq: int) -> None: ...

    def listening(self, listener: Listener) -> AbstractAsyncContextManager[None]: ...


class MemoryFanout:
    async def publish(self, conversation_id: str, last_seq: int) -> None:
        return None

    @asynccontextmanager
    async def listening(self, listener: Listener) -> AsyncIterator[None]:
        yield


class RedisFanout:
    def __init__(
        self,
        client: aioredis.Redis,
        channel: str = CHANNEL,
        *,
        backoff: tuple[float, float] = (BACKOFF_FIRST, BACKOFF_MAX),
    ) -> None:
        self._redis = client
        self._channel = channel
        self._backoff = backoff
        self._origin = secrets.token_hex(8)  # this process: its own announcements are skipped
        self._publish_failing = False

    async def publish(self, conversation_id: str, last_seq: int) -> None:
        text = json.dumps({"c": conversation_id, "s": last_seq, "o": self._origin})
        try:
            await asyncio.wait_for(self._redis.publish(self._channel, text), PUBLISH_TIMEOUT)
        except (RedisError, OSError, TimeoutError) as exc:
            if not self._publish_failing:
                log.warning("web chat fan-out: cannot publish (%s); pings catch up", exc)
            self._publish_failing = True
            return
        if self._publish_failing:
            log.info("web chat fan-out: publishing again")
        self._publish_failing = False

    @asynccontextmanager
    async def listening(self, listener: Listener) -> AsyncIterator[None]:
        task = asyncio.create_task(self._listen(listener), name="webchat-fanout")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self, listener: Listener) -> None:
        """Subscribe and hand on announcements; after a lost link, again with backoff."""
        delay, lost = self._backoff[0], False
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                if lost:
                    log.info("web chat fan-out: subscribed again; open sockets catch up")
                    listener.resync()
                    delay, lost = self._backoff[0], False
                async for message in pubsub.listen():
                    self._hand_on(message, listener)
                raise ConnectionError("the subscription ended")
            except (RedisError, OSError) as exc:
                if not lost:
                    log.warning("web chat fan-out: lost Redis (%s); retrying with backoff", exc)
                lost = True
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    def _hand_on(self, message: dict[str, Any], listener: Listener) -> None:
        if message.get("type") != "message":
            return
        try:
            data = json.loads(message["data"])
            conversation_id, last_seq, origin = str(data["c"]), int(data["s"]), data.get("o")
        except (ValueError, TypeError, KeyError):
            log.warning("web chat fan-out: ignored a malformed announcement")
            return
        if origin != self._origin:
            listener.new(conversation_id, last_seq)
