"""Real server processes for the integration tests: `frontdesk run` instances and nginx.

Instances are started as `python -m bot.cli run --port P` sharing one PostgreSQL and one Redis,
waited for on /healthz and stopped (terminate, or kill -9 for the fault tests). nginx runs as the
current user on loopback from deploy/nginx/frontdesk.conf, rendered with a test port and the
instances as its upstream; its pid, logs and temporary files live in the test's folder.
"""

from __future__ import annotations

import asyncio
import getpass
import io
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import aiohttp
from sqlalchemy import select

from bot.cli import main
from crm_store import models as m
from crm_store.database import Database, create_engine
from crm_store.enums import Channel, Direction
from tests.conftest import ROOT

NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "frontdesk.conf"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(postgres_url: str, redis_url: str, nlu_model: str) -> dict[str, str]:
    return {
        **os.environ,
        "FRONTDESK_DATABASE_URL": postgres_url,
        "FRONTDESK_REDIS_URL": redis_url,
        "FRONTDESK_NLU_MODEL_DIR": nlu_model,
    }


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: IO[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """kill -9: no shutdown, no cleanup, whatever was in flight is cut off."""
        self.process.kill()
        self.process.wait(timeout=10)


def start_server(
    env: dict[str, str], folder: Path, port: int | None = None, config: Path | None = None
) -> Server:
    port = port or free_port()
    log = (folder / f"server-{port}.log").open("w")
    command = [sys.executable, "-m", "bot.cli", "--config", str(config or ROOT / "config.yml")]
    process = subprocess.Popen(
        [*command, "run", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return Server(port, process, log)


@contextmanager
def running_servers(
    env: dict[str, str], folder: Path, count: int, config: Path | None = None
) -> Iterator[list[Server]]:
    """`count` instances (not yet waited for: see wait_until_up), stopped on the way out;
    config.yml unless another `config` is given."""
    servers = [start_server(env, folder, config=config) for _ in range(count)]
    try:
        yield servers
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.process.terminate()
        for server in servers:
            server.process.wait(timeout=20)
            server.log.close()


PHONE_LINE_OFF = (
    "  voice:       # the phone line (Twilio or SignalWire); switch on once the number is bought\n"
    "    enabled: false\n"
)


def phone_line_config(folder: Path) -> Path:
    """config.yml as shipped (the phone line off) with the phone line switched on, in `folder`."""
    shipped = (ROOT / "config.yml").read_text(encoding="utf-8")
    assert PHONE_LINE_OFF in shipped
    config = folder / "config.yml"
    on = PHONE_LINE_OFF.replace("false", "true")
    config.write_text(shipped.replace(PHONE_LINE_OFF, on), encoding="utf-8")
    return config


# -- nginx -----------------------------------------------------------------------------------------


def render_nginx(folder: Path, listen_port: int, upstreams: list[str]) -> Path:
    """deploy/nginx/frontdesk.conf with our port and instances, inside a complete nginx.conf
    whose pid, logs and temporary files are in `folder`."""
    site = NGINX_TEMPLATE.read_text()
    servers = "".join(f"    server {u} max_fails=3 fail_timeout=10s;\n" for u in upstreams)
    site, found = re.subn(
        r"(upstream frontdesk \{\n)(?:    server [^\n]*\n)+", rf"\1{servers}", site
    )
    assert found == 1, "no `upstream frontdesk` block with server lines in the template"
    site, found = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen_port};", site)
    assert found == 1, "no `listen 80;` in the template"
    temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        f"access_log {folder / 'access.log'};\n"
        f"client_body_temp_path {temp['body']};\nproxy_temp_path {temp['proxy']};\n"
        f"fastcgi_temp_path {temp['fastcgi']};\nuwsgi_temp_path {temp['uwsgi']};\n"
        f"scgi_temp_path {temp['scgi']};\n"
        f"{site}\n}}\n"
    )
    return conf


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    assert found, "nginx is not installed: scripts/test.sh installs Debian's nginx"
    return found


def nginx_command(folder: Path, conf: Path, *extra: str) -> list[str]:
    return [
        nginx_binary(),
        "-p",
        str(folder),
        "-e",
        str(folder / "error.log"),
        "-c",
        str(conf),
        *extra,
    ]


@contextmanager
def running_nginx(folder: Path, upstreams: list[str]) -> Iterator[str]:
    """nginx in front of `upstreams` (host:port), checked with `nginx -t` first; yields its URL."""
    port = free_port()
    conf = render_nginx(folder, port, upstreams)
    check = subprocess.run(nginx_command(folder, conf, "-t"), capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        nginx_command(folder, conf, "-g", "daemon off;"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- the record ------------------------------------------------------------------------------------


async def inbound_texts(database_url: str, sender: str) -> list[str]:
    """The inbound messages of the REST sender `sender`, in the order they were stored."""
    return (await inbound_by_sender(database_url, [sender]))[sender]


async def inbound_by_sender(database_url: str, senders: list[str]) -> dict[str, list[str]]:
    database = Database(create_engine(database_url))
    try:
        async with database.transaction() as session:
            rows = await session.execute(
                select(m.Identity.external_id, m.Interaction.text)
                .join(m.Interaction, m.Interaction.customer_id == m.Identity.customer_id)
                .where(
                    m.Identity.channel == Channel.REST,
                    m.Identity.external_id.in_(senders),
                    m.Interaction.direction == Direction.INBOUND,
                )
                .order_by(m.Interaction.id)
            )
            found: dict[str, list[str]] = {sender: [] for sender in senders}
            for sender, text in rows:
                found[sender].append(text or "")
            return found
    finally:
        await database.close()


# -- desk agents over HTTP and the record of the tickets ----------------------------------------

AGENT_SKILLS = ("reception", "booking", "billing", "nursing", "triage")
PASSWORD = "correct horse battery staple"


def create_agents(env: dict[str, str], count: int) -> list[str]:
    """`count` desk agents with every skill and PASSWORD, through `frontdesk agent create`."""
    run = uuid.uuid4().hex[:6]
    names = [f"agent-{run}-{i}" for i in range(count)]
    skills = [arg for skill in AGENT_SKILLS for arg in ("--skill", skill)]
    config = ["--config", str(ROOT / "config.yml")]
    # the clinic's services and practitioners (other tests may have emptied the database)
    assert main([*config, "demo", "seed", "--customers", "0"], environ=env) == 0
    saved = sys.stdin
    try:
        for name in names:
            sys.stdin = io.StringIO(f"{PASSWORD}\n")
            argv = [*config, "agent", "create", name, *skills, "--password-stdin"]
            assert main(argv, environ=env) == 0
    finally:
        sys.stdin = saved
    return names


class DeskAgent:
    """An agent signed in through nginx who then calls random instances: accepts every offer,
    pulls the next ticket and resolves what they hold, until told to stop."""

    def __init__(
        self, username: str, front: str, direct: list[str], timeout: aiohttp.ClientTimeout
    ) -> None:
        self.username, self.front, self.doors = username, front, [front, *direct]
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1, whatever the port
        self.session = aiohttp.ClientSession(timeout=timeout, cookie_jar=jar)
        self.csrf = ""
        self.took = 0
        self.rng = random.Random(username)

    async def sign_in(self) -> None:
        async with self.session.get(f"{self.front}/desk/api/login-token") as response:
            token = (await response.json())["csrf"]
        body = {"username": self.username, "password": PASSWORD}
        headers = {"X-CSRF-Token": token}
        async with self.session.post(
            f"{self.front}/desk/api/login", json=body, headers=headers
        ) as response:
            assert response.status == 200, await response.text()
            self.csrf = (await response.json())["csrf"]
        assert (await self.call("POST", "/desk/api/presence", {"presence": "available"}))[0] == 200

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        url = self.rng.choice(self.doors) + path
        headers = {"X-CSRF-Token": self.csrf}
        async with self.session.request(method, url, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def work(self, stop: asyncio.Event) -> None:
        rounds = 0
        while not stop.is_set():
            rounds += 1
            if rounds % 20 == 0:
                await self.call("POST", "/desk/api/presence", {"presence": "available"})
            status, console = await self.call("GET", "/desk/api/console")
            assert status == 200, console
            for offer in console["offers"]:
                ticket_id = offer["ticket"]["id"]
                status, _ = await self.call("POST", f"/desk/api/offers/{ticket_id}/accept")
                self.took += status == 200
            status, pulled = await self.call("POST", "/desk/api/next")
            self.took += status == 200 and pulled["ticket"] is not None
            status, console = await self.call("GET", "/desk/api/console")
            for ticket in console["tickets"]:
                path = f"/desk/api/tickets/{ticket['id']}/resolve"
                await self.call("POST", path, {"code": "resolved"})
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        await self.session.close()


@dataclass
class TicketRecord:
    tickets: int
    assignments: int
    doubles: dict[int, list[int]]  # ticket id: the agents it was assigned to, if not once
    unresolved: list[int]


async def ticket_record(database_url: str, senders: list[str]) -> TicketRecord:
    """The tickets of these REST senders, from the database alone."""
    database = Database(create_engine(database_url))
    try:
        async with database.transaction() as session:
            customers = select(m.Identity.customer_id).where(
                m.Identity.channel == Channel.REST, m.Identity.external_id.in_(senders)
            )
            tickets = (
                await session.execute(
                    select(m.Ticket.id, m.Ticket.status).where(m.Ticket.customer_id.in_(customers))
                )
            ).all()
            ids = [ticket_id for ticket_id, _ in tickets]
            events = (
                await session.execute(
                    select(m.TicketEvent.ticket_id, m.TicketEvent.data).where(
                        m.TicketEvent.ticket_id.in_(ids), m.TicketEvent.kind == "assigned"
                    )
                )
            ).all()
    finally:
        await database.close()
    owners: dict[int, list[int]] = {ticket_id: [] for ticket_id in ids}
    for ticket_id, data in events:
        owners[ticket_id].append(int(data["agent_id"]))
    return TicketRecord(
        tickets=len(ids),
        assignments=len(events),
        doubles={t: agents for t, agents in owners.items() if len(agents) > 1},
        unresolved=[t for t, status in tickets if status != "resolved"],
    )
