"""`frontdesk routing ...` and `frontdesk bench queue`, run in-process."""

from __future__ import annotations

import json

import pytest
import redis

from tests.integration.cli_support import run


def test_routing_rebuild_without_redis_explains_there_is_nothing_to_rebuild(config, capsys) -> None:
    assert run(config, "db", "upgrade") == 0
    assert run(config, "routing", "rebuild") == 0
    assert "no Redis configured" in capsys.readouterr().err


@pytest.mark.redis
def test_routing_rebuild_and_status_on_redis(config, capsys, redis_url: str) -> None:
    env = {"FRONTDESK_REDIS_URL": redis_url}
    assert run(config, "db", "upgrade") == 0
    client = redis.Redis.from_url(redis_url)
    try:
        assert not client.exists("fd:routing:built")
        assert run(config, "routing", "rebuild", env=env) == 0
        assert "live layer rebuilt from the database: 0 waiting" in capsys.readouterr().out
        assert client.exists("fd:routing:built")
    finally:
        client.close()
    assert run(config, "routing", "status", "--json", env=env) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["queues"] == {"appointments": 0, "billing": 0, "nurse-advice": 0, "general": 0}


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_bench_queue_prints_one_json_object(config, capsys, redis_url, postgres_url) -> None:
    args = ["--tickets", "60", "--agents", "8", "--offers", "10", "--ping-seconds", "0.2"]
    urls = ["--redis-url", redis_url, "--database-url", postgres_url]
    assert run(config, "bench", "queue", "--json", *args, *urls) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("claims_per_s", "offer_p99_ms", "redis_ping_per_s", "recorded_claims_per_s"):
        assert result[key] > 0, key
    assert result["double_assignments"] == 0 and result["capacity_overruns"] == 0
    assert result["database"] == "postgresql"
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(match="fd:bench:*")) == []  # cleaned up
    finally:
        client.close()
