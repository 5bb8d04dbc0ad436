"""`frontdesk bench ...`: benchmarks that measure this installation against its own peers."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
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
