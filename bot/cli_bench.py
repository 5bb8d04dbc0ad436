"""`frontdesk bench ...`: benchmarks that measure this installation against its own peers."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import Settings


async def bench_queue(settings: Settings, args: argparse.Namespace) -> int:
    from bot.bench_queue import QueueBench, run

    redis_url = args.redis_url or settings.stores.redis_url
    if not redis_url:
        print("bench queue needs Redis: set stores.redis_url or pass --redis-url", file=sys.stderr)
        return 2
    bench = QueueBench(
        tickets=args.tickets,
        agents=args.agents,
        offers=args.offers,
        offer_concurrency=args.offer_concurrency,
        ping_seconds=args.ping_seconds,
    )
    result = await run(args.database_url or settings.stores.database_url, redis_url, bench)
    if args.json:
        print(json.dumps(result))
        return 0
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    return 0


async def bench_e2e(settings: Settings, args: argparse.Namespace) -> int:
    from bot.bench_e2e import (
        DEFAULT_DATABASE_URL,
        DEFAULT_REDIS_URL,
        BenchError,
        E2eBench,
        run,
        setups_of,
        table,
    )

    try:
        setups = setups_of(args.setups)
    except ValueError as exc:
        print(f"bench e2e: {exc}", file=sys.stderr)
        return 2

    configured = settings.stores.database_url
    database_url = args.database_url or (
        configured if configured.startswith("postgresql") else DEFAULT_DATABASE_URL
    )
    bench = E2eBench(
        messages=args.messages,
        conversations=args.conversations,
        setups=setups,
        customers=args.customers,
        nlu_model_dir=args.nlu_model_dir,
    )
    redis_url = args.redis_url or DEFAULT_REDIS_URL
    try:
        result = await run(_absolute(args.config), database_url, redis_url, bench)
    except BenchError as exc:
        print(f"bench e2e: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else table(result))
    return 0


def _absolute(path: str) -> Path:
    return Path(path).resolve()


def register(groups: Any, command: Callable[..., Any]) -> None:
    """Add the `bench` command group."""
    bench = groups.add_parser("bench", help="benchmarks").add_subparsers(required=True)
    queue = command(
        bench,
        "queue",
        bench_queue,
        "claims/s, offer latency and correctness of the dispatch layer vs raw Redis round trips",
    )
    queue.add_argument("--json", action="store_true", help="print one JSON object")
    queue.add_argument("--tickets", type=int, default=1000)
    queue.add_argument("--agents", type=int, default=60, help="agents, one claimer each")
    queue.add_argument("--offers", type=int, default=300, help="push offers to time")
    queue.add_argument("--offer-concurrency", type=int, default=1)
    queue.add_argument("--ping-seconds", type=float, default=2.0)
    queue.add_argument("--database-url", help="default: stores.database_url (a throwaway copy)")
    queue.add_argument("--redis-url", help="default: stores.redis_url")
    e2e = command(
        bench,
        "e2e",
        bench_e2e,
        "messages/s and p50/p99 latency through the REST channel, beside a bare echo handler",
    )
    e2e.add_argument("--json", action="store_true", help="print one JSON object")
    e2e.add_argument("--messages", type=int, default=2000, help="measured messages per set-up")
    e2e.add_argument("--conversations", type=int, default=64, help="conversations at once")
    e2e.add_argument(
        "--setups",
        default="sqlite,postgres,postgres2,floor",
        help="comma-separated: sqlite (+memory), postgres (+redis), postgres2 (two processes),"
        " floor (a bare handler doing only a turn's PostgreSQL and Redis work, two processes)",
    )
    e2e.add_argument("--customers", type=int, default=200, help="demo customers seeded")
    e2e.add_argument("--nlu-model-dir", help="a trained NLU model (default: train one)")
    e2e.add_argument(
        "--database-url",
        help="PostgreSQL server for throwaway databases (default: stores.database_url if"
        " PostgreSQL, else postgresql+asyncpg://postgres@127.0.0.1:5432/test)",
    )
    e2e.add_argument(
        "--redis-url",
        help="an empty Redis database, flushed at the end (default: redis://127.0.0.1:6379/13)",
    )
