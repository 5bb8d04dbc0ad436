"""What a channel gets from the running bot, and the shape of a channel that runs beside it.

A channel is built when the app is built (so its routes exist from the start) and runs while
the dialogue runs: `running(host)` is entered after the dialogue is open and left before it
closes. Until then its handlers answer 503.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import redis.asyncio as aioredis
from aiohttp import web

from bot.dialogue.messages import InboundMessage, Reply
from bot.dialogue.outbox import ChannelOutbound
from crm_store.clock import Clock
from crm_store.store import CrmStore
from routing.service import RoutingService

Handle = Callable[[InboundMessage], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class ChannelHost:
    """The running bot as a channel sees it.

    `handle` runs one customer message through the dialogue (exactly once per message id);
    `outbound.register(channel, sender)` makes the channel the way out for messages nobody
    just asked for (agent replies, queue updates, reminders); `store` and `routing` are there
    for what a channel must record itself (an unreachable identity, a call's ticket); `redis`
    (None without one) for what a channel shares with its peers in other processes.
    """

    handle: Handle
    outbound: ChannelOutbound
    store: CrmStore
    routing: RoutingService
    clock: Clock
    redis: aioredis.Redis | None = None  # the live layer, when configured (stores.redis_url)


class Channel(Protocol):
    def routes(self) -> list[web.RouteDef]: ...

    def running(self, host: ChannelHost) -> AbstractAsyncContextManager[None]: ...


@runtime_checkable
class HoldsConnections(Protocol):
    """A channel that keeps connections open (WebSockets): closed first when the server stops,
    so that a stop does not wait for them."""

    async def close_sockets(self) -> None: ...
