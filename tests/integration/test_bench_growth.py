"""bench/growth.py at tiny sizes on PostgreSQL, run as a reader runs it (its own process).

Nothing here asserts a time: only that the data set holds what the bench says it loads, that
every operation was timed and explained at every size, that the printed tables have a row per
size, and that the throwaway database is gone afterwards.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SIZES = (200, 400)
REPEAT = 3
OPERATIONS = (
    "slot search: one day (find checkup between)",
    "slot search: earliest (find, each service)",
    "busy times: one practitioner, 60 days",
    "dashboard: GET /desk/api/dashboard (board + JSON)",
    "dashboard: GET /desk/api/dashboard/intervals (yesterday)",
    "dashboard query: tickets active today",
    "dashboard query: their event logs",
    "dashboard query: open tickets",
    "dashboard query: messages today",
    "peer: SELECT 1 (store session)",
)


def run_bench(postgres_url: str, out: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, str(ROOT / "bench" / "growth.py"), "--database-url", postgres_url,
        "--sizes", ",".join(map(str, SIZES)), "--repeat", str(REPEAT), "--warmup", "1",
        "--json", str(out),
    ]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def table_rows(stdout: str, operation: str) -> list[str]:
    """The sizes in the first column of the operation's table."""
    block = stdout.split(f"\n{operation}\n", 1)[1].split("\n\n", 1)[0]
    header, *rows = block.splitlines()
    assert header.split()[:3] == ["size", "p50", "ms"], header
    return [row.split()[0] for row in rows]


async def databases(postgres_url: str) -> set[str]:
    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        return {row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()


async def test_the_growth_bench_loads_times_explains_and_cleans_up(
    postgres_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "growth.json"
    done = run_bench(postgres_url, out)
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text(encoding="utf-8"))

    loads = {step["size"]: step for step in figures["loads"]}
    assert list(loads) == list(SIZES)
    for step in loads.values():
        rows, added = step["rows"], 200
        assert rows["customers"] == rows["tickets"] == added
        assert rows["interactions"] == 3 * added
        assert 2 * added <= rows["appointments"] <= 3 * added
        assert 2 * rows["tickets"] < rows["ticket_events"] < 8 * rows["tickets"]
    assert loads[200]["rows"]["future appointments"] > 500  # the weeks ahead, loaded once
    assert "future appointments" not in loads[400]["rows"]

    results = {(r["operation"], r["size"]): r for r in figures["results"]}
    assert set(results) == {(op, size) for op in OPERATIONS for size in SIZES}
    for key, r in results.items():
        assert r["calls"] == REPEAT, key
        assert 0 < r["p50_ms"] <= r["p99_ms"], key

    for size in SIZES:
        plans = {p["operation"]: p for p in figures["plans"][str(size)]}
        assert set(plans) == set(OPERATIONS)
        assert plans["peer: SELECT 1 (store session)"]["rows_read"] == 0
        assert all(p["rows_read"] > 0 for name, p in plans.items() if not name.startswith("peer"))
        assert "appointments" in plans["busy times: one practitioner, 60 days"]["query"]

    for operation in OPERATIONS:
        assert table_rows(done.stdout, operation) == [f"{size:,}" for size in SIZES], operation
    created = re.search(r"creating database (frontdesk_bench_\w+)", done.stderr)
    assert created is not None, done.stderr
    assert created.group(1) not in await databases(postgres_url)
