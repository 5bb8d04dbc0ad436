"""The Telegram channel's shared state, one suite over both adapters: update claims and long
button payloads in this process's memory and in a real Redis (keys under fd:tg:<bot>:, all with
a TTL). "Two processes" are two adapter objects: the same one in memory, two clients of one
Redis."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
import redis.asyncio as aioredis

from bot.channels.telegram import redis_keys
from bot.channels.telegram.live_state import (
    MAX_ITEMS,
    CallbackStore,
    MemorySendSlots,
    RedisCallbacks,
    RedisUpdateClaims,
    UpdateClaims,
    live_state,
)
from bot.channels.telegram.render import callback_data
from bot.channels.telegram.sender import Pacer
from tests.contract.routing_fixture import (  # noqa: F401
    Clients,
    clients_fixture,
    live_url_fixture,
)

BOT = "123456"
LONG = '/choose_slot{"start": "2026-11-24T09:00:00+00:00", "resource": "priya-nair", "n": 1}'
LONG_DIGEST = callback_data(LONG).removeprefix("#").encode()
DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def pair(clients: Clients) -> list[tuple[UpdateClaims, CallbackStore]]:
    """Two processes' claims and callback stores, as the channel builds them."""
    one = live_state(clients[0], BOT)[:2]
    return [one, one] if clients[0] is None else [one, live_state(clients[1], BOT)[:2]]


async def test_an_update_is_taken_once_whichever_process_sees_it(
    pair: list[tuple[UpdateClaims, CallbackStore]],
) -> None:
    (a, _), (b, _) = pair
    assert await a.claim(1001)
    assert not await b.claim(1001) and not await a.claim(1001)
    assert await b.claim(1002)  # another update


async def test_a_released_update_can_be_taken_again(
    pair: list[tuple[UpdateClaims, CallbackStore]],
) -> None:
    (a, _), (b, _) = pair
    assert await a.claim(7)
    await a.release(7)
    assert await b.claim(7)
    await a.release(99)  # never taken: nothing happens


async def test_racing_processes_take_an_update_exactly_once(
    pair: list[tuple[UpdateClaims, CallbackStore]],
) -> None:
    (a, _), (b, _) = pair
    taken = await asyncio.gather(*(claims.claim(5) for claims in (a, b) * 10))
    assert taken.count(True) == 1


async def test_a_long_payload_kept_by_one_process_is_found_by_the_other(
    pair: list[tuple[UpdateClaims, CallbackStore]],
) -> None:
    (_, a), (_, b) = pair
    key = callback_data(LONG)
    assert key != LONG and len(key.encode()) <= 64
    assert await b.payload(key) is None  # not kept yet: expired, never guessed
    await a.keep({key: LONG})
    assert await b.payload(key) == LONG
    assert await b.payload("/help") == "/help"  # short payloads travel as themselves
    await a.keep({})


async def test_every_redis_key_has_its_ttl(
    live_url: str | None, pair: list[tuple[UpdateClaims, CallbackStore]]
) -> None:
    (claims, callbacks), _ = pair
    await claims.claim(1001)
    await callbacks.keep({callback_data(LONG): LONG})
    if live_url is None:
        return
    client = aioredis.Redis.from_url(live_url)
    try:
        found = {key async for key in client.scan_iter(match=f"{redis_keys.PREFIX}*")}
        update, button = b"fd:tg:123456:update:1001", b"fd:tg:123456:button:" + LONG_DIGEST
        assert found == {update, button}
        assert DAY_MS - 60_000 < await client.pttl(update) <= DAY_MS
        assert 29 * DAY_MS < await client.pttl(button) <= 30 * DAY_MS
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_redis_claims_are_per_bot_and_released_only_by_their_taker(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        mine, theirs = RedisUpdateClaims(client, BOT), RedisUpdateClaims(client, BOT)
        assert await mine.claim(1)
        await theirs.release(1)  # not theirs to give back
        assert not await theirs.claim(1)
        assert await RedisUpdateClaims(client, "654321").claim(1)  # another bot's update 1
        await RedisCallbacks(client, BOT).keep({callback_data(LONG): LONG})
        assert await RedisCallbacks(client, "654321").payload(callback_data(LONG)) is None
    finally:
        await client.aclose()


async def test_two_processes_share_one_send_rate(clients: Clients) -> None:
    """Two processes' pacers, 8 sends each to their own chats at once, at 50 a second for the
    bot: with Redis the 16 sends take the whole bot's schedule (>= 15 gaps); each process
    pacing alone (memory) would fit them in half the time, which is what it measures there."""
    gap = 0.02
    pacers = [Pacer(0.0, 1 / gap, shared=live_state(client, BOT)[2]) for client in clients]
    stamps: list[float] = []

    async def send(pacer: Pacer, chat: int) -> None:
        async with pacer.slot(chat):
            stamps.append(time.monotonic())

    await asyncio.gather(*(send(p, n * 10 + i) for n, p in enumerate(pacers) for i in range(8)))
    spread = max(stamps) - min(stamps)
    if clients[0] is None:
        assert spread < 12 * gap  # two schedules side by side: about 7 gaps
    else:
        assert spread >= 15 * gap * 0.95


async def test_two_processes_keep_one_chats_interval(clients: Clients) -> None:
    """An agent's message from one process and the bot's replies from another, to one chat:
    with Redis their sends start at least the chat's interval apart; each process pacing alone
    (memory) sends its first message at once, side by side."""
    interval = 0.05
    slots = [live_state(client, BOT)[2] for client in clients]
    pacers = [Pacer(interval, 1000, shared=shared) for shared in slots]
    stamps: list[float] = []

    async def send(pacer: Pacer) -> None:
        async with pacer.slot(77):
            stamps.append(time.monotonic())

    await asyncio.gather(*(send(p) for p in pacers for _ in range(3)))
    stamps.sort()
    closest = min(b - a for a, b in itertools.pairwise(stamps))
    if clients[0] is None:
        assert closest < interval / 2
    else:
        assert closest >= interval * 0.95, stamps


async def test_a_retry_after_in_one_process_holds_the_chat_in_the_other(redis_url: str) -> None:
    made = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    try:
        first, second = (Pacer(0.0, 1000, shared=live_state(c, BOT)[2]) for c in made)
        await first.hold(88, 0.3)
        started = time.monotonic()
        async with second.slot(88):
            waited = time.monotonic() - started
        async with second.slot(89):  # another chat is not held
            other = time.monotonic() - started - waited
    finally:
        for client in made:
            await client.aclose()
    assert waited >= 0.25 and other < 0.1, (waited, other)


async def test_memory_send_slots_forget_chats_whose_slot_is_past() -> None:
    now = [0.0]
    slots = MemorySendSlots(lambda: now[0])
    for chat in range(MAX_ITEMS + 1):
        assert await slots.reserve(1.0, chat) == 0.0
    assert await slots.reserve(1.0, 5) == 1.0  # still pending: kept
    now[0] = 10.0
    assert await slots.reserve(1.0, 7) == 0.0
    assert len(slots._next) == 1
