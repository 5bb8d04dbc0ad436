"""2,000 concurrent web chat sessions on one process: connect time, round trips, memory per session.

The server is a real `frontdesk run` process (the real WebchatChannel, dialogue and trained NLU
model) on SQLite + in-process memory, or with `--postgres` on PostgreSQL + Redis (the Redis
fan-out subscribed); the load comes from another process. Every session opens the WebSocket and
says hello (connect time: from the upgrade request to the welcome), and once all of them are open
each sends one message (round trip: from the frame to its ack, the answer stored and shown) and a
few pings (from the ping to its pong), at most `--concurrency` at a time, every session staying
open to the end. Memory per session: the server's VmRSS (/proc/<pid>/status) with every session
open, minus before the first one, divided by the number of sessions.

The ceiling, measured the same way in the same run: a bare aiohttp WebSocket server in its own
process that answers hello with a welcome, a message with an ack and a ping with a pong.

    .venv/bin/python bench/webchat_sessions.py
    .venv/bin/python bench/webchat_sessions.py --postgres --nlu-model-dir /tmp/model --json

The database is a throwaway (a temporary SQLite file, or `frontdesk_bench_<random>` on the
PostgreSQL server of `--database-url`, dropped at the end); `--redis-url` names a database that
must be empty (flushed at the end). It is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.bench_e2e import empty_redis, free_port, process, wait_until_up  # noqa: E402

ORIGIN = "http://localhost:8080"  # allowed by the shipped config.yml
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"


def raise_open_files() -> int:
    """Lift the soft open-files limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


# -- the load (its own process) -------------------------------------------------------------------


class Load:
    def __init__(self, url: str, pid: int, sessions: int, pings: int, concurrency: int) -> None:
        self.url, self.pid, self.sessions, self.pings = url, pid, sessions, pings
        self.gate = asyncio.Semaphore(concurrency)
        self.all_open = asyncio.Event()
        self.done = asyncio.Event()
        self.tried = Countdown(sessions)  # sessions that opened (or failed to)
        self.talked = Countdown(sessions)  # sessions that talked (or failed, or never opened)
        self.connect_ms: list[float] = []
        self.message_ms: list[float] = []
        self.ping_ms: list[float] = []
        self.failures = 0

    async def run(self) -> dict[str, Any]:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            before = rss_kib(self.pid)
            started = time.perf_counter()
            tasks = [asyncio.create_task(self.session(http, n)) for n in range(self.sessions)]
            await self.tried.zero.wait()
            open_s = time.perf_counter() - started
            opened = rss_kib(self.pid)
            self.all_open.set()
            await self.talked.zero.wait()
            after = rss_kib(self.pid)
            self.done.set()
            await asyncio.gather(*tasks)
        return {
            "sessions": self.sessions,
            "failures": self.failures,
            "open_s": open_s,
            "connect_ms": percentiles(self.connect_ms),
            "message_ms": percentiles(self.message_ms),
            "ping_ms": percentiles(self.ping_ms),
            "rss_before_kib": before,
            "rss_open_kib": opened,
            "rss_after_kib": after,
            "kib_per_session": (opened - before) / self.sessions,
            "kib_per_session_after": (after - before) / self.sessions,
        }

    async def session(self, http: aiohttp.ClientSession, number: int) -> None:
        try:
            async with self.gate:
                began = time.perf_counter()
                ws = Conn(
                    await http.ws_connect(f"{self.url}/webchat/ws", headers={"Origin": ORIGIN})
                )
                await ws.send({"type": "hello"})
                await ws.until(lambda f: f["type"] == "welcome")
                self.connect_ms.append((time.perf_counter() - began) * 1000)
        except (aiohttp.ClientError, TimeoutError, OSError):
            self.failures += 1
            self.tried.down()
            self.talked.down()
            return
        self.tried.down()
        try:
            await self.all_open.wait()
            async with self.gate:
                await self.talk(ws, number)
        except (aiohttp.ClientError, TimeoutError, OSError):
            self.failures += 1
        finally:
            self.talked.down()
        await self.done.wait()
        await ws.close()

    async def talk(self, ws: Conn, number: int) -> None:
        key = f"bench-{number:06d}-{secrets.token_hex(4)}"
        began = time.perf_counter()
        await ws.send({"type": "message", "key": key, "text": "hello"})
        last = await ws.until(lambda f: f["type"] in ("ack", "error") and f.get("key") == key)
        if last["type"] != "ack":
            raise aiohttp.ClientError(f"message refused: {last}")
        self.message_ms.append((time.perf_counter() - began) * 1000)
        for _ in range(self.pings):
            began = time.perf_counter()
            await ws.send({"type": "ping", "last_seq": last["seq"]})
            await ws.until(lambda f: f["type"] == "pong")
            self.ping_ms.append((time.perf_counter() - began) * 1000)


class Conn:
    """A session's socket with a reader that never stops (so the server's heartbeat pings are
    answered while the session waits), frames queued for `until`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.frames.put_nowait(json.loads(msg.data))
        self.frames.put_nowait(None)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_json(frame)

    async def until(self, done: Any) -> dict[str, Any]:
        while True:
            frame = await asyncio.wait_for(self.frames.get(), 60)
            if frame is None:
                raise aiohttp.ClientError("socket closed")
            if done(frame):
                return frame

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


class Countdown:
    def __init__(self, count: int) -> None:
        self.left = count
        self.zero = asyncio.Event()
        if count <= 0:
            self.zero.set()

    def down(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.zero.set()


async def until(ws: aiohttp.ClientWebSocketResponse, done: Any) -> dict[str, Any]:
    while True:
        msg = await ws.receive(timeout=60)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise aiohttp.ClientError(f"socket closed: {msg.type}")
        frame: dict[str, Any] = json.loads(msg.data)
        if done(frame):
            return frame


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": values[0] if values else float("nan"), "p99": float("nan")}
    cuts = statistics.quantiles(values, n=100)
    return {"p50": statistics.median(values), "p99": cuts[98]}


# -- the ceiling: a bare aiohttp WebSocket server (its own process) --------------------------------


async def echo_socket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=25)
    await ws.prepare(request)
    seq = 0
    async for msg in ws:
        frame = json.loads(msg.data)
        if frame["type"] == "hello":
            await ws.send_json({"type": "welcome", "session": "x" * 22, "messages": []})
        elif frame["type"] == "message":
            seq += 1
            await ws.send_json({"type": "message", "seq": seq, "text": frame["text"]})
            await ws.send_json({"type": "ack", "key": frame["key"], "seq": seq})
        else:
            await ws.send_json({"type": "pong"})
    return ws


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def serve_echo(port: int) -> None:
    app = web.Application()
    app.router.add_get("/webchat/ws", echo_socket)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, backlog=1024)


# -- the run (the parent process) ------------------------------------------------------------------


async def drive(url: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    spec = [url, str(pid), str(args.sessions), str(args.pings), str(args.concurrency)]
    loader = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "load", *spec, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    out, _ = await loader.communicate()
    if loader.returncode != 0:
        raise RuntimeError(f"the load generator failed (exit {loader.returncode})")
    result: dict[str, Any] = json.loads(out)
    return result


def base_env(folder: Path, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(FRONTDESK_NLU_MODEL_DIR=args.nlu_model_dir or str(folder / "nlu"))
    env.update(PYTHONPATH=str(ROOT))
    return env


async def frontdesk(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    from bot.bench_queue import throwaway_database

    env = base_env(folder, args)
    if args.nlu_model_dir is None:
        train = [sys.executable, "-m", "bot.cli", "--config", str(ROOT / "config.yml")]
        trainer = await asyncio.create_subprocess_exec(
            *train, "nlu", "train", env={**env, "FRONTDESK_DATABASE_URL": "sqlite+aiosqlite://"}
        )
        if await trainer.wait() != 0:
            raise RuntimeError("nlu train failed")
    database_url = args.database_url if args.postgres else "sqlite+aiosqlite:///unused.db"
    async with AsyncExitStack() as stack:
        database = await stack.enter_async_context(throwaway_database(database_url))
        env["FRONTDESK_DATABASE_URL"] = database.engine.url.render_as_string(hide_password=False)
        if args.postgres:
            await stack.enter_async_context(empty_redis(args.redis_url))
            env["FRONTDESK_REDIS_URL"] = args.redis_url
        port, log = free_port(), folder / "frontdesk.log"
        cmd = [sys.executable, "-m", "bot.cli", "--config", str(ROOT / "config.yml")]
        pid = await stack.enter_async_context(
            process([*cmd, "run", "--port", str(port)], env, log, cwd=ROOT)
        )
        url = f"http://127.0.0.1:{port}"
        await wait_until_up(url, log)
        await warm_up(url)
        result = await drive(url, pid, args)
    return result


async def warm_up(url: str) -> None:
    """One conversation first, so that lazy start-up work (the first parse) is not measured."""
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{url}/webchat/ws", headers={"Origin": ORIGIN})
        await ws.send_json({"type": "hello"})
        await until(ws, lambda f: f["type"] == "welcome")
        await ws.send_json({"type": "message", "key": "warm-up-0001", "text": "hello"})
        await until(ws, lambda f: f["type"] == "ack")
        await ws.close()


async def ceiling(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    port, log = free_port(), folder / "echo.log"
    cmd = [sys.executable, __file__, "echo", str(port)]
    async with process(cmd, base_env(folder, args), log, cwd=ROOT) as pid:
        url = f"http://127.0.0.1:{port}"
        await wait_until_up(url, log)
        await warm_up(url)
        return await drive(url, pid, args)


def table(rows: dict[str, dict[str, Any]], args: argparse.Namespace, limit: int) -> str:
    head = (
        f"{'server':<26} {'open':>6} {'fail':>5} {'connect p50/p99 ms':>19} "
        f"{'message p50/p99 ms':>19} {'ping p50/p99 ms':>16} {'KiB/session':>12}"
    )
    lines = [
        f"web chat: {args.sessions} concurrent sessions, 1 message + {args.pings} pings each, "
        f"{args.concurrency} at a time; {os.cpu_count()} cores; open files {limit}",
        head,
        "-" * len(head),
    ]
    for name, r in rows.items():
        c, m, p = r["connect_ms"], r["message_ms"], r["ping_ms"]
        lines.append(
            f"{name:<26} {r['sessions'] - r['failures']:>6} {r['failures']:>5} "
            f"{c['p50']:>9.1f}/{c['p99']:<9.1f} {m['p50']:>9.1f}/{m['p99']:<9.1f} "
            f"{p['p50']:>7.1f}/{p['p99']:<8.1f} {r['kib_per_session']:>12.1f}"
        )
    lines.append(
        "KiB/session: server VmRSS with every session open minus before the first, / sessions"
    )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    limit = raise_open_files()
    name = "frontdesk postgres+redis" if args.postgres else "frontdesk sqlite+memory"
    with tempfile.TemporaryDirectory(prefix="frontdesk-webchat-bench-") as tmp:
        folder = Path(tmp)
        rows = {name: await frontdesk(folder, args)}
        rows["bare aiohttp (ceiling)"] = await ceiling(folder, args)
    print(json.dumps(rows, indent=2) if args.json else table(rows, args, limit))
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["load"]:
        raise_open_files()
        url, pid, sessions, pings, concurrency = argv[1:6]
        load = Load(url, int(pid), int(sessions), int(pings), int(concurrency))
        print(json.dumps(asyncio.run(load.run())))
        return 0
    if argv[:1] == ["echo"]:
        raise_open_files()
        serve_echo(int(argv[1]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--pings", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50, help="sessions talking at once")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL + Redis")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--nlu-model-dir", help="a trained model (default: train one)")
    parser.add_argument("--json", action="store_true")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
