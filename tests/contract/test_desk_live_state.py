"""The desk's live state, one suite over both adapters: sessions and failed-login counters in
this process's memory and in a real Redis (keys under fd:desk:, all with a time to live)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from desk.config import LoginLimits
from desk.errors import Throttled
from desk.keys import PREFIX
from desk.sessions import (
    MemorySessionStore,
    RedisSessionStore,
    Session,
    SessionStore,
    new_token,
)
from desk.throttle import (
    FailureCounter,
    LoginThrottle,
    MemoryFailureCounter,
    RedisFailureCounter,
)
from tests.contract.routing_fixture import live_url_fixture  # noqa: F401

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SHORT = timedelta(milliseconds=250)
HOUR = timedelta(hours=1)


@pytest.fixture
async def client(live_url: str | None) -> AsyncIterator[aioredis.Redis | None]:
    if live_url is None:
        yield None
        return
    redis = aioredis.Redis.from_url(live_url)
    try:
        yield redis
    finally:
        await redis.aclose()


@pytest.fixture
def sessions(client: aioredis.Redis | None) -> SessionStore:
    return MemorySessionStore() if client is None else RedisSessionStore(client)


@pytest.fixture
def counter(client: aioredis.Redis | None) -> FailureCounter:
    return MemoryFailureCounter() if client is None else RedisFailureCounter(client)


async def test_a_session_is_found_by_its_token_only(sessions: SessionStore) -> None:
    token = new_token()
    session = Session(7, "csrf-token", NOW, "10.0.0.1")
    await sessions.put(token, session, HOUR)
    assert await sessions.get(token, HOUR) == session
    assert await sessions.get(new_token(), HOUR) is None
    assert await sessions.get(token[:-1], HOUR) is None
    await sessions.delete(token)
    assert await sessions.get(token, HOUR) is None
    await sessions.delete(token)  # twice is fine


async def test_sessions_expire_when_idle_and_use_renews_them(sessions: SessionStore) -> None:
    token = new_token()
    await sessions.put(token, Session(1, "c", NOW), SHORT)
    await asyncio.sleep(0.15)
    assert await sessions.get(token, SHORT) is not None  # renewed for another 250 ms
    await asyncio.sleep(0.15)
    assert await sessions.get(token, SHORT) is not None
    await asyncio.sleep(0.3)
    assert await sessions.get(token, SHORT) is None


async def test_failures_count_within_a_window(counter: FailureCounter) -> None:
    key = f"{PREFIX}fail:user:ann"
    assert await counter.count(key) == (0, 0.0)
    assert await counter.add(key, SHORT) == 1
    assert await counter.add(key, SHORT) == 2
    count, left = await counter.count(key)
    assert count == 2 and 0 < left <= 0.25
    await asyncio.sleep(0.3)  # the window runs from the first failure
    assert await counter.count(key) == (0, 0.0)
    await counter.add(key, HOUR)
    await counter.clear(key)
    assert await counter.count(key) == (0, 0.0)


async def test_the_throttle_pauses_a_username_and_an_address(counter: FailureCounter) -> None:
    throttle = LoginThrottle(
        counter, LoginLimits(max_failures=2, max_failures_per_address=3, window=HOUR)
    )
    await throttle.check("Ann", "10.0.0.1")
    await throttle.failed("ann", "10.0.0.1")
    await throttle.failed("ANN ", "10.0.0.1")  # one username, however it is typed
    with pytest.raises(Throttled) as caught:
        await throttle.check("ann", "10.0.0.2")
    assert 3590 < caught.value.retry_after <= 3600
    await throttle.check("bob", "10.0.0.2")
    await throttle.failed("bob", "10.0.0.1")  # the third failure from 10.0.0.1
    with pytest.raises(Throttled):
        await throttle.check("carol", "10.0.0.1")
    await throttle.succeeded("ann")
    await throttle.check("ann", "10.0.0.2")


async def test_every_redis_key_expires(
    live_url: str | None, sessions: SessionStore, counter: FailureCounter
) -> None:
    await sessions.put(new_token(), Session(1, "c", NOW), HOUR)
    await LoginThrottle(counter, LoginLimits()).failed("ann", "10.0.0.1")
    if live_url is None:
        return
    redis = aioredis.Redis.from_url(live_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{PREFIX}*")]
        assert len(keys) == 3
        for key in keys:
            assert await redis.pttl(key) > 0, key
    finally:
        await redis.aclose()
