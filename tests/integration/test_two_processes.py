"""Two `frontdesk run` processes on one PostgreSQL and one Redis keep a conversation in order.

The messages of one conversation are sent in quick succession, alternately to each process, each
before the previous one was answered. The contact history must hold every message once, in the
order sent: the fair Redis lock hands the conversation from process to process in arrival order.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from crm_store import models as m
from crm_store.database import Database, create_engine
from crm_store.enums import Channel, Direction
from tests.conftest import ROOT

MESSAGES = 16


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def servers(
    postgres_url: str, redis_url: str, nlu_model: str, tmp_path: Path
) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "FRONTDESK_DATABASE_URL": postgres_url,
        "FRONTDESK_REDIS_URL": redis_url,
        "FRONTDESK_NLU_MODEL_DIR": nlu_model,
    }
    ports = [free_port(), free_port()]
    logs = [(tmp_path / f"server-{p}.log").open("w") for p in ports]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "--config",
                str(ROOT / "config.yml"),
                "run",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    try:
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
        for log in logs:
            log.close()


async def wait_until_up(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with session.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


async def inbound_texts(database_url: str, sender: str) -> list[str]:
    database = Database(create_engine(database_url))
    try:
        async with database.transaction() as session:
            customer_id = await session.scalar(
                select(m.Identity.customer_id).where(
                    m.Identity.channel == Channel.REST, m.Identity.external_id == sender
                )
            )
            rows = await session.scalars(
                select(m.Interaction.text)
                .where(
                    m.Interaction.customer_id == customer_id,
                    m.Interaction.direction == Direction.INBOUND,
                )
                .order_by(m.Interaction.id)
            )
            return [text or "" for text in rows]
    finally:
        await database.close()


async def test_one_conversation_across_two_processes_stays_in_order(
    servers: list[str], postgres_url: str
) -> None:
    sender = f"ordered-{uuid.uuid4().hex[:8]}"
    sent = [f"note number {i:02d} for the team" for i in range(MESSAGES)]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(wait_until_up(session, url) for url in servers))

        async def send(i: int) -> int:
            await asyncio.sleep(i * 0.03)  # sent in order, long before the previous is answered
            body = {"sender": sender, "message": sent[i]}
            url = f"{servers[i % 2]}/webhooks/rest/webhook"
            async with session.post(url, json=body) as response:
                return response.status

        statuses = await asyncio.gather(*(send(i) for i in range(MESSAGES)))
    assert statuses == [200] * MESSAGES
    assert await inbound_texts(postgres_url, sender) == sent
