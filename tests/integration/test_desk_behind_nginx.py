"""The desk behind a real nginx (deploy/nginx/frontdesk.conf): sign-in throttling and the audit
log count the client's address, not nginx's, and a forged X-Forwarded-For changes nothing.

Two desk instances share one Redis (their failed-login counters too) behind nginx on loopback;
nginx reaches them from 127.0.0.1, the only trusted proxy. The "internet" clients connect from
other loopback addresses (127.0.0.2, 127.0.0.3, ...), so who is who is known for certain, and
every one of them sends an X-Forwarded-For of its own invention.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.routing_setup import open_routing
from crm_store.store import CrmStore
from desk.app import Desk, DeskHost, mount
from desk.audit import AuditEntry, AuditLog
from desk.config import LoginLimits
from desk.guard import TRUSTED_PROXIES
from desk.proxies import TrustedProxies
from routing.service import RoutingService
from tests.conftest import FakeClock
from tests.contract.routing_fixture import sqlite_crm_fixture  # noqa: F401
from tests.dialogue_support import demo_settings
from tests.e2e.desk_support import PASSWORD, RecordingNotifier, add_staff, desk_config
from tests.integration.servers import running_nginx

pytestmark = pytest.mark.redis
PER_ADDRESS = 3
NGINX_SIDE = TrustedProxies.of([ipaddress.ip_network("127.0.0.1/32")])
forged = (f"198.51.100.{n}" for n in itertools.count(1))


@dataclass
class Front:
    nginx: str  # http://127.0.0.1:P
    direct: list[str]  # the instances themselves
    store: CrmStore

    async def audit(self) -> list[AuditEntry]:
        return list(reversed(await AuditLog(self.store.database, self.store.clock).recent()))


async def desk_instance(
    stack: AsyncExitStack, store: CrmStore, routing: RoutingService, redis: aioredis.Redis
) -> str:
    settings = demo_settings("sqlite+aiosqlite:///unused.db")
    limits = LoginLimits(max_failures=100, max_failures_per_address=PER_ADDRESS)
    config = desk_config(settings, login=limits)
    desk = Desk(config, clock=store.clock)
    app = web.Application()
    mount(app, desk, lambda _app: DeskHost(store, routing, redis))
    app[TRUSTED_PROXIES] = NGINX_SIDE  # as bot/app.py sets it from desk.trusted_proxies
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    stack.push_async_callback(server.close)
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def front(
    sqlite_crm: CrmStore, clock: FakeClock, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Front]:
    settings = demo_settings("sqlite+aiosqlite:///unused.db")
    await add_staff(sqlite_crm)
    async with AsyncExitStack() as stack:
        routing = await stack.enter_async_context(
            open_routing(settings, sqlite_crm, notifier=RecordingNotifier(), clock=clock)
        )
        await routing.start()
        clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
        for client in clients:
            stack.push_async_callback(client.aclose)
        direct = [await desk_instance(stack, sqlite_crm, routing, c) for c in clients]
        upstreams = [url.removeprefix("http://") for url in direct]
        nginx = stack.enter_context(running_nginx(tmp_path_factory.mktemp("nginx"), upstreams))
        await until_listening(nginx)
        yield Front(nginx, direct, sqlite_crm)


async def until_listening(base: str, within: float = 30) -> None:
    """nginx has started once it answers (a refused connection means not yet)."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{base}/desk/api/login-token") as response:
                    assert response.status == 200, await response.text()
                    return
            except aiohttp.ClientConnectorError:
                assert time.monotonic() < deadline, f"nginx at {base} did not start"
                await asyncio.sleep(0.05)


async def sign_in(base: str, source: str, username: str, password: str) -> int:
    """One sign-in from `source` (a loopback address), with a forged X-Forwarded-For."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as http:
        lie = {"X-Forwarded-For": next(forged)}
        async with http.get(f"{base}/desk/api/login-token", headers=lie) as response:
            token = (await response.json())["csrf"]
        body = {"username": username, "password": password}
        headers = {"X-CSRF-Token": token, "X-Forwarded-For": next(forged)}
        async with http.post(f"{base}/desk/api/login", json=body, headers=headers) as response:
            return response.status


async def test_the_per_address_limit_follows_the_client_through_nginx(front: Front) -> None:
    for name in ("ann", "bob", "sue"):  # three usernames, one address, a new lie each time
        assert await sign_in(front.nginx, "127.0.0.2", name, "wrong password") == 401
    assert await sign_in(front.nginx, "127.0.0.2", "ada", PASSWORD) == 429  # that address waits
    assert await sign_in(front.nginx, "127.0.0.3", "ann", PASSWORD) == 200  # nobody else does

    entries = await front.audit()
    assert [(e.action, e.username, e.address) for e in entries] == [
        ("login_failed", "ann", "127.0.0.2"),
        ("login_failed", "bob", "127.0.0.2"),
        ("login_failed", "sue", "127.0.0.2"),
        ("login_throttled", "ada", "127.0.0.2"),
        ("login", "ann", "127.0.0.3"),
    ]


async def test_a_forged_header_sent_straight_to_an_instance_is_not_believed(
    front: Front,
) -> None:
    """Not through nginx: the peer is the client, whatever X-Forwarded-For says. The failures
    land on both instances and nginx, and count together (the counters are in Redis)."""
    for url in front.direct:
        assert await sign_in(url, "127.0.0.4", "ann", "wrong password") == 401
    assert await sign_in(front.nginx, "127.0.0.4", "bob", "wrong password") == 401
    assert await sign_in(front.direct[0], "127.0.0.4", "bob", PASSWORD) == 429
    assert {e.address for e in await front.audit()} == {"127.0.0.4"}
