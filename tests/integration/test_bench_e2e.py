"""`frontdesk bench e2e` in a tiny configuration: SQLite + memory and the echo ceiling only.

Real processes: a `frontdesk run` server on a seeded throwaway SQLite file, the echo server and
the load generator, each in its own process. Nothing here asserts a time: only that the figures
are there, positive, and that every message got a 200.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr
from sqlalchemy import make_url, text

from bot.bench_e2e import ECHO, SQLITE, store_cpu, store_cpu_since
from bot.bench_load import Spec, Tally, body, conversation
from bot.bench_queue import throwaway_database
from bot.channels.identity import verified_user_id
from bot.cli import main
from tests.conftest import ROOT

HEADLINE = ("msgs_per_s", "p50_ms", "p99_ms", "echo_msgs_per_s", "ratio")
ROW = (
    "msgs_per_s", "p50_ms", "p99_ms", "ratio",
    "server_cpu_ms_per_msg", "load_cpu_ms_per_msg", "store_cpu_ms_per_msg",
)  # fmt: skip


def test_the_mix_covers_every_kind_and_signs_listing_customers() -> None:
    spec = Spec(("http://x",), 10, 4, secret="s3", web_ids=("web-0001", "web-0002"))
    seen = [conversation(spec, worker, 0) for worker in range(4)]
    texts = {text for _, script, _ in seen for text in script}
    assert {"/affirm", "/list_appointments", "what can you do?"} <= texts
    assert any("gums" in text for text in texts)
    (signed,) = [(sender, script) for sender, script, signed in seen if signed]
    sent = json.loads(body(spec, signed[0], signed[1][0], True, "bench-3-0"))
    assert verified_user_id(sent["metadata"]["identity"], SecretStr("s3")) == signed[0]
    assert sent["metadata"]["message_id"] == "bench-3-0"
    anonymous = [sender for sender, _, signed in seen if not signed]
    assert len(set(anonymous)) == 3 and all(s.startswith("bench-") for s in anonymous)


@pytest.mark.slow
def test_bench_e2e_json_on_sqlite_and_echo(
    nlu_model: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # config.yml names its folders (templates, kb) relative to here
    args = ["--messages", "40", "--conversations", "4", "--customers", "12"]
    code = main(
        [
            "--config", str(ROOT / "config.yml"), "bench", "e2e", "--json", "--setups", "sqlite",
            "--nlu-model-dir", nlu_model, *args,
        ],
        environ={},
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    for key in HEADLINE:
        assert result[key] > 0, key
    assert result["setup"] == SQLITE
    assert set(result["setups"]) == {SQLITE, ECHO}
    for name, row in result["setups"].items():
        assert row["messages"] == 40, name
        assert row["errors"] == 0, name
        for key in ROW:
            assert row[key] >= 0, (name, key)
        assert row["p99_ms"] >= row["p50_ms"] > 0, name
        paced = row["paced"]
        assert paced["offered_msgs_per_s"] == round(row["msgs_per_s"] / 2, 1), name
        assert paced["errors"] == 0 and paced["p99_ms"] >= paced["p50_ms"] > 0, name
        # the schedule holds the rate down: it cannot run much above what was offered
        assert paced["msgs_per_s"] <= paced["offered_msgs_per_s"] * 1.2, name
    assert result["setups"][ECHO]["ratio"] == 1.0
    assert result["cpu_cores"] >= 1


async def test_a_paced_load_hands_out_slots_on_schedule_and_counts_from_them() -> None:
    tally = Tally(10)
    rate = 200.0
    slots = [await tally.due(rate) for _ in range(5)]
    assert slots == pytest.approx([tally.started + k / rate for k in range(5)])
    assert time.perf_counter() >= slots[-1]  # it waited for the last slot
    await asyncio.sleep(0.05)  # a slow reply held this conversation up
    late = await tally.due(rate)
    assert late == pytest.approx(tally.started + 5 / rate)  # its slot, not when it got to it
    assert await Tally(1).due(0) == pytest.approx(time.perf_counter(), abs=0.01)  # unpaced


def test_an_unknown_setup_is_refused_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = str(ROOT / "config.yml")
    assert main(["--config", config, "bench", "e2e", "--setups", "sqlite,mysql"], environ={}) == 2
    assert "unknown set-ups ['mysql']" in capsys.readouterr().err


async def test_store_cpu_counts_the_database_work_the_run_caused(postgres_url: str) -> None:
    """The PG+Redis column: a query that burns CPU in PostgreSQL shows up in it."""
    dsn = postgres_url.replace("postgresql+asyncpg", "postgresql")
    found = store_cpu()
    assert found and all(seconds >= 0 for seconds in found.values())
    connection = await asyncpg.connect(dsn)
    try:
        before = store_cpu()
        await connection.fetchval("select count(*) from generate_series(1, 4000000)")
        burnt = store_cpu_since(before)
    finally:
        await connection.close()
    assert burnt >= 0.05
    assert store_cpu_since(store_cpu()) < burnt


async def test_a_throwaway_database_over_postgresqls_unix_socket(postgres_url: str) -> None:
    """`--database-url postgresql+asyncpg://user@/db?host=/run/postgresql` (same-host socket)."""
    server = make_url(postgres_url)

    async def ask(sql: str, *args: object) -> Any:
        admin = await asyncpg.connect(
            host=server.host, port=server.port, user=server.username, database=server.database
        )
        try:
            return await admin.fetchval(sql, *args)
        finally:
            await admin.close()

    folder = (await ask("show unix_socket_directories")).split(",")[0].strip()
    socket_url = f"postgresql+asyncpg://{server.username}@/{server.database}?host={folder}"
    mine = (
        "select current_database(), client_port from pg_stat_activity where pid = pg_backend_pid()"
    )
    async with throwaway_database(socket_url) as database, database.engine.connect() as connection:
        name, port = (await connection.execute(text(mine))).one()
    assert name.startswith("frontdesk_bench_") and port == -1  # -1: a Unix socket
    assert not await ask("select 1 from pg_database where datname = $1", name)
