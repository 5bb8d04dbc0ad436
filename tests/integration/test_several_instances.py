"""Three `frontdesk run` instances behind a real nginx (deploy/nginx/frontdesk.conf) on one
PostgreSQL and one Redis: 200 conversations at once, their messages spread over the instances.

Each conversation is a booking dialogue whose every reply depends on the step before (the slots
offered for the day asked for, the name asked after a slot was picked, the confirmation after the
name): a message handled out of order, or a state lost between instances, gives a wrong reply.
Messages go through nginx (round robin) or straight to a random instance; one message of each
conversation is sent twice at once with the same message_id (a client's retry) to two different
instances. A quarter of the conversations end by asking for a person while six agents work the
tickets through the desk API on random instances. From the record afterwards: each conversation's
inbound messages are exactly those sent, once each, in order; every ticket was assigned once.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.bench_e2e import wait_until_up
from crm_store.database import Database, create_engine
from tests.conftest import truncate_postgres
from tests.integration.servers import (
    DeskAgent,
    Server,
    TicketRecord,
    create_agents,
    inbound_by_sender,
    running_nginx,
    running_servers,
    server_env,
    ticket_record,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

CONVERSATIONS = 200
INSTANCES = 3
AGENTS = 6
PATH = "/webhooks/rest/webhook"
# Requests in flight at once. Each holds a database connection on its instance, and three
# instances' pools (3 x 20) leave room under a default PostgreSQL (max_connections 100).
IN_FLIGHT = 60
TAP_FIRST = "<tap the first button>"  # sends the payload of the last reply's first button
# (what the customer says, what the bot's first reply must contain)
BOOKING = [
    ("I would like to book a cleaning", "These times are free for a Dental cleaning"),
    ("next wednesday morning", "Wednesday"),
    (TAP_FIRST, "May I have your full name"),
    ("Robin Tester", "Shall I book a dental cleaning"),
]
DECLINE = ("no", "No problem")
ESCALATE = ("I want to talk to a person", "I've passed this to our team")


def script(index: int) -> list[tuple[str, str]]:
    return [*BOOKING, ESCALATE if index % 4 == 0 else DECLINE]


@pytest.fixture
def fleet(
    postgres_url: str, redis_url: str, nlu_model: str, tmp_path: Path
) -> Iterator[tuple[list[Server], str, list[str]]]:
    env = server_env(postgres_url, redis_url, nlu_model)
    asyncio.run(empty(postgres_url))  # another test's queued ticket would be taken too
    usernames = create_agents(env, AGENTS)
    with running_servers(env, tmp_path, INSTANCES) as servers:
        upstreams = [f"127.0.0.1:{s.port}" for s in servers]
        with running_nginx(tmp_path, upstreams) as front:
            yield servers, front, usernames


async def empty(url: str) -> None:
    database = Database(create_engine(url))
    try:
        await truncate_postgres(database)
    finally:
        await database.close()


class Customers:
    """The conversations' side: who said what, through which door, and what came back."""

    def __init__(self, session: aiohttp.ClientSession, front: str, direct: list[str]) -> None:
        self.session, self.front, self.direct = session, front, direct
        self.run = uuid.uuid4().hex[:6]
        self.sent: dict[str, list[str]] = {}
        self.first_button: dict[str, str] = {}
        self.wrong: list[str] = []
        self.doors: dict[str, int] = {"nginx": 0, "direct": 0}
        self.in_flight = asyncio.Semaphore(IN_FLIGHT)

    async def post(self, url: str, sender: str, text: str, **meta: str) -> str:
        body = {"sender": sender, "message": text, "metadata": meta}
        async with self.in_flight, self.session.post(f"{url}{PATH}", json=body) as response:
            assert response.status == 200, f"{sender}: {response.status} {await response.text()}"
            replies = await response.json()
        # the first reply's text and its buttons' titles (a slot list says the day on them)
        if not replies:
            return ""
        buttons = replies[0].get("buttons", [])
        self.first_button[sender] = str(buttons[0]["payload"]) if buttons else ""
        titles = " | ".join(str(b["title"]) for b in buttons)
        return f"{replies[0]['text']} {titles}"

    async def converse(self, index: int) -> None:
        rng = random.Random(index)
        sender = f"multi-{self.run}-{index:03d}"
        self.sent[sender] = []
        retried = index % len(BOOKING)
        await asyncio.sleep(rng.random() * 0.5)
        for step, (said, expected) in enumerate(script(index)):
            text = self.first_button.get(sender, "") if said == TAP_FIRST else said
            self.sent[sender].append(text)
            door = self.front if rng.random() < 0.6 else rng.choice(self.direct)
            self.doors["nginx" if door == self.front else "direct"] += 1
            if step == retried:  # the same message twice at once, with the same id
                mid = f"{sender}-{step}"
                other = rng.choice([u for u in self.direct if u != door] or [self.front])
                first, again = await asyncio.gather(
                    self.post(door, sender, text, message_id=mid),
                    self.post(other, sender, text, message_id=mid),
                )
                if first != again:
                    self.wrong.append(f"{sender} step {step}: retry got {again!r}, not {first!r}")
                reply = first
            else:
                reply = await self.post(door, sender, text)
            if expected not in reply:
                self.wrong.append(f"{sender} step {step} ({text!r}): {reply!r}")
                return


async def test_two_hundred_conversations_over_three_instances_behind_nginx(
    fleet: tuple[list[Server], str, list[str]], postgres_url: str
) -> None:
    servers, front, usernames = fleet
    direct = [server.url for server in servers]
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(wait_until_up(url, within=90) for url in [*direct, front]))
        customers = Customers(session, front, direct)
        agents = [DeskAgent(name, front, direct, timeout) for name in usernames]
        await asyncio.gather(*(agent.sign_in() for agent in agents))
        stop = asyncio.Event()
        working = [asyncio.create_task(agent.work(stop)) for agent in agents]
        started = time.perf_counter()
        try:
            await asyncio.gather(*(customers.converse(i) for i in range(CONVERSATIONS)))
            talked = time.perf_counter() - started
            senders = sorted(customers.sent)
            escalated = sum(1 for i in range(CONVERSATIONS) if script(i)[-1] == ESCALATE)
            record = await wait_for_resolved(postgres_url, senders, escalated)
        finally:
            stop.set()
            await asyncio.gather(*working)
            await asyncio.gather(*(agent.close() for agent in agents))
    messages = sum(len(texts) for texts in customers.sent.values())
    print(
        f"\n{CONVERSATIONS} conversations, {messages} messages ({customers.doors}) over "
        f"{INSTANCES} instances behind nginx: {talked:.1f} s, {messages / talked:.0f} msg/s; "
        f"{record.tickets} tickets, {record.assignments} assignments by {AGENTS} agents"
    )
    assert customers.wrong == [], customers.wrong[:5]
    assert await inbound_by_sender(postgres_url, senders) == customers.sent
    assert record.tickets == escalated, f"tickets: {record.tickets}, escalations: {escalated}"
    assert record.doubles == {} and record.unresolved == [], record
    assert record.assignments == escalated
    assert sum(agent.took for agent in agents) == escalated


async def wait_for_resolved(database_url: str, senders: list[str], expected: int) -> TicketRecord:
    deadline = time.monotonic() + 30
    while True:
        record = await ticket_record(database_url, senders)
        done = record.tickets >= expected and not record.unresolved
        if done or time.monotonic() > deadline:
            return record
        await asyncio.sleep(0.2)
