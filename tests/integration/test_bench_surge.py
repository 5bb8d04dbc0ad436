"""bench/surge.py at a tiny size, run as a reader runs it (its own process, real servers on
PostgreSQL and Redis). Nothing here asserts a time: only that every row ran, every message was
answered or counted as given up, and the servers logged no trace."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def test_the_surge_bench_runs_its_three_rows(
    postgres_url: str, redis_url: str, nlu_model: str
) -> None:
    command = [
        sys.executable, str(ROOT / "bench" / "surge.py"), "--database-url", postgres_url,
        "--redis-url", redis_url, "--nlu-model-dir", nlu_model, "--conversations", "24",
        "--messages", "48", "--max-turns", "4", "--json",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout)["rows"]
    assert list(rows) == ["capacity", "max_turns 4", "unbounded"]
    for row in rows.values():
        assert row["answered"] + row["gave_up"] == 48 and row["answered"] > 0, row
        assert row["sends"] == sum(row["replies"].values()) >= 48, row
        assert row["server_traces"] == 0, row
    assert rows["max_turns 4"]["conversations"] == 24
    assert rows["capacity"]["conversations"] == 64
