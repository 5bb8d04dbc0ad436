"""The agents' console API against a real store and routing: presence, offers, next ticket, the
ticket's single customer view and transcript, replies that reach the customer, notes, waiting,
resolving, transfers, and booking for the customer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crm_store.enums import Channel, Direction
from crm_store.store import CrmStore
from routing.events import EventKind, TicketStatus
from routing.notify import NoticeKind
from tests.conftest import FakeClock
from tests.contract.catalog_fixture import seed_catalog
from tests.contract.routing_fixture import sqlite_crm_fixture  # noqa: F401
from tests.dialogue_support import demo_settings
from tests.e2e.desk_support import DeskWorld, desk_world

K = EventKind


@pytest.fixture
async def world(sqlite_crm: CrmStore, clock: FakeClock) -> AsyncIterator[DeskWorld]:
    settings = demo_settings("sqlite+aiosqlite:///unused.db")
    async with desk_world(sqlite_crm, settings, clock) as world:
        yield world


async def test_an_offer_accepted_then_a_reply_reaches_the_customer_and_the_ticket_is_resolved(
    world: DeskWorld, clock: FakeClock
) -> None:
    ann = await world.user("ann")
    await ann.ok("/desk/api/presence", {"presence": "available"})
    customer = await world.customer("Maria Jones", "rest:maria")
    await world.store.customers.record_transaction(customer, Decimal("80.00"), "GBP", "Cleaning")
    ticket = await world.ticket(customer, "billing", conversation="rest:maria")
    assert ticket.status is TicketStatus.OFFERED  # pushed to the only available billing agent

    console = await ann.json("/desk/api/console")
    assert console["presence"] == "available"
    (offer,) = console["offers"]
    assert offer["ticket"]["id"] == ticket.id
    assert (
        datetime.fromisoformat(offer["expires_at"])
        == clock.now + world.routing.parts.options.offer_timeout
    )

    await ann.ok(f"/desk/api/offers/{ticket.id}/accept")
    detail = await ann.json(f"/desk/api/tickets/{ticket.id}")
    assert detail["ticket"]["status"] == "assigned"
    assert detail["ticket"]["intent"] == "request_human" and detail["ticket"]["confidence"] == 0.93
    assert detail["customer"]["full_name"] == "Maria Jones"
    assert detail["customer"]["tier"] == "lead"
    assert detail["customer"]["identities"] == [
        {
            "channel": "rest",
            "external_id": "maria",
            "verified": False,
            "verified_at": None,
            "unreachable": False,
        }
    ]
    assert detail["transactions"]["count"] == 1
    assert detail["transactions"]["recent"][0]["item"] == "Cleaning"
    authors = [(e["author"], e.get("text")) for e in detail["transcript"]]
    assert authors[:3] == [
        ("customer", "I want to talk to a person about my bill"),
        ("bot", "One moment."),
        ("event", "handed to a person"),
    ]
    targets = {s["target"]: s for s in detail["sla"]}
    assert targets["first_response"]["state"] == "running"
    assert targets["first_response"]["remaining_seconds"] == 30 * 60  # lead tier: 30 minutes

    clock.advance(minutes=2)
    await ann.ok(f"/desk/api/tickets/{ticket.id}/reply", {"text": "Hello Maria, I'm looking."})
    notice = world.notifier.notices[-1]
    assert (notice.kind, notice.text, notice.conversation_id) == (
        NoticeKind.AGENT_MESSAGE,
        "Hello Maria, I'm looking.",
        "rest:maria",
    )
    await ann.ok(f"/desk/api/tickets/{ticket.id}/note", {"text": "asked about an invoice"})
    await ann.ok(f"/desk/api/tickets/{ticket.id}/waiting")
    detail = await ann.json(f"/desk/api/tickets/{ticket.id}")
    assert detail["ticket"]["status"] == "waiting_on_customer"
    assert {s["target"]: s["state"] for s in detail["sla"]}["resolution"] == "paused"
    await ann.ok(f"/desk/api/tickets/{ticket.id}/resume")

    bad = await ann.post(f"/desk/api/tickets/{ticket.id}/resolve", {"code": "made-up"})
    assert bad.status == 400 and "one of resolved" in (await bad.json())["error"]
    await ann.ok(f"/desk/api/tickets/{ticket.id}/resolve", {"code": "information-given"})
    events = await world.routing.events(ticket.id)
    assert events[-1].kind == K.RESOLVED and events[-1].data["code"] == "information-given"
    assert world.notifier.notices[-1].kind is NoticeKind.RESOLVED
    detail = await ann.json(f"/desk/api/tickets/{ticket.id}")
    said = [(e["author"], e["text"]) for e in detail["transcript"]]
    assert ("agent", "Hello Maria, I'm looking.") in said
    assert ("note", "asked about an invoice") in said


async def test_the_agents_reply_is_shown_once_though_the_history_has_it_too(
    world: DeskWorld,
) -> None:
    ann = await world.user("ann")
    customer = await world.customer("Maria Jones", "rest:maria")
    ticket = await world.ticket(customer, "billing", conversation="rest:maria")
    await ann.ok("/desk/api/next")
    await ann.ok(f"/desk/api/tickets/{ticket.id}/reply", {"text": "On it."})
    # what the bot's notifier records when it sends the reply on the customer's channel
    await world.store.customers.record_interaction(
        customer, Channel.REST, Direction.OUTBOUND, "Ann: On it.", conversation_id="rest:maria"
    )
    detail = await ann.json(f"/desk/api/tickets/{ticket.id}")
    texts = [e["text"] for e in detail["transcript"] if e["author"] in ("agent", "bot")]
    assert texts == ["One moment.", "On it."]


async def test_next_ticket_takes_the_best_waiting_ticket_and_declining_passes_it_on(
    world: DeskWorld,
) -> None:
    first = await world.ticket(await world.customer("A"), "billing")
    second = await world.ticket(await world.customer("B"), "billing")
    ann = await world.user("ann")
    taken = await ann.ok("/desk/api/next")
    assert taken["ticket"]["id"] == first.id and taken["ticket"]["status"] == "assigned"
    console = await ann.json("/desk/api/console")
    assert [t["id"] for t in console["tickets"]] == [first.id]
    assert console["waiting"] == {"billing": 1}

    await ann.ok("/desk/api/presence", {"presence": "available"})
    await world.routing.offer_next(second.id)
    await ann.ok(f"/desk/api/offers/{second.id}/decline")
    assert (await world.routing.ticket(second.id)).status is TicketStatus.QUEUED
    again = await ann.post(f"/desk/api/offers/{second.id}/accept")
    assert again.status == 409  # no longer on offer to her


async def test_nothing_waiting_gives_no_ticket(world: DeskWorld) -> None:
    ann = await world.user("ann")
    assert await ann.ok("/desk/api/next") == {"ticket": None}


async def test_only_the_holder_replies_or_resolves(world: DeskWorld) -> None:
    ticket = await world.ticket(await world.customer(), "billing")
    ann = await world.user("ann")
    response = await ann.post(f"/desk/api/tickets/{ticket.id}/reply", {"text": "hi"})
    assert response.status == 409  # visible (her queue) but not hers yet
    assert "queued" in (await response.json())["error"]


async def test_transfers_by_the_holder_and_reassignment_by_a_supervisor(
    world: DeskWorld,
) -> None:
    ticket = await world.ticket(await world.customer(), "billing")
    ann, sue = await world.user("ann"), await world.user("sue")
    refused = await ann.post(f"/desk/api/tickets/{ticket.id}/transfer", {"queue": "general"})
    assert refused.status == 409  # not hers
    await ann.ok("/desk/api/next")
    moved = await ann.ok(
        f"/desk/api/tickets/{ticket.id}/transfer", {"queue": "appointments", "reason": "a booking"}
    )
    assert moved["ticket"]["queue"] == "appointments" and moved["ticket"]["status"] == "queued"
    assert (await ann.get(f"/desk/api/tickets/{ticket.id}")).status == 403  # gone from her queues
    bob = world.staff["bob"]
    done = await sue.ok(f"/desk/api/tickets/{ticket.id}/transfer", {"agent_id": bob})
    assert done["ticket"]["assigned_agent_id"] == bob
    for body, error in (
        ({}, "say where to"),
        ({"queue": "nowhere"}, "queue"),
        ({"agent_id": "7"}, "agent_id"),
        ({"agent_id": 999}, "no agent 999"),
    ):
        response = await sue.post(f"/desk/api/tickets/{ticket.id}/transfer", body)
        assert response.status == 400 and error in (await response.json())["error"], body
    admin = await world.user("ada")
    actions = [(e["action"], e["agent_id"]) for e in await admin.json("/desk/api/audit")]
    assert ("transfer", world.staff["ann"]) in actions
    assert ("reassign", world.staff["sue"]) in actions


async def test_booking_and_cancelling_for_the_customer(world: DeskWorld) -> None:
    await seed_catalog(world.store)
    customer = await world.customer("Maria Jones", "rest:maria")
    ticket = await world.ticket(customer, "billing", conversation="rest:maria")
    ann = await world.user("ann")
    catalog = await ann.json("/desk/api/catalog")
    service = catalog["services"][0]
    resource = next(r for r in catalog["resources"] if service["skill"] in r["skills"])
    body = {
        "service": service["key"],
        "resource": resource["key"],
        "start_at": "2026-11-24T10:00:00+00:00",
    }
    refused = await ann.post(f"/desk/api/tickets/{ticket.id}/appointments", body)
    assert refused.status == 409  # take the ticket first
    await ann.ok("/desk/api/next")
    booked = (await ann.ok(f"/desk/api/tickets/{ticket.id}/appointments", body))["appointment"]
    assert booked["start_at"] == "2026-11-24T10:00:00+00:00"
    taken = await ann.post(f"/desk/api/tickets/{ticket.id}/appointments", body)
    assert taken.status == 409  # the slot is taken now
    detail = await ann.json(f"/desk/api/tickets/{ticket.id}")
    assert [a["id"] for a in detail["customer"]["appointments"]] == [booked["id"]]
    assert any("booked" in (e["text"] or "") for e in detail["transcript"] if e["author"] == "note")
    cancelled = await ann.ok(f"/desk/api/tickets/{ticket.id}/appointments/{booked['id']}/cancel")
    assert cancelled["appointment"]["status"] == "cancelled"
    naive = await ann.post(
        f"/desk/api/tickets/{ticket.id}/appointments", {**body, "start_at": "2026-11-24T10:00"}
    )
    assert naive.status == 400


async def test_bad_requests_get_clear_errors_and_nothing_changes(world: DeskWorld) -> None:
    ticket = await world.ticket(await world.customer(), "billing")
    ann = await world.user("ann")
    await ann.ok("/desk/api/next")
    url = f"{world.base}/desk/api/tickets/{ticket.id}/reply"
    headers = {"X-CSRF-Token": ann.csrf}
    for body, status in (
        (b"{", 400),
        (b"[]", 400),
        (b'{"text": ""}', 400),
        (b'{"text": 5}', 400),
        (('{"text": "%s"}' % ("x" * 4001)).encode(), 400),
    ):
        response = await ann.http.post(url, data=body, headers=headers)
        assert response.status == status, body[:20]
        assert "Traceback" not in await response.text()
    assert (await ann.get("/desk/api/tickets/99999")).status == 404
    assert (await ann.get("/desk/api/tickets/abc")).status == 400
    assert (await ann.post("/desk/api/presence", {"presence": "asleep"})).status == 400
    kinds = [e.kind for e in await world.routing.events(ticket.id)]
    assert K.AGENT_MESSAGE not in kinds


async def test_an_xss_payload_comes_back_as_plain_data(world: DeskWorld) -> None:
    payload = '<img src=x onerror="alert(1)">'
    customer = await world.customer(payload, "rest:x")
    ticket = await world.ticket(customer, "billing", conversation="rest:x", said=payload)
    ann = await world.user("ann")
    response = await ann.get(f"/desk/api/tickets/{ticket.id}")
    assert response.headers["Content-Type"].startswith("application/json")
    detail = await response.json()
    assert detail["customer"]["full_name"] == payload
    assert detail["transcript"][0]["text"] == payload


async def test_canned_responses_and_codes_come_from_config(world: DeskWorld) -> None:
    ann = await world.user("ann")
    me = await ann.json("/desk/api/me")
    assert [c["key"] for c in me["canned_responses"]][:2] == ["greeting", "checking"]
    assert me["resolution_codes"][0] == {"key": "resolved", "title": "Resolved"}
    assert datetime.fromisoformat((await ann.json("/desk/api/console"))["now"]).tzinfo == UTC
