"""The web chat's rate limit across two instances sharing one Redis: a visitor who reconnects and
lands on the other instance (or keeps a tab on each) still has one bucket.

Each instance is a whole bot (its dialogue with Redis state, its web chat channel, its own Redis
client) over one CRM store, as two `frontdesk run` processes behind a load balancer would be.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.host import ChannelHost
from bot.channels.identity import sign
from bot.channels.webchat import WebchatChannel
from bot.config import Settings
from bot.config_loader import load_settings
from bot.dialogue_setup import load_knowledge, open_dialogue, templates_of
from crm_store.store import CrmStore
from tests.dialogue_support import ROOT, RuleInterpreter
from tests.integration.test_webchat import SECRET, Socket, chat_settings, connect

pytestmark = pytest.mark.redis
PROOF = {"user_id": "anna", "hash": sign("anna", SECRET)}
LIMIT = 3


async def start(stack: AsyncExitStack, settings: Settings, store: CrmStore) -> TestClient:
    assert settings.stores.redis_url is not None
    redis = aioredis.Redis.from_url(settings.stores.redis_url)
    stack.push_async_callback(redis.aclose)
    dialogue = await stack.enter_async_context(
        open_dialogue(
            settings,
            RuleInterpreter(),
            store=store,
            clock=store.clock,
            knowledge=load_knowledge(settings),
        )
    )
    channel = WebchatChannel(
        chat_settings(rate_limit_messages=LIMIT, rate_limit_period=timedelta(hours=1)),
        business="Lindenhof Clinic",
        templates=templates_of(settings),
    )
    host = ChannelHost(
        dialogue.engine.handle,
        dialogue.live.outbound,
        dialogue.store,
        dialogue.routing,
        store.clock,
        redis,
    )

    async def running(app: web.Application) -> AsyncIterator[None]:
        async with channel.running(host):
            yield

    app = web.Application()
    app.add_routes(channel.routes())
    app.cleanup_ctx.append(running)
    client = TestClient(TestServer(app))
    await client.start_server()
    stack.push_async_callback(client.close)
    return client


@pytest.fixture
async def instances(store: CrmStore, redis_url: str) -> AsyncIterator[tuple[TestClient, ...]]:
    settings = load_settings(
        ROOT / "config.yml",
        {"FRONTDESK_DATABASE_URL": "sqlite+aiosqlite://", "FRONTDESK_REDIS_URL": redis_url},
    )
    async with AsyncExitStack() as stack:
        yield await start(stack, settings, store), await start(stack, settings, store)


async def anna(client: TestClient) -> Socket:
    sock = await connect(client)
    await sock.hello(identity=PROOF)
    return sock


async def test_reconnecting_to_another_instance_does_not_refill_the_bucket(
    instances: tuple[TestClient, ...],
) -> None:
    one, two = instances
    first = await anna(one)
    for i in range(LIMIT - 1):
        assert (await first.say(f"rate-a-00000{i}", "thanks"))[-1]["type"] == "ack"
    await first.ws.close()

    again = await anna(two)  # the widget reconnects; the balancer picks the other instance
    assert (await again.say("rate-b-000000", "thanks"))[-1]["type"] == "ack"
    (refused,) = await again.say("rate-b-000001", "thanks")
    assert refused["code"] == "rate_limited"

    tab = await anna(one)  # a tab on each instance: still one bucket
    (refused,) = await tab.say("rate-c-000000", "thanks")
    assert refused["code"] == "rate_limited"
