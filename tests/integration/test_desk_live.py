"""Live events over server-sent events, fed by routing's desk bus, on the memory layer and on a
real Redis (where the sessions live too): each desk hears only what it may see."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from crm_store.store import CrmStore
from desk.keys import PREFIX
from desk.sessions import MemorySessionStore, RedisSessionStore
from tests.conftest import FakeClock
from tests.contract.routing_fixture import live_url_fixture, sqlite_crm_fixture  # noqa: F401
from tests.dialogue_support import demo_settings
from tests.e2e.desk_support import DeskUser, DeskWorld, desk_world

BEAT = timedelta(milliseconds=200)


@pytest.fixture
async def world(
    live_url: str | None, sqlite_crm: CrmStore, clock: FakeClock
) -> AsyncIterator[DeskWorld]:
    settings = demo_settings("sqlite+aiosqlite:///unused.db")
    if live_url is None:
        async with desk_world(sqlite_crm, settings, clock, live_heartbeat=BEAT) as world:
            yield world
        return
    url = live_url
    stores = settings.stores.model_copy(update={"redis_url": url})
    settings = settings.model_copy(update={"stores": stores})
    client = aioredis.Redis.from_url(url)
    try:
        async with desk_world(
            sqlite_crm, settings, clock, redis=client, live_heartbeat=BEAT
        ) as world:
            yield world
    finally:
        await client.aclose()


class Stream:
    """An open event stream, read message by message."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self) -> tuple[str, dict[str, Any]]:
        """The next named event (comments and the retry hint skipped), within 5 s."""
        name, data = "message", ""
        async with asyncio.timeout(5):
            while True:
                line = (await self.response.content.readline()).decode()
                if not line:
                    return "closed", {}
                line = line.rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and data:
                    return name, json.loads(data)

    async def tickets(self, count: int) -> list[tuple[int, str]]:
        found = []
        while len(found) < count:
            name, data = await self.next()
            if name == "ticket":
                found.append((data["ticket_id"], data["kind"]))
        return found


async def open_stream(user: DeskUser) -> Stream:
    response = await user.get("/desk/api/events")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    stream = Stream(response)
    assert (await stream.next())[0] == "hello"
    return stream


async def test_each_desk_hears_what_it_may_see(world: DeskWorld) -> None:
    ann, sue = await world.user("ann"), await world.user("sue")
    ann_stream, sue_stream = await open_stream(ann), await open_stream(sue)
    other = await world.ticket(await world.customer(), "appointments")
    mine = await world.ticket(await world.customer(), "billing")
    assert await ann_stream.tickets(1) == [(mine.id, "created")]
    assert await sue_stream.tickets(2) == [(other.id, "created"), (mine.id, "created")]
    await world.routing.transfer(other.id, actor="system", to_agent=world.staff["ann"])
    assert await ann_stream.tickets(2) == [(other.id, "transferred"), (other.id, "assigned")]


async def test_the_stream_ends_when_the_session_does(world: DeskWorld) -> None:
    ann = await world.user("ann")
    stream = await open_stream(ann)
    assert (await ann.post("/desk/api/logout")).status == 200
    assert (await stream.next())[0] == "signed_out"
    assert (await stream.next())[0] == "closed"


async def test_shutting_down_closes_open_streams(world: DeskWorld) -> None:
    stream = await open_stream(await world.user("sue"))
    world.desk.live.stop()
    assert (await stream.next())[0] == "closed"


async def test_sessions_are_in_redis_when_it_is_configured(
    world: DeskWorld, live_url: str | None
) -> None:
    sessions = world.desk.runtime.parts.sessions
    if live_url is None:
        assert isinstance(sessions, MemorySessionStore)
        return
    assert isinstance(sessions, RedisSessionStore)
    await world.user("ann")
    client = aioredis.Redis.from_url(live_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{PREFIX}session:*")]
        assert len(keys) == 1
        assert 0 < await client.ttl(keys[0]) <= 8 * 3600
    finally:
        await client.aclose()
