"""Two Telegram webhook instances sharing one Redis: what one took or sent, the other knows.

Each instance is a whole bot of its own (its dialogue with Redis state, its PTB Application,
its own Redis client) over one CRM store and one fake Bot API, as two `frontdesk run`
processes behind a load balancer would be. Telegram redelivers an update it got no 2xx for,
and the load balancer may hand the redelivery to the other instance; a button's long payload
is kept by the instance that sent the message, and the tap may reach the other.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.host import ChannelHost
from bot.channels.telegram import TelegramChannel
from bot.config import Settings
from bot.dialogue.messages import Button, Reply
from bot.dialogue_setup import open_dialogue, templates_of
from crm_store.enums import Channel
from crm_store.store import CrmStore
from tests.dialogue_support import RuleInterpreter
from tests.fakes.telegram_api import FakeBotApi, callback_update, text_update
from tests.integration.test_telegram import (
    KNOWLEDGE,
    PUBLIC_URL,
    SETTINGS,
    TOKEN,
    USER,
    Harness,
    telegram_settings,
)

pytestmark = pytest.mark.redis
ids = itertools.count(50_000)


def with_redis(redis_url: str) -> Settings:
    stores = SETTINGS.stores.model_copy(update={"redis_url": redis_url})
    return SETTINGS.model_copy(update={"stores": stores})


@asynccontextmanager
async def instance(settings: Settings, store: CrmStore, api: FakeBotApi) -> AsyncIterator[Harness]:
    assert settings.stores.redis_url is not None
    client = aioredis.Redis.from_url(settings.stores.redis_url)
    channel = TelegramChannel(
        telegram_settings(api), public_url=PUBLIC_URL, templates=templates_of(settings)
    )
    async with AsyncExitStack() as stack:
        stack.push_async_callback(client.aclose)
        bot = await stack.enter_async_context(
            open_dialogue(
                settings, RuleInterpreter(), store=store, clock=store.clock, knowledge=KNOWLEDGE
            )
        )
        host = ChannelHost(
            bot.engine.handle, bot.live.outbound, bot.store, bot.routing, store.clock, client
        )
        app = web.Application()
        app.add_routes(channel.routes())
        await stack.enter_async_context(channel.running(host))
        server = TestClient(TestServer(app))
        await server.start_server()
        stack.push_async_callback(server.close)
        yield Harness(server, api, bot, channel)


@pytest.fixture
async def pair(store: CrmStore, redis_url: str) -> AsyncIterator[tuple[Harness, Harness]]:
    settings = with_redis(redis_url)
    async with (
        FakeBotApi(TOKEN) as api,
        instance(settings, store, api) as one,
        instance(settings, store, api) as two,
    ):
        yield one, two


async def test_an_update_redelivered_to_the_other_instance_is_handled_once(
    pair: tuple[Harness, Harness],
) -> None:
    one, two = pair
    update = text_update(next(ids), "/start", user_id=USER)
    (greeting,) = await one.send(update)
    assert "Lindenhof Clinic" in greeting.plain
    assert await two.send(update) == []  # 200, and nothing said twice
    assert await one.send(update) == []
    customer = await one.store.customers.find_by_identity(Channel.TELEGRAM, str(USER))
    assert customer is not None
    view = await one.store.views.view(customer.id)
    assert [i.text for i in view.recent_interactions].count("/greet") == 1
    (thanks,) = await two.say("thanks a lot")  # the next update is new on either instance
    assert thanks.plain == "You're welcome!"


async def test_a_long_button_payload_sent_by_one_instance_resolves_on_the_other(
    pair: tuple[Harness, Harness],
) -> None:
    one, two = pair
    payload = '/help{"note": "' + "x" * 80 + '"}'
    button = Reply("Pick one", buttons=(Button("Help", payload),))
    await one.dialogue.live.outbound.send(Channel.TELEGRAM, str(USER), [button])
    (offer,) = one.api.sent_to(USER)
    (key,) = offer.callback_data
    assert key.startswith("#") and len(key.encode()) <= 64

    (reply,) = await two.send(callback_update(next(ids), key, user_id=USER))

    assert "I can book" in reply.plain
    (answer,) = two.api.calls_of("answerCallbackQuery")
    assert "text" not in answer.params or "expired" not in answer.params["text"]
