"""Run a conversation file: turns go over the REST channel; replies and the store are checked.

File format (YAML):
    description: what the conversation shows
    now: 2026-11-23T09:00:00+00:00        # the clock (advanced by `wait: 5m` in a turn)
    turns:
      - sender: anna                       # REST sender id (kept until changed)
        signed: true                       # send a valid signed identity for user `sender`
        say: "hello"
        expect: ["Hello Anna"]             # substrings of the replies (or "~regex")
        not_expect: ["appointment"]        # substrings that must not appear
        buttons: ["Book an appointment"]   # substrings of the button titles (or a count)
    then:                                  # the store afterwards
      appointments: [{customer: {web: anna}, service: cleaning, status: booked, count: 2}]
      interactions: [{customer: {web: anna}, min: 6}]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.channels.identity import sign
from bot.channels.rest import PATH
from bot.durations import parse_duration
from crm_store.enums import Channel
from crm_store.models import Ticket
from crm_store.store import CrmStore
from tests.conftest import FakeClock

HERE = Path(__file__).resolve().parent
SECRET = "conversation-test-secret"


@dataclass
class Conversation:
    path: Path
    data: dict[str, Any]

    @property
    def now(self) -> datetime:
        return datetime.fromisoformat(str(self.data["now"]))


def conversations() -> list[Conversation]:
    return [
        Conversation(path, yaml.safe_load(path.read_text(encoding="utf-8")))
        for path in sorted(HERE.glob("*.yml"))
    ]


def _matches(expected: str, text: str) -> bool:
    if expected.startswith("~"):
        return re.search(expected[1:], text, re.IGNORECASE | re.DOTALL) is not None
    return expected.lower() in text.lower()


class Desk:
    """An agent working the desk during a conversation: `agent: take | say: ... | resolve`."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self.agent_id: int | None = None
        self.ticket_id: int | None = None

    async def act(self, step: dict[str, Any]) -> None:
        routing = self.bot.routing
        if self.agent_id is None:
            agent = await self.bot.store.agents.create(
                "maria",
                "a long enough password",
                display_name="Maria",
                skills=["reception", "booking", "billing", "nursing", "triage"],
            )
            self.agent_id = agent.id
            await routing.sign_in(agent.id)
        if step.get("agent") == "take":
            ticket = await routing.next_ticket(self.agent_id)
            if ticket is None:  # it was pushed to us as an offer
                (ticket,) = await routing.my_tickets(self.agent_id) or [None]
            assert ticket is not None, "no ticket for the agent"
            self.ticket_id = ticket.id
        elif step.get("agent") == "say":
            assert self.ticket_id is not None
            await routing.agent_message(self.ticket_id, self.agent_id, str(step["text"]))
        elif step.get("agent") == "resolve":
            assert self.ticket_id is not None
            await routing.resolve(self.ticket_id, self.agent_id)


async def run_turns(
    client: TestClient, clock: FakeClock, conversation: Conversation, desk: Desk
) -> None:
    sender = "someone"
    signed = False
    for number, turn in enumerate(conversation.data["turns"], start=1):
        if "agent" in turn:
            await desk.act(turn)
            continue
        where = f"{conversation.path.name} turn {number} ({turn.get('say')!r})"
        sender = str(turn.get("sender", sender))
        signed = bool(turn.get("signed", signed))
        if "wait" in turn:
            clock.advance(seconds=parse_duration(str(turn["wait"])).total_seconds())
        metadata: dict[str, Any] = {}
        if signed:
            metadata["identity"] = {"user_id": sender, "hash": sign(sender, SECRET)}
        response = await client.post(
            PATH, json={"sender": sender, "message": str(turn["say"]), "metadata": metadata}
        )
        assert response.status == 200, f"{where}: HTTP {response.status} {await response.text()}"
        replies = await response.json()
        text = "\n".join(r.get("text", "") for r in replies)
        titles = [b["title"] for r in replies for b in r.get("buttons", [])]
        position = 0
        for expected in turn.get("expect", []):
            assert _matches(expected, text[position:]), f"{where}: {expected!r} not in {text!r}"
        for unexpected in turn.get("not_expect", []):
            assert not _matches(unexpected, text), f"{where}: {unexpected!r} in {text!r}"
        wanted = turn.get("buttons")
        if isinstance(wanted, int):
            assert len(titles) == wanted, f"{where}: buttons {titles}"
        elif wanted:
            for title in wanted:
                if isinstance(title, int):
                    assert len(titles) == title, f"{where}: buttons {titles}"
                    continue
                assert any(_matches(title, t) for t in titles), (
                    f"{where}: {title!r} not in {titles}"
                )


async def customer_id(store: CrmStore, ref: dict[str, str]) -> int:
    ((channel, external_id),) = ref.items()
    found = await store.customers.find_by_identity(Channel(channel), str(external_id))
    assert found is not None, f"no customer {ref}"
    return found.id


async def check_store(store: CrmStore, conversation: Conversation) -> None:
    then = conversation.data.get("then") or {}
    for spec in then.get("appointments", []):
        cid = await customer_id(store, spec["customer"])
        exported = await store.privacy.export(cid)
        found = [
            a
            for a in exported["appointments"]
            if a["status"] == spec.get("status", a["status"])
            and (spec.get("service") is None or a["service_name"] == spec["service"])
        ]
        assert len(found) == spec["count"], f"{conversation.path.name}: appointments {found}"
    for spec in then.get("tickets", []):
        cid = await customer_id(store, spec["customer"])
        async with store.database.transaction() as session:
            rows = (await session.scalars(select(Ticket).where(Ticket.customer_id == cid))).all()
        wanted = {k: v for k, v in spec.items() if k not in ("customer", "count")}
        found = [r for r in rows if all(str(getattr(r, k)) == str(v) for k, v in wanted.items())]
        assert len(found) == spec.get("count", 1), f"{conversation.path.name}: tickets {rows}"
    for spec in then.get("interactions", []):
        cid = await customer_id(store, spec["customer"])
        exported = await store.privacy.export(cid)
        assert len(exported["interactions"]) >= spec["min"], exported["interactions"]
