"""The desk in the aiohttp server: its routes from the start, its parts once the bot runs.

bot/app.py builds a `Desk` from config.yml and `mount`s it: the routes are added when the app
is built (they answer 503 until the desk runs), and a cleanup context hands the desk the CRM
store, the routing service (whose desk bus feeds the live events) and the Redis client, if any,
once the dialogue is open. Sessions and login throttles live in Redis when it is configured,
in this process's memory otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from crm_store.clock import Clock, system_clock
from crm_store.store import CrmStore
from desk.audit import AuditLog
from desk.auth import Auth
from desk.bookings import Bookings
from desk.config import DeskConfig
from desk.console import Console
from desk.dashboard import Dashboard
from desk.guard import guarded
from desk.history import DeskHistory
from desk.live import LiveEvents
from desk.numbers import DeskNumbers
from desk.pages import Pages
from desk.parts import DeskParts, Runtime, TurnLoad
from desk.prometheus import Histogram, MetricsEndpoint, TimedInterpreter
from desk.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from desk.throttle import FailureCounter, LoginThrottle, MemoryFailureCounter, RedisFailureCounter
from routing.service import RoutingService


@dataclass(frozen=True)
class DeskHost:
    """What the running bot hands the desk."""

    store: CrmStore
    routing: RoutingService
    redis: object | None = None  # a redis.asyncio.Redis when stores.redis_url is set
    turns: TurnLoad | None = None  # the bot's count of turns in progress and turned away


def live_state(redis: object | None) -> tuple[SessionStore, FailureCounter]:
    if isinstance(redis, aioredis.Redis):
        return RedisSessionStore(redis), RedisFailureCounter(redis)
    return MemorySessionStore(), MemoryFailureCounter()


class Desk:
    def __init__(self, config: DeskConfig, *, clock: Clock = system_clock) -> None:
        self.config = config
        self.clock = clock
        self.runtime = Runtime()
        self.nlu_latency = Histogram()
        guard = guarded(self.runtime)
        self.live = LiveEvents(guard)
        self._sections: list[Any] = [
            Auth(self.runtime),
            Console(guard),
            Bookings(guard),
            Dashboard(guard),
            self.live,
            Pages(self.runtime),
            MetricsEndpoint(self.runtime, self.nlu_latency),
        ]

    def routes(self) -> list[web.RouteDef]:
        return [route for section in self._sections for route in section.routes()]

    def timed(self, interpreter: Any) -> TimedInterpreter:
        """The NLU interpreter, its parse times recorded for GET /metrics."""
        return TimedInterpreter(interpreter, self.nlu_latency)

    @asynccontextmanager
    async def running(self, host: DeskHost) -> AsyncIterator[DeskParts]:
        sessions, failures = live_state(host.redis)
        history = DeskHistory(host.store.database)
        parts = DeskParts(
            config=self.config,
            store=host.store,
            routing=host.routing,
            sessions=sessions,
            throttle=LoginThrottle(failures, self.config.login),
            audit=AuditLog(host.store.database, self.clock),
            history=history,
            numbers=DeskNumbers(history, host.routing, self.config),
            clock=self.clock,
            turns=host.turns,
        )
        self.live.start()
        self.runtime.start(parts)
        try:
            yield parts
        finally:
            self.live.stop()
            self.runtime.stop()

    async def shutdown(self, _app: web.Application) -> None:
        self.live.stop()


def mount(app: web.Application, desk: Desk, host_of: Callable[[web.Application], DeskHost]) -> None:
    """Add the desk's routes to `app`, and run it while `app` runs (after the dialogue opens:
    append this after the cleanup contexts it depends on)."""
    app.router.add_routes(desk.routes())
    app.on_shutdown.append(desk.shutdown)

    async def desk_ctx(app: web.Application) -> AsyncIterator[None]:
        async with desk.running(host_of(app)):
            yield

    app.cleanup_ctx.append(desk_ctx)
