"""One phone call whose webhooks alternate between two instances sharing one Redis.

Each instance is a whole bot of its own (its dialogue, routing and phone channel, each with its
own Redis client) over one CRM store, as two `frontdesk run` processes behind a load balancer
would be. The fake Twilio sends every request of the call (Redirects too) to the instance whose
turn it is, so what one instance learnt about the call (the question asked, the silences
counted, the choices offered, the idempotent answers, the status callbacks seen) must reach the
other through Redis: with per-process call state each step below goes wrong.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.host import ChannelHost
from bot.channels.voice import VoiceChannel
from bot.config import Settings
from bot.dialogue.knowledge import KnowledgeBase
from bot.dialogue_setup import Dialogue, load_knowledge, open_dialogue, templates_of
from crm_store.enums import Channel
from crm_store.store import CrmStore
from routing.events import EventKind
from tests.conftest import FakeClock
from tests.dialogue_support import RuleInterpreter, demo_settings
from tests.fakes.twilio_peer import TwilioPeer
from tests.integration.test_voice import ANNA, PUBLIC, TOKEN, add_anna, with_voice

pytestmark = pytest.mark.redis


@dataclass
class Alternating:
    """Stands in for the fake Twilio's HTTP client: request N goes to instance N % 2."""

    clients: list[TestClient]
    served: list[tuple[int, str]] = field(default_factory=list)  # (instance, path)

    async def post(self, path: str, **kwargs: Any) -> Any:
        instance = len(self.served) % len(self.clients)
        self.served.append((instance, path.partition("?")[0]))
        return await self.clients[instance].post(path, **kwargs)


@dataclass
class Fleet:
    peer: TwilioPeer
    front: Alternating
    bots: list[Dialogue]
    store: CrmStore


def fleet_settings(redis_url: str) -> Settings:
    settings = with_voice(demo_settings("sqlite+aiosqlite://"), max_hold="10m")
    stores = settings.stores.model_copy(update={"redis_url": redis_url})
    routing = settings.routing.model_copy(update={"push_offers": False})
    return settings.model_copy(update={"stores": stores, "routing": routing})


@asynccontextmanager
async def instance(
    settings: Settings, store: CrmStore, clock: FakeClock, knowledge: KnowledgeBase
) -> AsyncIterator[tuple[TestClient, Dialogue]]:
    """One bot: its own dialogue (Redis state, locks, dedupe), Redis client and phone line."""
    assert settings.stores.redis_url is not None
    client = aioredis.Redis.from_url(settings.stores.redis_url)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(client.aclose)
        bot = await stack.enter_async_context(
            open_dialogue(
                settings, RuleInterpreter(), store=store, clock=clock, knowledge=knowledge
            )
        )
        channel = VoiceChannel(
            settings.channels.voice,
            public_url=PUBLIC,
            business=settings.business.name,
            region=settings.business.default_region,
            templates=templates_of(settings),
        )
        app = web.Application()
        app.add_routes(channel.routes())
        host = ChannelHost(
            bot.engine.handle, bot.live.outbound, bot.store, bot.routing, clock, client
        )
        await stack.enter_async_context(channel.running(host))
        server = TestClient(TestServer(app))
        await server.start_server()
        stack.push_async_callback(server.close)
        yield server, bot


@pytest.fixture
async def fleet(store: CrmStore, clock: FakeClock, redis_url: str) -> AsyncIterator[Fleet]:
    settings = fleet_settings(redis_url)
    await store.catalog.sync(settings.services, settings.resources, settings.business.timezone)
    knowledge = load_knowledge(settings)
    async with (
        instance(settings, store, clock, knowledge) as (one, bot_one),
        instance(settings, store, clock, knowledge) as (two, bot_two),
    ):
        front = Alternating([one, two])
        peer = TwilioPeer(one, public_url=PUBLIC, auth_token=TOKEN)
        peer.client = front  # type: ignore[assignment]
        yield Fleet(peer, front, [bot_one, bot_two], store)


async def test_a_call_goes_on_whichever_instance_takes_each_webhook(fleet: Fleet) -> None:
    await add_anna(fleet.store)
    call = fleet.peer.call(ANNA)

    heard = await call.start()  # instance 0 greets and asks
    assert "Hello Anna, welcome back to Lindenhof Clinic" in heard.text
    greeting = heard.said

    heard = await call.silence()  # instance 1: the question instance 0 asked, asked again
    assert heard.said == ["Sorry, I didn't hear anything.", *greeting]

    heard = await call.silence()  # instance 0: the second silence (counted on instance 1 too)
    assert heard.said == [
        "Sorry, I still can't hear you.",
        "Say or press 1 for Talk to a person.",
    ]

    heard = await call.press("1")  # instance 1: key 1 picks the choice instance 0 offered
    assert "passed this to our team" in heard.text
    assert heard.gather is not None and "/voice/hold" in heard.gather.action
    asked = fleet.peer.sent[-1]
    again = await fleet.peer.resend(asked)  # the provider's retry, taken by instance 0
    assert again.status == 200 and again.body == heard.documents[0]

    heard = await call.press("1")  # on hold, instance 1: call me back
    assert "call you back on this number" in heard.text and heard.hung_up

    for sequence in (3, 3):  # the end of the call, reported to both instances
        assert (await call.status("completed", sequence=sequence, duration=50)).status == 200

    assert {n for n, _ in fleet.front.served} == {0, 1}
    served = [n for n, _ in fleet.front.served]
    assert served == [i % 2 for i in range(len(served))]
    anna = await fleet.store.customers.find_by_identity(Channel.PHONE, ANNA)
    assert anna is not None
    view = await fleet.store.views.view(anna.id)
    ends = [i.text for i in view.recent_interactions if (i.text or "").startswith("Phone call")]
    assert ends == ["Phone call completed, 50 s"]  # recorded once
    routing = fleet.bots[0].routing
    (ticket,) = await routing.store.tickets(conversation_id=f"phone:{ANNA}")
    asked_back = [
        event.data.get("text")
        for event in await routing.events(ticket.id)
        if event.kind is EventKind.CUSTOMER_MESSAGE and "call back" in str(event.data.get("text"))
    ]
    assert asked_back == [f"call back {ANNA}"]  # once, and the ticket stays open for it
