"""The web chat's rate limit, one suite over both adapters: token buckets in this process's
memory and in a real Redis (one Lua script, keys fd:webchat:rate:<conversation> with a TTL of
one period). "Two processes" are two limiter objects: the same one in memory, two clients of one
Redis. Refill is only checked after more than enough time has passed (never "not yet")."""

from __future__ import annotations

import asyncio

from bot.channels.webchat import redis_keys
from bot.channels.webchat.limiter import RateLimiter, rate_limiter
from tests.contract.routing_fixture import (  # noqa: F401
    Clients,
    clients_fixture,
    live_url_fixture,
)

CID = "web:anon-visitor-1"


def limiters(clients: Clients, capacity: int, period: float) -> list[RateLimiter]:
    if clients[0] is None:
        shared = rate_limiter(None, capacity, period)
        return [shared, shared]
    return [rate_limiter(client, capacity, period) for client in clients]


async def test_a_conversation_gets_its_capacity_then_is_refused(
    clients: Clients,
) -> None:
    one, two = limiters(clients, capacity=3, period=3600)
    assert [await one.allow(CID) for _ in range(3)] == [True] * 3
    assert not await one.allow(CID)
    assert not await two.allow(CID)  # the other process knows: the bucket is the conversation's
    assert await two.allow("web:anon-visitor-2")  # another conversation has its own


async def test_the_bucket_shares_its_tokens_between_processes(
    clients: Clients,
) -> None:
    one, two = limiters(clients, capacity=4, period=3600)
    assert await one.allow(CID) and await two.allow(CID)
    assert await one.allow(CID) and await two.allow(CID)
    assert not await one.allow(CID) and not await two.allow(CID)


async def test_racing_messages_never_exceed_the_capacity(
    clients: Clients,
) -> None:
    one, two = limiters(clients, capacity=5, period=3600)
    allowed = await asyncio.gather(*(limiter.allow(CID) for limiter in (one, two) * 15))
    assert allowed.count(True) == 5


async def test_the_bucket_refills_over_its_period(clients: Clients) -> None:
    one, two = limiters(clients, capacity=2, period=0.2)
    taken = 0
    while await one.allow(CID):  # empty the bucket (a slow machine may see a refill meanwhile)
        taken += 1
        assert taken < 50
    assert taken >= 2
    await asyncio.sleep(0.5)  # more than a whole period: full again
    assert await two.allow(CID) and await one.allow(CID)


async def test_a_bucket_key_lives_one_period(live_url: str | None, clients: Clients) -> None:
    one, _ = limiters(clients, capacity=2, period=60)
    assert await one.allow(CID)
    if live_url is None:
        return
    client = clients[0]
    assert client is not None
    found = [key async for key in client.scan_iter(match=f"{redis_keys.PREFIX}*")]
    assert found == [redis_keys.rate(CID).encode()]
    assert 59_000 < await client.pttl(found[0]) <= 60_000
