"""The web chat across two servers: each a full dialogue (its own engine, outbound port and web
chat channel, as two `frontdesk run` processes would have) on one store and one Redis, so they
share conversation state and locks. A message stored by one server reaches the sockets held by
the other at once through the fan-out (Redis pub/sub), written once per socket; with the
in-process adapter it waits for the socket's next ping, as before.

Runs on both backends (the `store` fixture) and a real Redis (`redis_url`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.host import ChannelHost
from bot.channels.identity import sign
from bot.channels.webchat import WebchatChannel
from bot.channels.webchat.fanout import CHANNEL
from bot.config import Settings
from bot.config import WebchatChannel as WebchatSettings
from bot.config_loader import load_settings
from bot.dialogue.messages import Reply
from bot.dialogue_setup import Dialogue, load_knowledge, open_dialogue, templates_of
from crm_store.enums import Channel
from crm_store.store import CrmStore
from tests.dialogue_support import ROOT, RuleInterpreter
from tests.integration.test_webchat import SECRET, Socket, chat_settings, connect

Frame = dict[str, Any]
PROOF = {"user_id": "anna", "hash": sign("anna", SECRET)}


class Server:
    """One "process": its dialogue, its web chat channel on a test server, its Redis client."""

    def __init__(self, dialogue: Dialogue, client: TestClient, redis: aioredis.Redis | None):
        self.dialogue, self.client, self.redis = dialogue, client, redis

    async def socket(self) -> Socket:
        sock = await connect(self.client)
        await sock.hello(identity=PROOF)
        return sock

    async def agent_says(self, text: str) -> None:
        """An agent's reply through this server's outbound port (as the desk sends it)."""
        reply = Reply(f"Maria: {text}", custom={"author": "agent", "agent": "Maria"})
        await self.dialogue.live.outbound.send(Channel.WEB, "anna", [reply])


async def start_server(
    stack: AsyncExitStack,
    settings: Settings,
    store: CrmStore,
    redis_url: str | None,
    chat: WebchatSettings | None = None,
) -> Server:
    """One server on `store`, sharing the Redis of `redis_url` (None: memory, alone)."""
    knowledge = load_knowledge(settings)
    dialogue = await stack.enter_async_context(
        open_dialogue(
            settings, RuleInterpreter(), store=store, clock=store.clock, knowledge=knowledge
        )
    )
    redis = None
    if redis_url is not None:  # named, so that a test can cut this server's link alone
        name = f"fd-test-fanout-{secrets.token_hex(4)}"
        redis = aioredis.Redis.from_url(redis_url, client_name=name)
        stack.push_async_callback(redis.aclose)
    channel = WebchatChannel(
        chat or chat_settings(), business="Lindenhof Clinic", templates=templates_of(settings)
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
    return Server(dialogue, client, redis)


@pytest.fixture
async def servers(store: CrmStore, redis_url: str) -> AsyncIterator[tuple[Server, Server]]:
    """Two servers on one store and one Redis (the Redis fan-out)."""
    settings = load_settings(
        ROOT / "config.yml",
        {"FRONTDESK_DATABASE_URL": "sqlite+aiosqlite://", "FRONTDESK_REDIS_URL": redis_url},
    )
    async with AsyncExitStack() as stack:
        first = await start_server(stack, settings, store, redis_url)
        second = await start_server(stack, settings, store, redis_url)
        yield first, second


@pytest.fixture
async def memory_servers(store: CrmStore) -> AsyncIterator[tuple[Server, Server]]:
    settings = load_settings(ROOT / "config.yml", {"FRONTDESK_DATABASE_URL": "sqlite+aiosqlite://"})
    async with AsyncExitStack() as stack:
        first = await start_server(stack, settings, store, None)
        second = await start_server(stack, settings, store, None)
        yield first, second


async def quiet(sock: Socket, within: float) -> list[Frame]:
    """Every frame that arrives within `within` seconds."""
    frames: list[Frame] = []
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = await sock.ws.receive(timeout=left)
        except TimeoutError:
            break
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        frames.append(json.loads(msg.data))
    return frames


async def started_conversation(server: Server) -> Socket:
    """Anna's conversation begun on `server` (an agent's words go to a widget once it was used)."""
    sock = await server.socket()
    await sock.say("hello-000001", "hello")
    return sock


async def seqs_after_a_full_ping(sock: Socket) -> list[Frame]:
    """A ping asking for everything: the socket sends only what it never sent, then pong."""
    await sock.send(type="ping", last_seq=0)
    return await sock.until(lambda f: f["type"] == "pong")


# -- Redis pub/sub --------------------------------------------------------------------------------


async def test_an_agent_message_sent_on_one_server_reaches_a_socket_on_the_other_at_once(
    servers: tuple[Server, Server], store: CrmStore
) -> None:
    a, b = servers
    on_b = await started_conversation(b)
    on_a = await a.socket()  # a second tab, held by the server that sends
    started = time.monotonic()
    await a.agent_says("Hello Anna, Maria here.")
    (shown,) = await on_b.until(lambda f: f["type"] == "message")
    assert time.monotonic() - started < 1.0
    assert (shown["author"], shown["agent"]) == ("agent", "Maria")
    assert shown["seq"] == await store.webchat.last_seq("web:anna")
    assert [f["seq"] for f in await quiet(on_a, 0.3)] == [shown["seq"]]
    assert await quiet(on_b, 0.3) == []  # not twice (the fan-out, then this server's push)
    assert await seqs_after_a_full_ping(on_b) == [{"type": "pong"}]
    assert await seqs_after_a_full_ping(on_a) == [{"type": "pong"}]


async def test_a_customer_message_typed_on_one_server_shows_in_a_tab_on_the_other(
    servers: tuple[Server, Server],
) -> None:
    a, b = servers
    on_a, on_b = await a.socket(), await b.socket()
    said = await on_a.say("typed-000001", "hello")
    seqs = sorted(f["seq"] for f in said if f["type"] == "message")
    shown = await on_b.until(lambda f: f["type"] == "message" and f["seq"] == seqs[-1])
    assert [f["seq"] for f in shown if f["type"] == "message"] == seqs  # in order, each once
    assert shown[0]["key"] == "typed-000001"
    assert await quiet(on_b, 0.3) == []
    assert await seqs_after_a_full_ping(on_b) == [{"type": "pong"}]


async def test_many_messages_from_both_servers_reach_every_socket_once(
    servers: tuple[Server, Server], store: CrmStore
) -> None:
    """Writers on two servers at once: a socket may get them out of order (the widget shows by
    seq), never one twice or one missing."""
    a, b = servers
    tabs = [await started_conversation(a), await b.socket(), await b.socket()]
    first = await store.webchat.last_seq("web:anna") + 1
    await asyncio.gather(*(server.agent_says(f"note {i}") for i in range(5) for server in (a, b)))
    last = await store.webchat.last_seq("web:anna")
    assert last == first + 9
    for tab in tabs:
        seqs = [f["seq"] for f in await seen_until(tab, set(range(first, last + 1)))]
        assert sorted(seqs) == list(range(first, last + 1))
        assert await seqs_after_a_full_ping(tab) == [{"type": "pong"}]


async def seen_until(sock: Socket, wanted: set[int]) -> list[Frame]:
    """Message frames until every number in `wanted` was seen."""
    frames: list[Frame] = []
    while not wanted <= {f["seq"] for f in frames}:
        frame = await sock.frame()
        if frame["type"] == "message":
            frames.append(frame)
    return frames


async def test_a_lost_redis_link_is_logged_once_resubscribed_and_caught_up(
    servers: tuple[Server, Server], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = servers
    on_b = await started_conversation(b)
    assert b.redis is not None
    caplog.set_level(logging.INFO, logger="bot.channels.webchat.fanout")
    for _ in range(2):  # cut twice: each loss is logged once, each return once
        await cut_subscriber(b.redis)
        await a.agent_says("said while the link was down")
        (shown,) = await on_b.until(lambda f: f["type"] == "message")
        assert shown["author"] == "agent"
        await a.agent_says("said once it was back")  # live again, not only the catch-up
        (live,) = await on_b.until(lambda f: f["type"] == "message")
        assert live["seq"] == shown["seq"] + 1
    lost = [r for r in caplog.records if "lost Redis" in r.getMessage()]
    back = [r for r in caplog.records if "subscribed again" in r.getMessage()]
    assert (len(lost), len(back)) == (2, 2)
    assert await seqs_after_a_full_ping(on_b) == [{"type": "pong"}]


async def cut_subscriber(client: aioredis.Redis) -> None:
    """Kill this server's subscribing connection on the Redis server (as a restart would)."""
    name = await client.client_getname()
    subscribers = [
        c for c in await client.client_list() if c["name"] == name and int(c.get("sub", 0)) > 0
    ]
    assert len(subscribers) == 1, subscribers
    await client.client_kill_filter(_id=subscribers[0]["id"])


async def test_announcements_from_elsewhere_are_harmless(
    servers: tuple[Server, Server], store: CrmStore
) -> None:
    """A malformed or stale announcement on the channel moves nothing and doubles nothing."""
    a, b = servers
    on_b = await started_conversation(b)
    assert a.redis is not None
    await a.redis.publish(CHANNEL, "not json")
    last = await store.webchat.last_seq("web:anna")
    await a.redis.publish(CHANNEL, json.dumps({"c": "web:anna", "s": last, "o": "x"}))
    assert await quiet(on_b, 0.3) == []
    await a.agent_says("still live")
    assert [f["seq"] for f in await quiet(on_b, 0.5)] == [last + 1]


# -- in-process: today's behaviour ----------------------------------------------------------------


async def test_in_process_the_other_server_shows_it_at_the_next_ping(
    memory_servers: tuple[Server, Server], store: CrmStore
) -> None:
    a, b = memory_servers
    on_b = await started_conversation(b)
    shown_seq = await store.webchat.last_seq("web:anna")
    await a.agent_says("Hello Anna, Maria here.")
    assert await quiet(on_b, 0.5) == []  # nobody tells server B
    await on_b.send(type="ping", last_seq=shown_seq)
    frames = await on_b.until(lambda f: f["type"] == "pong")
    assert [(f["type"], f.get("author")) for f in frames] == [("message", "agent"), ("pong", None)]
    assert await seqs_after_a_full_ping(on_b) == [{"type": "pong"}]
