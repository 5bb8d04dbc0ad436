"""The composition root: build_app(settings) is the one place where adapters are chosen."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp import web

from bot.config import Settings
from bot.dialogue.availability import SlotFinder
from bot.dialogue.dedupe import MemoryDeduplicator, RedisDeduplicator
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.lock import MemoryConversationLock, RedisConversationLock
from bot.dialogue.ports import Interpreter
from bot.dialogue.router import Router
from bot.dialogue.services import DialogueServices
from bot.dialogue.state import MemoryConversationStore
from bot.dialogue.state_redis import RedisConversationStore
from bot.dialogue.templates import Templates
from bot.http_errors import error_middleware, json_error
from bot.resources import open_crm, open_redis
from crm_store.clock import Clock, system_clock
from crm_store.errors import StoreUnavailable
from crm_store.store import CrmStore

SETTINGS = web.AppKey("settings", Settings)
CRM = web.AppKey("crm", CrmStore)
REDIS = web.AppKey("redis", object)


def build_app(settings: Settings, *, clock: Clock = system_clock) -> web.Application:
    app = web.Application(
        client_max_size=settings.server.max_body_bytes, middlewares=[error_middleware]
    )
    app[SETTINGS] = settings

    async def crm_ctx(app: web.Application) -> AsyncIterator[None]:
        async with open_crm(settings, clock=clock) as store:
            app[CRM] = store
            yield

    app.cleanup_ctx.append(crm_ctx)
    if settings.stores.redis_url:
        redis_url = settings.stores.redis_url

        async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
            async with open_redis(redis_url) as client:
                app[REDIS] = client
                yield

        app.cleanup_ctx.append(redis_ctx)

    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    return app


def build_engine(
    settings: Settings,
    store: CrmStore,
    interpreter: Interpreter,
    *,
    clock: Clock = system_clock,
    redis: aioredis.Redis | None = None,
    knowledge: object | None = None,
    routing: object | None = None,
) -> DialogueEngine:
    """The dialogue with its live layer: Redis when configured, else in-process memory."""
    from bot.dialogue.flows import Flow
    from bot.dialogue.flows.basics import BasicsFlow
    from bot.dialogue.flows.booking import BookingFlow
    from bot.dialogue.flows.my_appointments import (
        CancelFlow,
        ListAppointmentsFlow,
        RescheduleFlow,
    )
    from bot.dialogue.flows.verification import VerificationFlow

    services = DialogueServices(
        settings=settings,
        store=store,
        interpreter=interpreter,
        templates=Templates.load(Path(settings.dialogue.templates)),
        clock=clock,
        slots=SlotFinder.from_settings(settings, store.appointments, clock),
        knowledge=knowledge,
        routing=routing,
    )
    flows: list[Flow] = [
        BasicsFlow(),
        VerificationFlow(),
        BookingFlow(),
        ListAppointmentsFlow(),
        CancelFlow(),
        RescheduleFlow(),
    ]
    router = Router(flows, fallback_threshold=settings.nlu.fallback_threshold)
    if redis is not None:
        return DialogueEngine(
            services,
            router,
            RedisConversationStore(redis),
            RedisConversationLock(redis),
            RedisDeduplicator(redis),
        )
    return DialogueEngine(
        services, router, MemoryConversationStore(), MemoryConversationLock(), MemoryDeduplicator()
    )


async def index(request: web.Request) -> web.Response:
    name = html.escape(request.app[SETTINGS].business.name)
    body = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{name} · Frontdesk</title>"
        f"<h1>{name}</h1><p>Frontdesk is running.</p>"
        '<ul><li><a href="/healthz">/healthz</a> - health of the database and Redis</li></ul>'
    )
    return web.Response(text=body, content_type="text/html")


async def healthz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    healthy = True
    try:
        await request.app[CRM].database.ping()
        checks["database"] = "ok"
    except StoreUnavailable:
        checks["database"] = "unavailable"
        healthy = False
    if REDIS in request.app:
        try:
            await request.app[REDIS].ping()  # type: ignore[attr-defined]
            checks["redis"] = "ok"
        except Exception:  # any failure of the live layer is "unavailable" to a probe
            checks["redis"] = "unavailable"
            healthy = False
    else:
        checks["redis"] = "off (in-process memory)"
    if not healthy:
        return json_error(503, "unhealthy", **checks)
    return web.json_response({"status": "ok", **checks})
