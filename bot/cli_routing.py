"""`frontdesk routing ...`: the live dispatch layer's chores."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from bot.config import Settings
from bot.resources import open_crm
from bot.routing_setup import open_routing


async def routing_rebuild(settings: Settings, _args: argparse.Namespace) -> int:
    if settings.stores.redis_url is None:
        print(
            "no Redis configured (stores.redis_url): the live layer lives in each server's "
            "memory and is rebuilt from the database whenever the server starts",
            file=sys.stderr,
        )
        return 0
    async with open_crm(settings) as store, open_routing(settings, store) as routing:
        report = await routing.rebuild()
    print(
        f"live layer rebuilt from the database: {report.queued} waiting, "
        f"{report.offered} on offer, {report.held} held, {report.agents} agents"
    )
    return 0


async def routing_status(settings: Settings, args: argparse.Namespace) -> int:
    async with open_crm(settings) as store, open_routing(settings, store) as routing:
        await routing.start()
        lengths = await routing.queue_lengths()
        agents = await routing.agents()
    if args.json:
        data = {
            "queues": lengths,
            "agents": [
                {
                    "agent_id": a.agent_id,
                    "presence": a.presence.value,
                    "load": a.load,
                    "capacity": a.capacity,
                    "queues": list(a.queues),
                }
                for a in agents
            ],
        }
        print(json.dumps(data, indent=2))
        return 0
    for queue, waiting in lengths.items():
        print(f"{queue:<20} {waiting:>5} waiting")
    for a in agents:
        print(f"agent {a.agent_id:<6} {a.presence.value:<10} {a.load}/{a.capacity}")
    return 0


def register(groups: Any, command: Callable[..., Any]) -> None:
    """Add the `routing` command group."""
    routing = groups.add_parser("routing", help="queues and assignment").add_subparsers(
        required=True
    )
    command(
        routing,
        "rebuild",
        routing_rebuild,
        "rebuild the live dispatch layer (Redis) from the database",
    )
    status = command(routing, "status", routing_status, "waiting tickets and agents' seats")
    status.add_argument("--json", action="store_true", help="print JSON")
