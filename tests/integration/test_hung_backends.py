"""A hung backend (SIGSTOP: a paused VM, a network partition that drops packets rather than
refusing them) is not a dead one: connections stay open and nothing answers. An instance must
still answer within seconds: /healthz says which backend is the matter, a customer's message
gets the polite 503, nothing of it is stored, and when the backend answers again so does the
instance, by itself, with the message answered once when it is sent again. A failing
background job says so in one line, not in a trace a second.

Redis is a private redis-server (faults_servers.PrivateRedis): freezing the shared one would
hang every other test's Redis too. PostgreSQL is a throwaway database on the shared server whose
backends (the server processes serving the instance's connections, and only those) are frozen.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from bot.app import HEALTH_TIMEOUT
from bot.bench_e2e import wait_until_up
from bot.bench_queue import throwaway_database
from bot.config_loader import load_settings
from bot.http_errors import BUSY
from bot.resources import REDIS_COMMAND_TIMEOUT
from tests.conftest import ROOT
from tests.integration.faults_servers import PrivateRedis
from tests.integration.servers import inbound_texts, running_servers, server_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
PROMPT = REDIS_COMMAND_TIMEOUT + 2.0  # seconds: the command timeout and a loaded machine's slack
DATABASE_TIMEOUT = 10.0  # config.yml's stores.database_timeout


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def timed(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: object
) -> tuple[int, dict[str, str], object, float]:
    started = time.monotonic()
    async with http.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
        body = await response.json()
        return response.status, dict(response.headers), body, time.monotonic() - started


async def test_a_hung_redis_gets_a_polite_503_within_seconds_and_service_comes_back(
    postgres_url: str, nlu_model: str, redis: PrivateRedis, tmp_path: Path
) -> None:
    sender = f"hung-{uuid.uuid4().hex[:8]}"
    env = server_env(postgres_url, redis.url, nlu_model)

    def message(text: str, message_id: str) -> dict[str, object]:
        return {"sender": sender, "message": text, "metadata": {"message_id": message_id}}

    with running_servers(env, tmp_path, 1) as (server,):
        await wait_until_up(server.url, within=90)
        webhook = f"{server.url}/webhooks/rest/webhook"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            status, _, _, _ = await timed(http, "POST", webhook, json=message("hello", "m1"))
            assert status == 200
            redis.freeze()
            try:
                health = await timed(http, "GET", f"{server.url}/healthz")
                during = await timed(http, "POST", webhook, json=message("thank you", "m2"))
                await asyncio.sleep(1.5)  # the background jobs' ticks meet the hung Redis too
            finally:
                redis.thaw()
            status, _, checks, seconds = health
            assert (status, checks) == (
                503,
                {"error": "unhealthy", "database": "ok", "redis": "unavailable"},
            )
            assert seconds < PROMPT
            status, headers, body, seconds = during
            assert (status, headers.get("Retry-After"), body) == (503, "1", {"error": BUSY})
            assert seconds < PROMPT
            assert await inbound_texts(postgres_url, sender) == ["hello"]  # nothing half-done

            deadline = time.monotonic() + 10
            while (await timed(http, "GET", f"{server.url}/healthz"))[0] != 200:
                assert time.monotonic() < deadline, "not back 10 s after Redis was"
            status, _, replies, seconds = await timed(
                http, "POST", webhook, json=message("thank you", "m2")
            )
            assert status == 200 and replies
            # not held up by the lock the timed-out script took when Redis woke (its TTL: 10 s)
            assert seconds < PROMPT
    assert await inbound_texts(postgres_url, sender) == ["hello", "thank you"]
    log = (tmp_path / f"server-{server.port}.log").read_text()
    assert "Traceback" not in log, log[-4000:]
    assert log.count("a backend is unavailable") == 2, log[-4000:]  # the message's, the tick's
    assert log.count("routing tick: a backend is unavailable") == 1
    assert "routing tick: working again" in log


async def backends(admin_url: str, database: str) -> list[int]:
    connection = await asyncpg.connect(admin_url.replace("+asyncpg", "", 1))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return [row["pid"] for row in rows]
    finally:
        await connection.close()


async def test_a_hung_postgres_gets_a_polite_503_and_service_comes_back(
    postgres_url: str, redis_url: str, nlu_model: str, tmp_path: Path
) -> None:
    sender = f"hung-pg-{uuid.uuid4().hex[:8]}"
    message = {"sender": sender, "message": "hello", "metadata": {"message_id": "m1"}}
    async with throwaway_database(postgres_url) as database:
        url = database.engine.url.render_as_string(hide_password=False)
        name = database.engine.url.database
        assert name is not None
        await database.engine.dispose()  # only the instance's connections from here on
        env = server_env(url, redis_url, nlu_model)
        assert load_settings(ROOT / "config.yml", env).stores.database_timeout == DATABASE_TIMEOUT
        with running_servers(env, tmp_path, 1) as (server,):
            await wait_until_up(server.url, within=90)
            webhook = f"{server.url}/webhooks/rest/webhook"
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
                frozen = await backends(postgres_url, name)
                assert frozen, "the instance holds no connection"
                for pid in frozen:
                    os.kill(pid, signal.SIGSTOP)
                try:
                    health = await timed(http, "GET", f"{server.url}/healthz")
                    during = await timed(http, "POST", webhook, json=message)
                finally:
                    for pid in frozen:
                        os.kill(pid, signal.SIGCONT)
                status, _, checks, seconds = health
                assert (status, checks) == (
                    503,
                    {"error": "unhealthy", "database": "unavailable", "redis": "ok"},
                )
                assert seconds < HEALTH_TIMEOUT + 1  # not held up by cancelling the ping
                status, headers, body, seconds = during
                assert (status, headers.get("Retry-After"), body) == (503, "1", {"error": BUSY})
                assert DATABASE_TIMEOUT - 1 < seconds < DATABASE_TIMEOUT + 6
                deadline = time.monotonic() + 10
                while (await timed(http, "GET", f"{server.url}/healthz"))[0] != 200:
                    assert time.monotonic() < deadline, "not back 10 s after PostgreSQL was"
                again = await timed(http, "POST", webhook, json=message)
                assert again[0] == 200 and again[2]
        assert await inbound_texts(url, sender) == ["hello"]  # once: the 503 stored nothing
    log = (tmp_path / f"server-{server.port}.log").read_text()
    assert "Traceback" not in log, log[-4000:]
