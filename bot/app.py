"""The composition root: build_app(settings) is the one place where adapters are chosen."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import cast

import redis.asyncio as aioredis
from aiohttp import web

from bot.channels.host import Channel, ChannelHost, HoldsConnections
from bot.channels.rest import RestChannel
from bot.channels.webchat import WebchatChannel
from bot.config import Settings
from bot.dialogue.messages import InboundMessage, Reply
from bot.dialogue.ports import Interpreter
from bot.dialogue_setup import Dialogue, open_dialogue, templates_of
from bot.http_errors import error_middleware, json_error
from bot.nlu_backend import open_interpreter
from bot.resources import open_crm, open_redis
from bot.routing_setup import queue_calendars, sla_policy
from crm_store.clock import Clock, system_clock
from crm_store.errors import StoreUnavailable
from crm_store.store import CrmStore
from desk.app import Desk, DeskHost, mount
from desk.config import DeskConfig
from desk.guard import TRUSTED_PROXIES
from nlu.http import parse_route

SETTINGS = web.AppKey("settings", Settings)
CRM = web.AppKey("crm", CrmStore)
REDIS = web.AppKey("redis", object)
NLU: web.AppKey[Interpreter] = web.AppKey("nlu")
DIALOGUE = web.AppKey("dialogue", Dialogue)
log = logging.getLogger(__name__)
HEALTH_TIMEOUT = 3.0  # seconds /healthz waits for the database before it says "unavailable"


def build_app(settings: Settings, *, clock: Clock = system_clock) -> web.Application:
    app = web.Application(
        client_max_size=settings.server.max_body_bytes, middlewares=[error_middleware]
    )
    app[SETTINGS] = settings

    async def crm_ctx(app: web.Application) -> AsyncIterator[None]:
        async with open_crm(settings, clock=clock, serving=True) as store:
            # config.yml is where the services and practitioners/rooms are kept: the record
            # follows it at every start (upserted by key; one taken out of config.yml stays in
            # the record for the appointments that name it)
            services, resources = await store.catalog.sync(
                settings.services, settings.resources, settings.business.timezone
            )
            log.info("catalog: %d services, %d practitioners/rooms", services, resources)
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

    async def nlu_ctx(app: web.Application) -> AsyncIterator[None]:
        async with open_interpreter(settings) as interpreter:  # no trained model: stops here
            app[NLU] = interpreter
            yield

    app.cleanup_ctx.append(nlu_ctx)

    async def dialogue_ctx(app: web.Application) -> AsyncIterator[None]:
        async with open_dialogue(
            settings, app[NLU], store=app[CRM], clock=clock, background=True
        ) as dialogue:
            app[DIALOGUE] = dialogue
            yield

    app.cleanup_ctx.append(dialogue_ctx)

    async def handle(message: InboundMessage) -> list[Reply]:
        return await app[DIALOGUE].engine.handle(message)

    if settings.channels.rest.enabled:
        secret = settings.channels.webchat.identity_secret
        app.router.add_routes(RestChannel(handle, secret, clock).routes())
    for channel in push_channels(settings, clock):
        app.router.add_routes(channel.routes())
        app.cleanup_ctx.append(_running(channel, clock))
        if isinstance(channel, HoldsConnections):  # else a stop waits for open sockets
            app.on_shutdown.append(_closing(channel))
    _mount_desk(app, settings, clock, before=dialogue_ctx)
    app.router.add_routes([parse_route(lambda request: request.app[NLU])])
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    return app


def _mount_desk(
    app: web.Application,
    settings: Settings,
    clock: Clock,
    *,
    before: Callable[[web.Application], AsyncIterator[None]],
) -> None:
    """The desk (agents' console, supervisors' dashboard, /metrics): routes now, its parts once
    the dialogue runs; its config from the `desk:` section (desk/ never imports the bot)."""
    desk = Desk(
        DeskConfig.build(
            settings.desk,
            business_name=settings.business.name,
            timezone=settings.business.tz,
            public_url=settings.server.public_url,
            calendars=queue_calendars(settings),
            sla_policies={name: sla_policy(p) for name, p in settings.sla_policies.items()},
        ),
        clock=clock,
    )

    async def timed_nlu_ctx(app: web.Application) -> AsyncIterator[None]:
        app[NLU] = desk.timed(app[NLU])  # parse times for GET /metrics
        yield

    app.cleanup_ctx.insert(app.cleanup_ctx.index(before), timed_nlu_ctx)

    def host(a: web.Application) -> DeskHost:
        dialogue = a[DIALOGUE]
        return DeskHost(dialogue.store, dialogue.routing, a.get(REDIS), dialogue.engine.slots)

    mount(app, desk, host)
    app[TRUSTED_PROXIES] = desk.config.trusted_proxies  # X-Forwarded-For from these only


def _closing(channel: HoldsConnections) -> Callable[[web.Application], Awaitable[None]]:
    async def close(_: web.Application) -> None:
        await channel.close_sockets()

    return close


def push_channels(settings: Settings, clock: Clock) -> list[Channel]:
    """The channels that run beside the dialogue, as config.yml switches them on."""
    channels: list[Channel] = []
    if settings.channels.telegram.enabled:  # imported here: only this channel needs `telegram`
        from bot.channels.telegram import TelegramChannel

        channels.append(
            TelegramChannel(
                settings.channels.telegram,
                public_url=settings.server.public_url,
                templates=templates_of(settings),
            )
        )
    if settings.channels.webchat.enabled:
        webchat = settings.channels.webchat
        business, templates = settings.business.name, templates_of(settings)
        channels.append(WebchatChannel(webchat, business=business, templates=templates))
    if settings.channels.voice.enabled:  # imported here: only this channel needs `twilio`
        from bot.channels.voice import VoiceChannel

        channels.append(VoiceChannel.from_settings(settings))
    return channels


def _running(channel: Channel, clock: Clock) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        dialogue = app[DIALOGUE]
        redis = cast("aioredis.Redis | None", app.get(REDIS))
        host = ChannelHost(
            dialogue.engine.handle,
            dialogue.live.outbound,
            dialogue.store,
            dialogue.routing,
            clock,
            redis,
        )
        async with channel.running(host):
            yield

    return ctx


async def index(request: web.Request) -> web.Response:
    name = html.escape(request.app[SETTINGS].business.name)
    body = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{name} · Frontdesk</title>"
        f"<h1>{name}</h1><p>Frontdesk is running.</p>"
        "<ul>"
        '<li><a href="/demo">/demo</a> - the demo website with the chat widget</li>'
        '<li><a href="/desk">/desk</a> - the agents’ console and the supervisors’ dashboard</li>'
        '<li><a href="/healthz">/healthz</a> - health of the database and Redis</li>'
        "</ul>"
    )
    return web.Response(text=body, content_type="text/html")


async def healthz(request: web.Request) -> web.Response:
    """200 when the database and Redis (if configured) each answer within HEALTH_TIMEOUT,
    else 503 naming the one that did not; both are asked at once."""
    database = _answers(request.app[CRM].database.ping(), (StoreUnavailable, TimeoutError))
    redis = None
    if REDIS in request.app:  # any failure of the live layer is "unavailable" to a probe
        redis = _answers(request.app[REDIS].ping(), (Exception,))  # type: ignore[attr-defined]
    found = await asyncio.gather(database, *([redis] if redis else []))
    checks = {"database": "ok" if found[0] else "unavailable"}
    if redis is None:
        checks["redis"] = "off (in-process memory)"
    else:
        checks["redis"] = "ok" if found[1] else "unavailable"
    if not all(found):
        return json_error(503, "unhealthy", **checks)
    return web.json_response({"status": "ok", **checks})


_PROBES: set[asyncio.Task[object]] = set()  # timed-out probes still being cancelled


async def _answers(probe: Awaitable[object], down: tuple[type[Exception], ...]) -> bool:
    """Whether `probe` succeeds within HEALTH_TIMEOUT (a `down` error: no). One still running
    then is cancelled without being waited for: cancelling a query on a hung database waits on
    the database too (measured: 2 s more), and the probe's point is to answer in time."""
    task = asyncio.ensure_future(probe)
    try:
        done, _ = await asyncio.wait({task}, timeout=HEALTH_TIMEOUT)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        _PROBES.add(task)
        task.add_done_callback(_forget)
        return False
    error = task.exception()
    if error is None:
        return True
    if isinstance(error, down):
        return False
    raise error


def _forget(task: asyncio.Task[object]) -> None:
    _PROBES.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a probe that failed late is not a bug to report
