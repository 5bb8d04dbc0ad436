"""Servers of the fault tests' own, so that the faults are theirs alone: a redis-server without
persistence (flushed, frozen, killed and restarted at will) and a PostgreSQL cluster made with
initdb and run with pg_ctl (stopped and started under load). The shared ones are flushed and
loaded by every other test running at the same time.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from crm_store.database import Database, create_engine
from crm_store.migrate import upgrade
from tests.integration.servers import free_port

# -- a Redis server of our own ------------------------------------------------------------------


class PrivateRedis:
    """redis-server on a free port, without persistence: a restart starts it empty. The
    blocking steps (start, kill -9) have async twins for use under load."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        command += ["--logfile", str(self.folder / f"redis-{self.port}.log")]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            for _ in range(200):
                try:
                    client.ping()
                    return
                except (RedisError, OSError):
                    time.sleep(0.05)
            raise AssertionError("redis-server did not start")
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: every command sent from now on waits, as behind a hung server."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    async def restart_later(self) -> None:
        await asyncio.to_thread(self.start)

    async def kill_now(self) -> None:
        await asyncio.to_thread(self.kill)

    async def flushall(self) -> None:
        client = aioredis.Redis.from_url(self.url)
        try:
            await client.flushall()
        finally:
            await client.aclose()


# -- a PostgreSQL cluster of our own -------------------------------------------------------------


def pg_bin() -> Path:
    """Debian's PostgreSQL binaries (the newest installed version)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    assert found, "PostgreSQL's server binaries are not installed (Debian: postgresql)"
    return found[-1].parent


PG_SETTINGS = (
    "-c listen_addresses=127.0.0.1 -c max_connections=200 "
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
)


class PrivatePostgres:
    """initdb + pg_ctl in a folder of its own, on a free port. As root the cluster belongs to
    the `postgres` user (initdb refuses root), so its folder is outside pytest's tmp_path (whose
    parents only root may enter)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="frontdesk-pg-"))
        self.data, self.port = self.folder / "data", free_port()

    @property
    def server_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/frontdesk"

    def _run(self, *command: str) -> None:
        if os.geteuid() == 0:
            command = ("runuser", "-u", "postgres", "--", *command)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(pg_bin() / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(pg_bin() / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-N", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} {PG_SETTINGS}"
        self._pg_ctl("-l", str(self.folder / "server.log"), "-o", options, "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")

    async def create_database(self) -> str:
        """The database `frontdesk`, migrated to the head revision; returns its URL."""
        conn = await asyncpg.connect(self.server_url, timeout=10)
        try:
            await conn.execute('CREATE DATABASE "frontdesk"')
        finally:
            await conn.close()
        database = Database(create_engine(self.url))
        try:
            await upgrade(database)
        finally:
            await database.close()
        return self.url

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
