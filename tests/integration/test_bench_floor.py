"""The durable floor of `frontdesk bench e2e` (bot/bench_floor.py) on a real PostgreSQL and Redis.

The floor is only worth its row if it really does a turn's store work: each message stored with
its reply and its id once, a retry answered from the record, the conversation's state saved and
its lock let go. Nothing here asserts a time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis
from sqlalchemy import make_url

from bot.bench_e2e import FLOOR, free_port, process, seed, wait_until_up
from bot.bench_load import PATH
from bot.bench_queue import throwaway_database
from bot.cli import main
from tests.conftest import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_the_floor_stores_each_message_once_and_keeps_the_conversations_state(
    postgres_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    async with throwaway_database(postgres_url) as database:
        url = database.engine.url.render_as_string(hide_password=False)
        env = {"FRONTDESK_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        await seed(ROOT / "config.yml", env, 6)
        await database.engine.dispose()
        port = free_port()
        args = [sys.executable, "-m", "bot.bench_floor", str(port), url, redis_url]
        log = tmp_path / "floor.log"
        async with process(args, env, log, cwd=ROOT):
            await wait_until_up(f"http://127.0.0.1:{port}", log)
            message = {"sender": "ana", "message": "hello", "metadata": {"message_id": "m-1"}}
            async with aiohttp.ClientSession() as session:
                answers = []
                for _ in range(2):  # the second is a retry of the same message id
                    async with session.post(f"http://127.0.0.1:{port}{PATH}", json=message) as r:
                        answers.append((r.status, await r.json()))
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn)
        try:
            stored = await connection.fetch(
                "SELECT direction, text FROM interactions WHERE conversation_id = 'ana' ORDER BY id"
            )
            handled = await connection.fetchval(
                "SELECT replies FROM handled_messages WHERE channel = 'rest' AND message_id = 'm-1'"
            )
        finally:
            await connection.close()
    assert answers == [(200, [{"recipient_id": "ana", "text": "hello"}])] * 2
    assert [tuple(row) for row in stored] == [("inbound", "hello"), ("outbound", "hello")]
    assert json.loads(handled) == [{"recipient_id": "ana", "text": "hello"}]
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.get("floor:ana:state") == b'{"turns": 1}'
        assert await client.get("floor:ana:holder") is None  # the lock was let go, both times
        assert await client.get("floor:ana:next") == await client.get("floor:ana:serving") == b"2"
    finally:
        await client.aclose()
    assert "Traceback" not in log.read_text()


@pytest.mark.slow
def test_bench_e2e_runs_the_floor_row(
    postgres_url: str, redis_url: str, nlu_model: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(ROOT)
    code = main(
        [
            "--config", str(ROOT / "config.yml"), "bench", "e2e", "--json", "--setups", "floor",
            "--nlu-model-dir", nlu_model, "--messages", "40", "--conversations", "4",
            "--customers", "12", "--database-url", postgres_url, "--redis-url", redis_url,
        ],
        environ={},
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    row = result["setups"][FLOOR]
    assert row["messages"] == 40 and row["errors"] == 0 and row["processes"] == 2
    assert row["paced"]["errors"] == 0
    assert result["floor_msgs_per_s"] == row["msgs_per_s"] > 0
    assert row["store_cpu_ms_per_msg"] > 0  # it did work in PostgreSQL and Redis
