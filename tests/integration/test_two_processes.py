"""Two `frontdesk run` processes on one PostgreSQL and one Redis keep a conversation in order.

The messages of one conversation are sent in quick succession, alternately to each process, each
before the previous one was answered. The contact history must hold every message once, in the
order sent: the fair Redis lock hands the conversation from process to process in arrival order.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.bench_e2e import wait_until_up
from tests.integration.servers import inbound_texts, running_servers, server_env

MESSAGES = 16


@pytest.fixture
def servers(
    postgres_url: str, redis_url: str, nlu_model: str, tmp_path: Path
) -> Iterator[list[str]]:
    env = server_env(postgres_url, redis_url, nlu_model)
    with running_servers(env, tmp_path, 2) as started:
        yield [server.url for server in started]


async def test_one_conversation_across_two_processes_stays_in_order(
    servers: list[str], postgres_url: str
) -> None:
    sender = f"ordered-{uuid.uuid4().hex[:8]}"
    sent = [f"note number {i:02d} for the team" for i in range(MESSAGES)]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(wait_until_up(url, within=90) for url in servers))

        async def send(i: int) -> int:
            await asyncio.sleep(i * 0.03)  # sent in order, long before the previous is answered
            body = {"sender": sender, "message": sent[i]}
            url = f"{servers[i % 2]}/webhooks/rest/webhook"
            async with session.post(url, json=body) as response:
                return response.status

        statuses = await asyncio.gather(*(send(i) for i in range(MESSAGES)))
    assert statuses == [200] * MESSAGES
    assert await inbound_texts(postgres_url, sender) == sent
