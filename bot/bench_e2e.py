"""`frontdesk bench e2e`: messages/s and p50/p99 latency through the REST channel, end to end.

Every set-up is real `frontdesk run` processes on loopback with a trained NLU model (trained in a
temporary folder unless one is given), the demo clinic seeded into a throwaway database
(PostgreSQL: `frontdesk_bench_<random>` created on the server and dropped at the end; SQLite: a
temporary file), conversation state and locks in memory or in Redis:

  sqlite+memory, 1 process      the embedded defaults
  postgres+redis, 1 process     the scale-out stores, one instance
  postgres+redis, 2 processes   two instances on one database and one Redis database, every
                                conversation's messages alternating between them
  durable floor, 2 processes    bot/bench_floor.py: a bare aiohttp handler that does only a
                                turn's PostgreSQL and Redis input and output (no NLU, no
                                dialogue, no ORM) on the same seeded database: what the
                                stores' work for each message leaves room for on this machine
  echo (ceiling)                a bare aiohttp handler that only echoes the JSON

Redis: a database of its own (default redis://127.0.0.1:6379/13), which must be empty at the
start and is flushed at the end. The load (bot/bench_load.py) comes from one more process, over
keep-alive connections, with the same mix and concurrency for every row, the echo included; it
shares the machine's cores with the servers, and the output says how many there are.

Each row is driven twice: saturated (a closed loop: each conversation writes again as soon as it
is answered) and paced (half the saturated rate on a fixed schedule, latency from each message's
slot: the latency at that load). JSON: the headline keys (`msgs_per_s`, `p50_ms`, `p99_ms`,
`echo_msgs_per_s`, `ratio`: PostgreSQL + Redis, two processes, saturated), `paced` and
`targets_met`, and every row under `setups`.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

SQLITE, PG1, PG2 = "sqlite+memory", "postgres+redis", "postgres+redis x2"
FLOOR = "durable floor x2"
SETUPS = {"sqlite": SQLITE, "postgres": PG1, "postgres2": PG2, "floor": FLOOR}
ECHO = "echo (ceiling)"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
TARGETS = {"msgs_per_s": 1000.0, "p99_ms": 50.0, "ratio": 0.25}
PACED_SHARE = 0.5  # the paced run offers half the saturated throughput


@dataclass(frozen=True)
class E2eBench:
    messages: int = 2000
    conversations: int = 64
    setups: tuple[str, ...] = tuple(SETUPS)
    customers: int = 200  # the demo clinic's size
    nlu_model_dir: str | None = None  # a trained model to use; None: train one


class BenchError(RuntimeError):
    pass


def setups_of(names: str) -> tuple[str, ...]:
    """`sqlite,postgres2` -> the set-up keys; unknown names raise ValueError."""
    keys = tuple(name.strip() for name in names.split(",") if name.strip())
    unknown = [key for key in keys if key not in SETUPS]
    if unknown or not keys:
        raise ValueError(f"unknown set-ups {unknown}; choose from {', '.join(SETUPS)}")
    return keys


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def process(
    args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> AsyncIterator[int]:
    """A child process (output to `log`), terminated on the way out; yields its pid.

    Shared with bench/webchat_sessions.py, as are wait_until_up, free_port and empty_redis.
    """
    with log.open("w") as out:
        child = await asyncio.create_subprocess_exec(
            *args, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT, cwd=cwd
        )
        try:
            yield child.pid
        finally:
            if child.returncode is None:
                child.terminate()
            try:
                await asyncio.wait_for(child.wait(), 30)
            except TimeoutError:
                child.kill()
                await child.wait()


async def wait_until_up(url: str, log: Path | None = None, *, within: float = 120) -> None:
    """Until `url`/healthz answers 200: BenchError (with the end of the server's `log`) if it
    does not within `within` seconds (a loaded machine can take a while to start a server)."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    ending = "" if log is None else f"; its log ends:\n{tail(log)}"
    raise BenchError(f"{url} did not come up{ending}")


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) the processes have used so far (Linux /proc; else 0)."""
    total = 0.0
    for pid in pids:
        found = _stat(Path(f"/proc/{pid}/stat"))
        if found is None:
            return 0.0
        total += found[1]
    return total


def _stat(stat: Path) -> tuple[str, float] | None:
    """A process's name and CPU seconds (utime + stime), or None once it is gone."""
    try:
        name, _, rest = stat.read_text().partition("(")[2].rpartition(")")
    except OSError:
        return None
    fields = rest.split()
    return name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


STORES = ("postgres", "redis-server")


def store_cpu() -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL and Redis process on this machine, by pid.

    The database and cache run on the same cores as the servers, so their share of each
    message shows how much of the machine is left for Frontdesk itself.
    """
    used: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        found = _stat(stat)
        if found is not None and found[0] in STORES:
            used[int(stat.parent.name)] = found[1]
    return used


def store_cpu_since(before: dict[int, float]) -> float:
    """Seconds of store CPU since `before` (a process that ended since is not counted)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in store_cpu().items())


async def load_twice(spec: dict[str, Any], servers: list[int]) -> dict[str, Any]:
    """Saturated (closed loop), then paced at PACED_SHARE of the saturated rate: the row."""
    row = await generate_load(spec, servers)
    rate = round(row["msgs_per_s"] * PACED_SHARE, 1)
    paced = {**spec, "rate": rate, "warmup": 0, "run_id": spec["run_id"] + "-paced"}
    paced["messages"] = max(spec["messages"] // 2, 1)
    result = await generate_load(paced, servers)
    row["paced"] = {
        "offered_msgs_per_s": rate,
        "msgs_per_s": result["msgs_per_s"],
        "p50_ms": result["p50_ms"],
        "p99_ms": result["p99_ms"],
        "errors": result["errors"],
    }
    return row


async def generate_load(spec: dict[str, Any], servers: list[int]) -> dict[str, Any]:
    """The load process's result, plus the servers' CPU milliseconds per message."""
    before, stores = cpu_seconds(servers), store_cpu()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.bench_load", "load",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        cwd=_root(),
    )  # fmt: skip
    out, _ = await child.communicate(json.dumps(spec).encode())
    if child.returncode != 0:
        raise BenchError(f"the load generator failed (exit {child.returncode})")
    result: dict[str, Any] = json.loads(out)
    sent = spec["messages"] + spec["warmup"]
    result["server_cpu_ms_per_msg"] = round((cpu_seconds(servers) - before) * 1000 / sent, 2)
    result["store_cpu_ms_per_msg"] = round(store_cpu_since(stores) * 1000 / sent, 2)
    return result


def _root() -> Path:
    return Path(__file__).resolve().parent.parent


class Run:
    """One benchmark run: a temporary folder, the model, the secret, the load's shape."""

    def __init__(self, config: Path, bench: E2eBench, folder: Path) -> None:
        self.config = config
        self.bench = bench
        self.folder = folder
        self.secret = secrets.token_hex(16)
        self.run_id = f"b{secrets.token_hex(3)}"
        self.model_dir = bench.nlu_model_dir or str(folder / "nlu")
        self.web_ids: list[str] = []  # customers who can sign in, from the first seeding

    def env(self, database_url: str, redis_url: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
        env.update(
            FRONTDESK_DATABASE_URL=database_url,
            FRONTDESK_NLU_MODEL_DIR=self.model_dir,
            WEBCHAT_IDENTITY_SECRET=self.secret,
            PYTHONPATH=str(_root()),
        )
        if redis_url:
            env["FRONTDESK_REDIS_URL"] = redis_url
        return env

    async def cli(self, env: dict[str, str], *args: str) -> None:
        log = self.folder / f"cli-{args[0]}.log"
        with log.open("w") as out:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "--config", str(self.config), *args,
                env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            if await child.wait() != 0:
                raise BenchError(f"frontdesk {' '.join(args)} failed:\n{tail(log)}")

    async def train(self) -> None:
        if self.bench.nlu_model_dir is None:
            await self.cli(self.env("sqlite+aiosqlite:///unused.db", None), "nlu", "train")

    def spec(self, urls: list[str], web_ids: list[str], label: str) -> dict[str, Any]:
        bench = self.bench
        return {
            "urls": urls,
            "messages": bench.messages,
            "conversations": bench.conversations,
            "warmup": max(bench.conversations * 2, bench.messages // 10),
            "run_id": f"{self.run_id}-{label}",
            "secret": self.secret,
            "web_ids": web_ids,
        }

    async def echo(self) -> dict[str, Any]:
        port = free_port()
        log = self.folder / "echo.log"
        args = [sys.executable, "-m", "bot.bench_load", "echo", str(port)]
        async with process(args, self.env("", None), log) as pid:
            url = f"http://127.0.0.1:{port}"
            await wait_until_up(url, log)
            return await load_twice(self.spec([url], self.web_ids, "echo"), [pid])

    async def setup(self, name: str, database_url: str, redis_url: str | None) -> dict[str, Any]:
        """Seed a throwaway database, start the servers, drive them, stop them."""
        from bot.bench_queue import throwaway_database

        async with throwaway_database(database_url) as database:
            url = database.engine.url.render_as_string(hide_password=False)
            env = self.env(url, redis_url)
            web_ids = await seed(self.config, env, self.bench.customers)
            self.web_ids = self.web_ids or web_ids
            count = 2 if name in (PG2, FLOOR) else 1
            ports = [free_port() for _ in range(count)]
            async with AsyncExitStack() as stack:
                pids = []
                for port in ports:
                    log = self.folder / f"server-{port}.log"
                    args = [sys.executable, "-m", "bot.cli", "--config", str(self.config)]
                    args += ["run", "--port", str(port)]
                    if name == FLOOR:
                        args = [sys.executable, "-m", "bot.bench_floor", str(port), url]
                        args.append(redis_url or "")
                    pids.append(await stack.enter_async_context(process(args, env, log)))
                urls = [f"http://127.0.0.1:{port}" for port in ports]
                for port, server in zip(ports, urls, strict=True):
                    await wait_until_up(server, self.folder / f"server-{port}.log")
                label = name.replace("+", "-").replace(" ", "")
                result = await load_twice(self.spec(urls, web_ids, label), pids)
            await database.engine.dispose()
        return {**result, "processes": count}


async def seed(config: Path, env: dict[str, str], customers: int) -> list[str]:
    """The demo clinic in the database of `env`; the web identities customers can sign in as."""
    from sqlalchemy import select

    from bot.config_loader import load_settings
    from bot.demo_seed import DemoSeeder
    from bot.resources import open_crm
    from crm_store import models as m
    from crm_store.enums import Channel

    settings = load_settings(config, env)
    async with open_crm(settings) as store:
        await DemoSeeder(settings, store).run(customers)
        async with store.database.transaction() as session:
            rows = await session.scalars(
                select(m.Identity.external_id).where(m.Identity.channel == Channel.WEB)
            )
            return sorted(rows)


@asynccontextmanager
async def empty_redis(url: str) -> AsyncIterator[str]:
    """The Redis database of `url`, refused unless empty, flushed on the way out."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        keys = await client.dbsize()
        if keys:  # somebody else's: left alone
            raise BenchError(f"an empty Redis database is needed; {url} holds {keys} keys")
        try:
            yield url
        finally:
            await client.flushdb()
    finally:
        await client.aclose()


async def run(config: Path, database_url: str, redis_url: str, bench: E2eBench) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="frontdesk-e2e-") as name:
        folder = Path(name)
        runner = Run(config, bench, folder)
        started = time.perf_counter()
        await runner.train()
        rows: dict[str, dict[str, Any]] = {}
        for key in bench.setups:
            setup = SETUPS[key]
            if setup == SQLITE:
                rows[setup] = await runner.setup(setup, "sqlite+aiosqlite:///x.db", None)
            else:
                async with empty_redis(redis_url):
                    rows[setup] = await runner.setup(setup, database_url, redis_url)
        rows[ECHO] = await runner.echo()
        return summary(rows, bench, time.perf_counter() - started)


def summary(rows: dict[str, dict[str, Any]], bench: E2eBench, seconds: float) -> dict[str, Any]:
    echo = rows[ECHO]["msgs_per_s"]
    for row in rows.values():
        row["ratio"] = round(row["msgs_per_s"] / echo, 3)
    headline = rows.get(PG2) or next(iter(rows.values()))
    return {
        "setup": next(name for name, row in rows.items() if row is headline),
        "msgs_per_s": headline["msgs_per_s"],
        "p50_ms": headline["p50_ms"],
        "p99_ms": headline["p99_ms"],
        "paced": headline["paced"],
        "echo_msgs_per_s": echo,
        "ratio": headline["ratio"],
        "floor_msgs_per_s": rows[FLOOR]["msgs_per_s"] if FLOOR in rows else None,
        "errors": headline["errors"],
        "targets_met": {
            "msgs_per_s >= 1000": headline["msgs_per_s"] >= TARGETS["msgs_per_s"],
            "p99_ms <= 50": headline["p99_ms"] <= TARGETS["p99_ms"],
            "ratio >= 0.25": headline["ratio"] >= TARGETS["ratio"],
        },
        "setups": rows,
        "messages": bench.messages,
        "conversations": bench.conversations,
        "cpu_cores": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "load_generator": "one process on the same cores as the servers (aiohttp, keep-alive)",
        "seconds": round(seconds, 1),
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{'':<20} {'saturated':^35} {'paced at half':^22}",
        f"{'set-up':<20} {'msgs/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x echo':>7}"
        f" {'msgs/s':>6} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'CPU ms/msg: servers':>19} {'load':>5} {'PG+Redis':>9} {'errors':>6}",
    ]
    for name, row in result["setups"].items():
        paced = row["paced"]
        lines.append(
            f"{name:<20} {row['msgs_per_s']:>9.1f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}"
            f" {row['ratio']:>7.3f} {paced['msgs_per_s']:>6.0f} {paced['p50_ms']:>7.2f}"
            f" {paced['p99_ms']:>7.2f} {row['server_cpu_ms_per_msg']:>19.2f}"
            f" {row['load_cpu_ms_per_msg']:>5.2f} {row['store_cpu_ms_per_msg']:>9.2f}"
            f" {row['errors'] + paced['errors']:>6}"
        )
    for name, row in result["setups"].items():
        if row["errors"]:
            lines.append(f"{name}: {row['error_kinds']} instead of 200")
    lines.append(
        f"{result['messages']} messages per row, {result['conversations']} conversations at once;"
        f" saturated: each conversation writes again as soon as it is answered; paced: half the"
        f" saturated rate offered on a fixed schedule ({result['messages'] // 2} messages),"
        f" latency counted from each message's slot. The load generator is one more process on"
        f" the same {result['cpu_cores']} cores (load average {result['load_average_1m_at_end']}"
        f" at the end), and so are PostgreSQL and Redis: CPU ms/msg is each one's share of the"
        f" saturated run."
    )
    if FLOOR in result["setups"]:
        lines.append(
            f"{FLOOR}: a bare handler doing a turn's PostgreSQL and Redis work and nothing else"
            f" (no NLU, no dialogue): what the stores' work for each message leaves room for."
        )
    return "\n".join(lines)
