"""A surge on one process: far more conversations writing at once than it can answer.

One real `frontdesk run` process on PostgreSQL + Redis (the demo clinic seeded into a throwaway
database, a trained NLU model) gets the e2e bench's conversation mix (bot/bench_load.py) from
`--conversations` customers at once (default 1,000). The customers behave like the channels'
clients: a 503 is sent again after its Retry-After, a request that times out (`--timeout`,
30 s) or fails is sent again at once, always with the same message id, until it is answered
or `--give-up` seconds (60) have passed since it was first sent. Time to answer counts from the
first send to the answer, retries included: what the customer waited.

Rows, each on a fresh database, one after the other:

  capacity        64 conversations (no surge): what the process answers at full load, the
                  ceiling of the other rows
  max_turns N     the surge with the admission bound of config.yml (server.max_turns), or
                  `--max-turns`
  unbounded       the same surge with server.max_turns at 10,000: no bound, the peer

    .venv/bin/python bench/surge.py --nlu-model-dir /tmp/nlu-model
    .venv/bin/python bench/surge.py --conversations 500 --messages 2000 --json

`--redis-url` names a database that must be empty (flushed at the end). It is a benchmark, not
a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.bench_e2e import E2eBench as _Shape  # noqa: E402
from bot.bench_e2e import (  # noqa: E402
    Run,
    empty_redis,
    free_port,
    process,
    seed,
    wait_until_up,
)
from bot.bench_load import JSON, PATH, Spec, body, worker_messages  # noqa: E402
from bot.bench_queue import throwaway_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
CAPACITY_CONVERSATIONS = 64
UNBOUNDED = 10_000


@dataclass
class Tally:
    left: int
    answered_ms: list[float] = field(default_factory=list)
    gave_up: int = 0
    sends: int = 0
    replies: Counter[str] = field(default_factory=Counter)  # what came back, per send


async def send(
    session: aiohttp.ClientSession, url: str, data: bytes, seconds: float
) -> tuple[str, float]:
    """(status or error name, seconds to wait before sending again)."""
    try:
        async with session.post(
            url, data=data, headers=JSON, timeout=aiohttp.ClientTimeout(total=seconds)
        ) as response:
            await response.read()
            retry_after = float(response.headers.get("Retry-After", "0") or 0)
            return str(response.status), retry_after
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__, 0.0


async def customer(
    session: aiohttp.ClientSession, spec: Spec, tally: Tally, worker: int, args: argparse.Namespace
) -> None:
    url = spec.urls[0] + PATH
    for sent, sender, text, signed in worker_messages(spec, tally, worker):
        data = body(spec, sender, text, signed, f"{spec.run_id}-{worker}-{sent}")
        first = time.perf_counter()
        while True:
            status, wait = await send(session, url, data, args.timeout)
            tally.sends += 1
            tally.replies[status] += 1
            waited = time.perf_counter() - first
            if status == "200":
                tally.answered_ms.append(waited * 1000)
                break
            if waited + wait >= args.give_up:
                tally.gave_up += 1
                break
            await asyncio.sleep(wait)


async def surge(spec: Spec, args: argparse.Namespace, conversations: int) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector) as session:
        tally = Tally(args.messages)
        started = time.perf_counter()
        await asyncio.gather(
            *(customer(session, spec, tally, w, args) for w in range(conversations))
        )
        seconds = time.perf_counter() - started
    done = sorted(tally.answered_ms)
    return {
        "conversations": conversations,
        "messages": args.messages,
        "answered": len(done),
        "gave_up": tally.gave_up,
        "seconds": round(seconds, 1),
        "answered_per_s": round(len(done) / seconds, 1),
        "p50_ms": round(statistics.median(done), 1) if done else None,
        "p99_ms": round(statistics.quantiles(done, n=100)[98], 1) if len(done) > 1 else None,
        "sends": tally.sends,
        "replies": dict(tally.replies),
    }


async def row(
    run: Run, args: argparse.Namespace, label: str, conversations: int, max_turns: str | None
) -> dict[str, Any]:
    async with throwaway_database(args.database_url) as database:
        url = database.engine.url.render_as_string(hide_password=False)
        env = run.env(url, args.redis_url)
        if max_turns is not None:
            env["FRONTDESK_MAX_TURNS"] = max_turns
        web_ids = await seed(run.config, env, 200)
        port = free_port()
        log = run.folder / f"server-{label.replace(' ', '-')}.log"
        command = [sys.executable, "-m", "bot.cli", "--config", str(run.config)]
        async with process([*command, "run", "--port", str(port)], env, log):
            server = f"http://127.0.0.1:{port}"
            await wait_until_up(server, log)
            spec = Spec(
                urls=(server,),
                messages=args.messages,
                conversations=conversations,
                run_id=f"{run.run_id}-{label.replace(' ', '')}",
                secret=run.secret,
                web_ids=tuple(web_ids),
            )
            result = await surge(spec, args, conversations)
        await database.engine.dispose()
        text = log.read_text(errors="replace")
        result["server_traces"] = text.count("Traceback")
        result["overload_reports"] = text.count("overloaded: all")
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from bot.config_loader import load_settings

    config = ROOT / "config.yml"
    bound = args.max_turns or load_settings(config, dict(os.environ)).server.max_turns
    with tempfile.TemporaryDirectory(prefix="frontdesk-surge-") as name:
        runner = Run(config, _Shape(nlu_model_dir=args.nlu_model_dir), Path(name))
        await runner.train()
        rows: dict[str, dict[str, Any]] = {}
        plan = [
            ("capacity", CAPACITY_CONVERSATIONS, None),
            (f"max_turns {bound}", args.conversations, str(bound)),
            ("unbounded", args.conversations, str(UNBOUNDED)),
        ]
        for label, conversations, max_turns in plan:
            async with empty_redis(args.redis_url):
                rows[label] = await row(runner, args, label, conversations, max_turns)
    return {"rows": rows, "cpu_cores": os.cpu_count(), "give_up_s": args.give_up}


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{'':<14} {'conver-':>8} {'':>9} {'':>6} {'answered':>9} {'time to answer':>15}"
        f" {'':>7} {'what the sends got':>25}",
        f"{'row':<14} {'sations':>8} {'answered':>9} {'gave':>6} {'per s':>9} {'p50 ms':>7}"
        f" {'p99 ms':>7} {'sends':>7} {'503':>6} {'timeout':>8} {'other':>6} {'traces':>6}",
    ]
    for label, r in result["rows"].items():
        replies = Counter(r["replies"])
        other = r["sends"] - replies["200"] - replies["503"] - replies["TimeoutError"]
        p50 = "-" if r["p50_ms"] is None else f"{r['p50_ms']:.0f}"
        p99 = "-" if r["p99_ms"] is None else f"{r['p99_ms']:.0f}"
        lines.append(
            f"{label:<14} {r['conversations']:>8} {r['answered']:>9} {r['gave_up']:>6}"
            f" {r['answered_per_s']:>9.1f} {p50:>7} {p99:>7} {r['sends']:>7}"
            f" {replies['503']:>6} {replies['TimeoutError']:>8} {other:>6} {r['server_traces']:>6}"
        )
    lines.append(
        f"One `frontdesk run` process on PostgreSQL + Redis, {result['cpu_cores']} cores shared"
        " with the load. Customers resend a 503 after its Retry-After and a timeout at once,"
        f" with the same message id, giving up {result['give_up_s']:g} s after the first send;"
        " time to answer includes the retries. 'gave' = messages given up on."
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=3000, help="per row")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument(
        "--max-turns", type=int, help="the bounded row's server.max_turns (default: config.yml's)"
    )
    parser.add_argument("--give-up", type=float, default=60.0, help="seconds per message")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--nlu-model-dir", help="a trained model (default: train one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
