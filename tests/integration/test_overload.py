"""A surge: more customer messages at once than one process takes on (`server.max_turns`, 32 in
config.yml). Each extra message waits `server.turn_wait` (1 s) for a place, then gets a 503
with Retry-After before anything of it is stored; the admitted ones finish; health checks and
/metrics answer at once meanwhile; the turned-away messages, sent again, are answered once.

The places are held by the test itself, as in test_graceful_stop: it takes the conversation
locks of 32 senders in Redis first, so their turns sit in their places until it lets go.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.bench_e2e import wait_until_up
from bot.config_loader import load_settings
from bot.dialogue.lock import RedisConversationLock
from bot.http_errors import BUSY
from tests.conftest import ROOT
from tests.integration.servers import inbound_by_sender, running_servers, server_env

pytestmark = pytest.mark.redis
EXTRA = 6


async def say(
    session: aiohttp.ClientSession, url: str, sender: str, message_id: str
) -> tuple[int, str | None, object]:
    body = {"sender": sender, "message": "hello there", "metadata": {"message_id": message_id}}
    async with session.post(f"{url}/webhooks/rest/webhook", json=body) as response:
        return response.status, response.headers.get("Retry-After"), await response.json()


async def turns(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with session.get(f"{url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {
        name: float(value)
        for name, value in re.findall(r"^frontdesk_turns_(\w+) (\S+)$", text, re.MULTILINE)
    }


async def test_a_surge_beyond_max_turns_is_turned_away_quickly_and_nothing_is_half_done(
    postgres_url: str, redis_url: str, nlu_model: str, tmp_path: Path
) -> None:
    env = server_env(postgres_url, redis_url, nlu_model)
    limit = load_settings(ROOT / "config.yml", env).server.max_turns
    run = uuid.uuid4().hex[:8]
    held = [f"surge-{run}-{i}" for i in range(limit)]
    extra = [f"surge-{run}-extra-{i}" for i in range(EXTRA)]
    redis = aioredis.Redis.from_url(redis_url)
    lock = RedisConversationLock(redis)
    timeout = aiohttp.ClientTimeout(total=30)
    with running_servers(env, tmp_path, 1) as (server,):
        await wait_until_up(server.url, within=90)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with AsyncExitStack() as locks:
                for sender in held:
                    await locks.enter_async_context(lock.hold(f"rest:{sender}"))
                admitted = [
                    asyncio.create_task(say(session, server.url, sender, f"{sender}-1"))
                    for sender in held
                ]
                deadline = time.monotonic() + 20
                while (await turns(session, server.url)).get("in_progress") != limit:
                    assert time.monotonic() < deadline, await turns(session, server.url)
                    await asyncio.sleep(0.1)

                started = time.monotonic()
                surge = asyncio.gather(
                    *(say(session, server.url, sender, f"{sender}-1") for sender in extra)
                )
                in_line = 0.0
                while not surge.done() and in_line < EXTRA:
                    in_line = max(in_line, (await turns(session, server.url))["waiting"])
                assert in_line == EXTRA  # /metrics showed them waiting for a place
                refused = await surge
                waited = time.monotonic() - started
                assert refused == [(503, "1", {"error": BUSY})] * EXTRA
                assert 1.0 <= waited < 5.0  # server.turn_wait, not a client's timeout

                healthy = time.monotonic()
                async with session.get(f"{server.url}/healthz") as health:
                    assert health.status == 200
                assert time.monotonic() - healthy < 1.0  # a full house is not a sick one
                assert await turns(session, server.url) == {
                    "in_progress": limit,
                    "waiting": 0,
                    "limit": limit,
                    "refused_total": EXTRA,
                }
                assert all(not task.done() for task in admitted)
            # the locks are let go: the admitted turns finish
            answered = await asyncio.gather(*admitted)
            assert [status for status, _, _ in answered] == [200] * limit
            before_retry = await inbound_by_sender(postgres_url, extra)
            again = await asyncio.gather(
                *(say(session, server.url, sender, f"{sender}-1") for sender in extra)
            )
            assert [status for status, _, _ in again] == [200] * EXTRA
            assert (await turns(session, server.url))["in_progress"] == 0
    await redis.aclose()
    assert before_retry == {sender: [] for sender in extra}  # nothing of a refused message
    stored = await inbound_by_sender(postgres_url, held + extra)
    assert stored == {sender: ["hello there"] for sender in held + extra}
    log = (tmp_path / f"server-{server.port}.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    assert log.count("overloaded: all") == 1, log[-3000:]  # one line for the surge
