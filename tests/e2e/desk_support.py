"""Helpers for the desk's tests: the desk on a real CRM store and routing service, served by a
real aiohttp server, and signed-in users with their own cookie jars.

The API tests do not need the NLU model: the desk is mounted on a small app with the demo
config's queues, calendars and SLA policies; customers' tickets are opened through routing as
the dialogue would open them. The browser tests use the whole app (bot.app.build_app).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher
from sqlalchemy import insert, select

from bot.config import Settings
from bot.routing_setup import open_routing, queue_calendars, sla_policy
from crm_store import models as m
from crm_store.enums import AgentRole, Channel, Direction
from crm_store.store import CrmStore
from crm_store.tiers import Tier
from desk.app import Desk, DeskHost, mount
from desk.config import DeskConfig
from routing.events import Urgency
from routing.notify import CustomerNotice
from routing.service import RoutingService
from routing.tickets import Ticket

PASSWORD = "correct horse battery staple"
STAFF = {  # username: (roles, skills)
    "ann": ((AgentRole.AGENT,), ("billing",)),
    "bob": ((AgentRole.AGENT,), ("booking",)),
    "sue": ((AgentRole.SUPERVISOR,), ()),
    "ada": ((AgentRole.ADMIN,), ()),
}


def desk_config(settings: Settings, **changes: Any) -> DeskConfig:
    config = DeskConfig.build(
        settings.desk,
        business_name=settings.business.name,
        timezone=settings.business.tz,
        public_url=settings.server.public_url,
        calendars=queue_calendars(settings),
        sla_policies={name: sla_policy(p) for name, p in settings.sla_policies.items()},
    )
    return replace(config, **changes)


class RecordingNotifier:
    """Routing's customer notices (what the bot would send to the customer)."""

    def __init__(self) -> None:
        self.notices: list[CustomerNotice] = []

    async def notify(self, notice: CustomerNotice) -> None:
        self.notices.append(notice)


@dataclass
class DeskUser:
    """A browser-less user: their own cookie jar, and the CSRF token of their session."""

    base: str
    http: aiohttp.ClientSession
    csrf: str = ""

    async def login(self, username: str, password: str = PASSWORD) -> aiohttp.ClientResponse:
        token = await (await self.http.get(f"{self.base}/desk/api/login-token")).json()
        response = await self.http.post(
            f"{self.base}/desk/api/login",
            json={"username": username, "password": password},
            headers={"X-CSRF-Token": token["csrf"]},
        )
        if response.status == 200:
            self.csrf = (await response.json())["csrf"]
        return response

    async def get(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.http.get(f"{self.base}{path}", **kwargs)

    async def post(
        self, path: str, body: Mapping[str, Any] | None = None, *, csrf: str | None = None
    ) -> aiohttp.ClientResponse:
        token = self.csrf if csrf is None else csrf
        headers = {"X-CSRF-Token": token} if token else {}
        return await self.http.post(f"{self.base}{path}", json=dict(body or {}), headers=headers)

    async def json(self, path: str) -> Any:
        response = await self.get(path)
        assert response.status == 200, (path, response.status, await response.text())
        return await response.json()

    async def ok(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        response = await self.post(path, body)
        assert response.status in (200, 201), (path, response.status, await response.text())
        return await response.json()


@dataclass
class DeskWorld:
    store: CrmStore
    routing: RoutingService
    desk: Desk
    server: TestServer
    notifier: RecordingNotifier
    staff: dict[str, int] = field(default_factory=dict)
    _sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def base(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def user(self, username: str | None = None) -> DeskUser:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self._sessions.append(http)
        user = DeskUser(self.base, http)
        if username is not None:
            response = await user.login(username)
            assert response.status == 200, await response.text()
        return user

    async def customer(self, name: str = "Maria Jones", conversation: str | None = None) -> int:
        from crm_store.customers import NewCustomer

        identities = [(Channel.REST, conversation.partition(":")[2])] if conversation else []
        record = await self.store.customers.create(NewCustomer(name), identities)
        return record.id

    async def ticket(
        self,
        customer_id: int,
        queue: str = "billing",
        *,
        conversation: str | None = None,
        said: str = "I want to talk to a person about my bill",
        tier: Tier = Tier.LEAD,
    ) -> Ticket:
        """A ticket as the dialogue opens one, after the customer and the bot spoke."""
        if conversation is not None:
            for direction, text in ((Direction.INBOUND, said), (Direction.OUTBOUND, "One moment.")):
                await self.store.customers.record_interaction(
                    customer_id, Channel.REST, direction, text, conversation_id=conversation
                )
        return await self.routing.open_ticket(
            customer_id=customer_id,
            queue=queue,
            tier=tier,
            channel=Channel.REST,
            urgency=Urgency.NORMAL,
            conversation_id=conversation,
            reason=f"request_human while chatting: {said}",
            intent="request_human",
            confidence=0.93,
        )

    async def close(self) -> None:
        for http in self._sessions:
            await http.close()


@functools.cache
def cheap_hash(password: str) -> str:
    """An argon2 hash with small costs: verified for real, in milliseconds (the costs are in
    the hash), so that tests can sign in often."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)


async def add_staff(
    store: CrmStore, staff: Mapping[str, tuple[Sequence[AgentRole], Sequence[str]]] = STAFF
) -> dict[str, int]:
    """The desk's staff, written straight into the table with cheap password hashes."""
    rows = [
        {"username": name, "display_name": name.title(), "password_hash": cheap_hash(PASSWORD),
         "roles": [role.value for role in roles], "skills": list(skills), "capacity": 3,
         "active": True, "created_at": store.clock()}
        for name, (roles, skills) in staff.items()
    ]  # fmt: skip
    async with store.database.transaction() as session:
        await session.execute(insert(m.Agent), rows)
        found = await session.execute(select(m.Agent.username, m.Agent.id))
        return {name: agent_id for name, agent_id in found if name in staff}


@asynccontextmanager
async def desk_world(
    store: CrmStore,
    settings: Settings,
    clock: Any,
    *,
    redis: object | None = None,
    **config: Any,
) -> AsyncIterator[DeskWorld]:
    """The desk served on a real port over `store`, routing on the memory live layer."""
    notifier = RecordingNotifier()
    staff = await add_staff(store)
    async with open_routing(settings, store, notifier=notifier, clock=clock) as routing:
        await routing.start()
        desk = Desk(desk_config(settings, **config), clock=clock)
        app = web.Application()
        mount(app, desk, lambda _app: DeskHost(store, routing, redis))
        server = TestServer(app)
        await server.start_server()
        world = DeskWorld(store, routing, desk, server, notifier, staff)
        try:
            yield world
        finally:
            await world.close()
            await server.close()
