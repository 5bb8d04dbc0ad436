"""Where the admission bound remembers when each message it turned away first arrived: this
process's memory, or Redis for every instance. One contract, then what Redis adds: a retry that
reaches another instance keeps its place in line there."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.dialogue.admission import Overloaded, TurnSlots
from bot.dialogue.turned_away import RETRY_MEMORY, LocalTurnedAway, RedisTurnedAway, TurnedAway


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def away(request: pytest.FixtureRequest) -> TurnedAway:
    if request.param == "memory":
        return LocalTurnedAway()
    return RedisTurnedAway(request.getfixturevalue("client"))


async def test_an_arrival_is_remembered_until_asked_once(away: TurnedAway) -> None:
    first = time.time() - 3.5
    assert await away.first_arrival("rest:m1") is None
    await away.remember("rest:m1", first)
    assert await away.first_arrival("rest:m2") is None
    assert await away.first_arrival("rest:m1") == first  # to the microsecond
    assert await away.first_arrival("rest:m1") is None


async def test_redis_keeps_an_arrival_for_the_retry_memory_only(client: aioredis.Redis) -> None:
    await RedisTurnedAway(client).remember("web:k1", time.time())
    ttl = await client.ttl("fd:away:web:k1")
    assert RETRY_MEMORY - 5 < ttl <= RETRY_MEMORY


async def test_a_redis_that_fails_remembers_nothing_and_fails_no_turn() -> None:
    gone = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    away = RedisTurnedAway(gone)
    await away.remember("rest:m1", time.time())
    assert await away.first_arrival("rest:m1") is None
    await gone.aclose()


async def test_a_retry_on_another_instance_goes_ahead_of_that_instances_later_messages(
    client: aioredis.Redis,
) -> None:
    """Instance A turns a message away; its retry reaches instance B, where a message that
    arrived after it is already waiting: the retry is served first."""
    a = TurnSlots(limit=1, wait=0.1, turned_away=RedisTurnedAway(client))
    b = TurnSlots(limit=1, wait=2.0, turned_away=RedisTurnedAway(client))
    leave = asyncio.Event()

    async def hold(slots: TurnSlots, entered: asyncio.Event) -> None:
        async with slots.take():
            entered.set()
            await leave.wait()

    held = [asyncio.Event(), asyncio.Event()]
    holders = [asyncio.create_task(hold(s, e)) for s, e in zip((a, b), held, strict=True)]
    await asyncio.gather(*(e.wait() for e in held))
    order: list[str] = []

    async def turn(slots: TurnSlots, name: str, message: str) -> None:
        async with slots.take(message):
            order.append(name)

    with pytest.raises(Overloaded):
        await turn(a, "early", "rest:early")  # "busy" on A
    later = asyncio.create_task(turn(b, "later", "rest:later"))  # newer, waiting on B
    await asyncio.sleep(0.05)
    again = asyncio.create_task(turn(b, "early, again", "rest:early"))  # the retry, on B
    await asyncio.sleep(0.05)
    leave.set()
    await asyncio.gather(*holders, later, again)
    assert order == ["early, again", "later"]
    assert await client.exists("fd:away:rest:early") == 0  # admitted: forgotten
