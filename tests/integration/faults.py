"""Support for the fault tests: customers who retry, the desk agent who pulls the tickets
afterwards, and the one-line account of each scenario (messages sent, stored, answered). The
private Redis and PostgreSQL servers are in faults_servers.py.

A customer here behaves like a real client behind a load balancer: every message carries a
`metadata.message_id`; a request that fails (the connection cut, a 502 from nginx, a 503 "try
again") is sent again with the same id to another door after a short pause, until it gets a 200.
Every refusal is checked for politeness on the way: a 503 must be a short JSON body with a
readable `error`, never a stack trace; anything else (a 500, an HTML error page from Frontdesk)
is written down as impolite.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from sqlalchemy import select

from crm_store import models as m
from crm_store.database import Database, create_engine
from crm_store.enums import Channel
from tests.integration.servers import PASSWORD, DeskAgent

PATH = "/webhooks/rest/webhook"
TAP_FIRST = "<tap the first button>"  # the payload of the last reply's first button
BOOKING = [
    ("I would like to book a cleaning", "These times are free for a Dental cleaning"),
    ("next wednesday morning", "Wednesday"),
    (TAP_FIRST, "May I have your full name"),
    ("Robin Tester", "Shall I book a dental cleaning"),
    ("no", "No problem"),
]
ESCALATE = ("I want to talk to a person", "I've passed this to our team")
# templates/en.yml `error`: a turn that failed and was answered (200) rather than refused (503)
APOLOGY = "something went wrong on our side"
Script = list[tuple[str, str | None]]  # what the customer says, what the first reply contains


class GaveUp(RuntimeError):
    """A message still had no 200 after the customer's patience ran out."""


@dataclass
class Tally:
    """What the customers saw, for the scenario's line and its assertions."""

    sent: dict[str, list[str]] = field(default_factory=dict)  # sender: texts, in order
    answered: int = 0  # messages that got a 200 in the end
    retries: int = 0
    refusals: Counter[str] = field(default_factory=Counter)  # "503", "502", "ClientOSError" ...
    impolite: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # a reply that does not fit the script
    apologies: list[str] = field(default_factory=list)  # "something went wrong" with a 200
    gave_up: list[str] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return sum(len(texts) for texts in self.sent.values())


def polite_refusal(status: int, content_type: str, body: str) -> str | None:
    """Why this refusal is not the polite 503 JSON Frontdesk promises, or None if it is."""
    if status != 503:
        return f"status {status}"
    if content_type != "application/json":
        return f"503 as {content_type}"
    if "Traceback" in body or 'File "' in body:
        return "503 with a stack trace"
    try:
        error = json.loads(body).get("error")
    except (json.JSONDecodeError, AttributeError):
        return "503 whose body is not a JSON object"
    if not isinstance(error, str) or not any(c.isalpha() for c in error) or len(error) > 200:
        return f"503 without a readable error: {error!r}"
    return None


class Customers:
    """Conversations over `doors` (instances or nginx) that retry until answered."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        doors: list[str],
        *,
        in_flight: int,
        cut_off_ok: frozenset[int] = frozenset(),  # statuses a proxy answers when cut off
        patience: float = 120,
    ) -> None:
        self.session, self.doors = session, doors
        self.cut_off_ok = cut_off_ok
        self.patience = patience
        self.tally = Tally()
        self.in_flight = asyncio.Semaphore(in_flight)
        self.rng = random.Random(len(doors))
        self.progress = asyncio.Condition()

    async def say(self, sender: str, text: str, message_id: str) -> list[dict[str, Any]]:
        self.tally.sent.setdefault(sender, []).append(text)
        body = {"sender": sender, "message": text, "metadata": {"message_id": message_id}}
        door = self.rng.choice(self.doors)
        started = time.monotonic()
        deadline = started + self.patience
        tries: list[str] = []
        pause = 0.1
        while True:
            outcome = await self._attempt(door, body)
            tries.append(f"{outcome} at {time.monotonic() - started:.1f}s from {door[-5:]}")
            if isinstance(outcome, list):
                async with self.progress:
                    self.tally.answered += 1
                    self.progress.notify_all()
                return outcome
            self.tally.refusals[outcome] += 1
            if time.monotonic() > deadline:
                self.tally.gave_up.append(f"{sender} {text!r}: {tries}")
                raise GaveUp(sender)
            self.tally.retries += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
            door = self.rng.choice([d for d in self.doors if d != door] or self.doors)

    async def _attempt(self, door: str, body: dict[str, Any]) -> list[dict[str, Any]] | str:
        try:
            async with self.in_flight, self.session.post(f"{door}{PATH}", json=body) as response:
                raw = await response.text()
                if response.status == 200:
                    replies: list[dict[str, Any]] = json.loads(raw)
                    return replies
                if response.status not in self.cut_off_ok:
                    why = polite_refusal(response.status, response.content_type, raw)
                    if why:
                        self.tally.impolite.append(f"{why}: {raw[:200]!r}")
                return str(response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return type(exc).__name__

    async def converse(self, sender: str, script: Script) -> None:
        button = ""
        for step, (said, expected) in enumerate(script):
            text = (button or "9am") if said == TAP_FIRST else said
            try:
                replies = await self.say(sender, text, f"{sender}-{step}")
            except GaveUp:
                return
            if any(APOLOGY in str(reply.get("text")) for reply in replies):
                self.tally.apologies.append(f"{sender} step {step} ({text!r})")
            first = replies[0] if replies else {}
            buttons = first.get("buttons") or []
            button = str(buttons[0]["payload"]) if buttons else ""
            shown = f"{first.get('text', '')} {' | '.join(str(b['title']) for b in buttons)}"
            if expected is not None and expected not in shown:
                self.tally.wrong.append(f"{sender} step {step} ({text!r}): {shown!r}")

    async def reached(self, answered: int) -> None:
        """Until `answered` messages have had their 200 (the load's own progress, not time)."""
        async with self.progress:
            await self.progress.wait_for(lambda: self.tally.answered >= answered)


async def probe(session: aiohttp.ClientSession, url: str, sender: str) -> tuple[int, str]:
    """One message, no retry: its status and why the answer is not a polite refusal ("" if it
    is one, or if it is a 200)."""
    body = {"sender": sender, "message": "hello", "metadata": {"message_id": f"{sender}-0"}}
    async with session.post(f"{url}{PATH}", json=body) as response:
        raw = await response.text()
        if response.status == 200:
            return 200, ""
        return response.status, polite_refusal(response.status, response.content_type, raw) or ""


# -- the account of a scenario -----------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    scenario: str
    sent: int
    stored: int
    answered: int
    lost: int  # sent, never stored
    doubles: int  # stored more often than sent
    misordered: int  # conversations whose record is not exactly what was sent, in order
    apologies: int  # answered "something went wrong" (a 200) instead of refused (a 503)
    retries: int
    refusals: dict[str, int]
    examples: list[str]  # a few conversations whose record differs from what was sent

    def line(self) -> str:
        refused = ", ".join(f"{k} x{v}" for k, v in sorted(self.refusals.items())) or "none"
        return (
            f"\n| {self.scenario} | sent {self.sent} | stored {self.stored} | answered "
            f"{self.answered} | lost {self.lost} | doubles {self.doubles} | misordered "
            f"{self.misordered} | apologies {self.apologies} | retries {self.retries} | "
            f"refusals: {refused} |"
        )


def account(scenario: str, tally: Tally, stored: dict[str, list[str]]) -> Account:
    lost = doubles = misordered = 0
    examples: list[str] = []
    for sender, texts in tally.sent.items():
        record = stored.get(sender, [])
        lost += sum((Counter(texts) - Counter(record)).values())
        doubles += sum((Counter(record) - Counter(texts)).values())
        misordered += record != texts
        if record != texts and len(examples) < 3:
            examples.append(f"{sender}: sent {texts}, stored {record}")
    return Account(
        scenario,
        sent=tally.messages,
        stored=sum(len(stored.get(sender, [])) for sender in tally.sent),
        answered=tally.answered,
        lost=lost,
        doubles=doubles,
        misordered=misordered,
        apologies=len(tally.apologies),
        retries=tally.retries,
        refusals=dict(tally.refusals),
        examples=examples,
    )


# -- the desk ----------------------------------------------------------------------------------


class PatientAgent(DeskAgent):
    """A desk agent who, told "try again shortly" (a polite 503), does; `refused` counts it."""

    refused = 0

    async def sign_in(self, *, available: bool = True) -> None:
        status, token = await self.ask("GET", "/desk/api/login-token")
        assert status == 200, token
        body = {"username": self.username, "password": PASSWORD}
        self.csrf = token["csrf"]
        status, signed = await self.ask("POST", "/desk/api/login", body)
        assert status == 200, signed
        self.csrf = signed["csrf"]
        if available:
            status, _ = await self.ask("POST", "/desk/api/presence", {"presence": "available"})
            assert status == 200

    async def ask(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        for _ in range(40):
            headers = {"X-CSRF-Token": self.csrf}
            url = self.rng.choice(self.doors) + path
            async with self.session.request(method, url, json=body, headers=headers) as response:
                raw = await response.text()
                if response.status != 503:
                    return response.status, json.loads(raw)
                why = polite_refusal(response.status, response.content_type, raw)
                assert why is None, f"{method} {path}: {why}"
            self.refused += 1
            await asyncio.sleep(0.25)
        raise AssertionError(f"{method} {path}: still refused after 40 tries")


async def lock_keys(redis_url: str, sender: str) -> dict[str, Any]:
    """The fair conversation lock of a REST sender as Redis has it (for a stuck conversation)."""
    conversation = f"rest:{sender}"
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        found: dict[str, Any] = {"time": await client.time()}
        for name in ("lock", "lockq", "lockserve", "lockturn"):
            key = f"fd:{name}:{conversation}"
            found[name] = (await client.get(key), await client.pttl(key))
        found["lockgone"] = await client.smembers(f"fd:lockgone:{conversation}")
        return found
    finally:
        await client.aclose()


# -- tickets -------------------------------------------------------------------------------------


async def open_ticket_ids(database_url: str, senders: list[str]) -> list[int]:
    """The open tickets of these REST senders, from the database."""
    database = Database(create_engine(database_url))
    try:
        async with database.transaction() as session:
            customers = select(m.Identity.customer_id).where(
                m.Identity.channel == Channel.REST, m.Identity.external_id.in_(senders)
            )
            rows = await session.execute(
                select(m.Ticket.id)
                .where(m.Ticket.customer_id.in_(customers), m.Ticket.status != "resolved")
                .order_by(m.Ticket.id)
            )
            return [ticket_id for (ticket_id,) in rows]
    finally:
        await database.close()


def sla_dues(detail: dict[str, Any]) -> dict[str, str | None]:
    """A desk ticket view's SLA clocks: target -> due time (what a flush must not move)."""
    return {clock["target"]: clock["due_at"] for clock in detail["sla"]}
