"""The supervisors' dashboard API and GET /metrics: the numbers follow what happened, the warnings
list is sorted by time to breach, one-click actions work, the exports and the gaps report."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest

from crm_store.store import CrmStore
from routing.events import TicketStatus
from tests.conftest import FakeClock
from tests.contract.routing_fixture import sqlite_crm_fixture  # noqa: F401
from tests.dialogue_support import demo_settings
from tests.e2e.desk_support import DeskWorld, desk_world


@pytest.fixture
async def world(sqlite_crm: CrmStore, clock: FakeClock) -> AsyncIterator[DeskWorld]:
    settings = demo_settings("sqlite+aiosqlite:///unused.db")
    async with desk_world(sqlite_crm, settings, clock, metrics_token="scrape-me") as world:
        yield world


async def a_morning(world: DeskWorld, clock: FakeClock) -> list[int]:
    """Monday 09:00 (the clinic is open): billing answers one ticket in 10 s, one in 60 s and
    has one waiting; appointments loses one after 30 s. Ann resolves her first ticket."""
    ann = world.staff["ann"]
    one = await world.ticket(await world.customer("One"), "billing")
    two = await world.ticket(await world.customer("Two"), "billing")
    lost = await world.ticket(await world.customer("Lost"), "appointments")
    clock.advance(seconds=10)
    assert (await world.routing.next_ticket(ann)).id == one.id
    clock.advance(seconds=20)
    await world.routing.abandon(lost.id)
    clock.advance(seconds=30)
    assert (await world.routing.next_ticket(ann)).id == two.id
    waiting = await world.ticket(await world.customer("<b>Waiting</b>"), "billing")
    clock.advance(seconds=30)
    await world.routing.agent_message(one.id, ann, "Sorted.")
    await world.routing.resolve(one.id, ann, "resolved")
    await world.routing.rate(one.id, 5)
    return [one.id, two.id, lost.id, waiting.id]


async def test_the_board_counts_what_happened(world: DeskWorld, clock: FakeClock) -> None:
    *_, waiting = await a_morning(world, clock)
    sue = await world.user("sue")
    board = await sue.json("/desk/api/dashboard")
    queues = {q["key"]: q for q in board["queues"]}
    billing, appointments = queues["billing"], queues["appointments"]
    assert billing["waiting"] == 1 and billing["longest_wait"] == 30.0
    assert billing["offered_today"] == 3 and billing["answered_today"] == 2
    assert billing["service_level"] == {"interval": 0.5, "hour": 0.5, "today": 0.5}
    assert billing["average_speed_of_answer"] == 35.0
    assert billing["backlog"] == 2 and billing["satisfaction_today"] == 5.0
    assert appointments["abandoned_today"] == 1
    assert appointments["service_level"]["today"] == 0.0
    assert queues["general"]["service_level"]["today"] is None  # nothing to measure: not 0 %
    agents = {a["display_name"]: a for a in board["agents"]}
    assert agents["Ann"]["handled_today"] == 1 and agents["Ann"]["answered_today"] == 2
    assert agents["Ann"]["load"] == 1
    assert {t["id"]: t["customer"] for t in board["open_tickets"]}[waiting] == "<b>Waiting</b>"
    assert board["totals"]["offered"] == 4


async def test_warnings_are_sorted_by_time_to_breach_with_one_click_actions(
    world: DeskWorld, clock: FakeClock
) -> None:
    _, two, lost, waiting = await a_morning(world, clock)
    clock.advance(minutes=25)  # lead tier: first response in 30 min, warning at 80 % (24 min)
    sue = await world.user("sue")
    board = await sue.json("/desk/api/dashboard")
    alerts = [(a["ticket_id"], a["target"], a["state"]) for a in board["alerts"]]
    assert alerts == [(two, "first_response", "warning"), (waiting, "first_response", "warning")]
    left = [a["remaining_seconds"] for a in board["alerts"]]
    assert left == sorted(left) and left[0] < left[1]
    before = (await world.routing.ticket(waiting)).priority
    raised = await sue.ok(f"/desk/api/tickets/{waiting}/priority")
    assert raised["ticket"]["priority"] == before + 200
    board = await sue.json("/desk/api/dashboard")  # the cached board was dropped
    assert {t["id"]: t["priority"] for t in board["open_tickets"]}[waiting] == before + 200
    set_to = await sue.ok(f"/desk/api/tickets/{waiting}/priority", {"priority": 5000})
    assert set_to["ticket"]["priority"] == 5000
    bad = await sue.post(f"/desk/api/tickets/{waiting}/priority", {"priority": -1})
    assert bad.status == 400
    closed = await sue.post(f"/desk/api/tickets/{lost}/priority")
    assert closed.status == 409
    clock.advance(minutes=6)
    board = await sue.json("/desk/api/dashboard")
    assert [a["state"] for a in board["alerts"]] == ["breached", "breached"]


async def test_intervals_and_csv_exports(world: DeskWorld, clock: FakeClock) -> None:
    one, two, lost, waiting = await a_morning(world, clock)
    sue = await world.user("sue")
    day = await sue.json("/desk/api/dashboard/intervals?date=2026-11-23")
    assert day["interval_minutes"] == 15
    rows = {(r["queue"], r["interval"]): r for r in day["queues"]}
    billing = rows[("billing", "2026-11-23T09:00:00+00:00")]
    assert (billing["offered"], billing["answered"], billing["service_level"]) == (3, 2, 0.5)
    assert day["totals"][0]["offered"] == 4

    response = await sue.get("/desk/api/export/intervals.csv?date=2026-11-23")
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["queue"], r["offered"], r["service_level"]) for r in table] == [
        ("appointments", "1", "0"),
        ("billing", "3", "0.5"),
        ("(all)", "4", "0.3333"),
    ]
    assert table[0]["interval_start"] == "2026-11-23T09:00:00+00:00"

    tickets = await sue.get("/desk/api/export/tickets.csv")
    table = list(csv.DictReader(io.StringIO(await tickets.text())))
    assert [r["id"] for r in table] == [str(t) for t in (one, two, lost, waiting)]
    first = table[0]
    assert (first["status"], first["resolution_code"], first["rating"]) == (
        "resolved",
        "resolved",
        "5",
    )
    assert first["assigned_agent"] == "ann" and first["intent"] == "request_human"
    assert (await sue.get("/desk/api/export/tickets.csv?date=2099-01-01")).status == 400
    assert (await sue.get("/desk/api/export/tickets.csv?date=yesterday")).status == 400
    admin = await world.user("ada")
    exports = [e for e in await admin.json("/desk/api/audit") if e["action"] == "export"]
    assert {e["target"] for e in exports} == {"intervals", "tickets"}


async def test_the_knowledge_base_gaps_report(world: DeskWorld) -> None:
    log = world.store.knowledge_log
    for _ in range(2):
        await log.record_question(None, "Do you treat cats?", None, 0.2, sure=False)
    await log.record_question(None, "When are you open?", "opening-hours", 0.9, sure=True)
    sue = await world.user("sue")
    gaps = await sue.json("/desk/api/kb-gaps?days=7")
    assert [(g["question"], g["times"]) for g in gaps] == [("Do you treat cats?", 2)]
    assert (await sue.get("/desk/api/kb-gaps?days=0")).status == 400


async def test_prometheus_metrics(world: DeskWorld, clock: FakeClock) -> None:
    await a_morning(world, clock)
    await world.routing.heartbeat(world.staff["ann"])  # Ann is at her desk
    plain = await world.user()
    assert (await plain.get("/metrics")).status == 401
    wrong = await plain.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    world.desk.nlu_latency.observe(0.03)
    response = await plain.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    lines = (await response.text()).splitlines()
    assert 'frontdesk_queue_waiting{queue="billing"} 1' in lines
    assert 'frontdesk_queue_longest_wait_seconds{queue="billing"} 30' in lines
    assert 'frontdesk_queue_service_level_ratio{queue="billing",window="today"} 0.5' in lines
    assert 'frontdesk_queue_abandoned_today{queue="appointments"} 1' in lines
    assert 'frontdesk_agents{presence="available"} 1' in lines
    assert 'frontdesk_nlu_parse_seconds_bucket{le="0.025"} 0' in lines
    assert 'frontdesk_nlu_parse_seconds_bucket{le="0.05"} 1' in lines
    assert "frontdesk_nlu_parse_seconds_count 1" in lines
    assert "# TYPE frontdesk_sla_breaches_today gauge" in lines
    assert not any("general" in line and "service_level" in line for line in lines)  # None


async def test_breaches_and_messages_appear_in_metrics(world: DeskWorld, clock: FakeClock) -> None:
    from crm_store.enums import Channel, Direction
    from routing.events import EventKind

    customer = await world.customer("Late")
    ticket = await world.ticket(customer, "billing")
    await world.store.customers.record_interaction(customer, Channel.WEB, Direction.INBOUND, "hi")
    await world.routing.record_sla_alert(
        ticket.id, EventKind.SLA_BREACHED, {"target": "first_response", "due_at": None}
    )
    assert (await world.routing.ticket(ticket.id)).status is TicketStatus.QUEUED
    text = await (
        await (await world.user()).get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    ).text()
    assert 'frontdesk_sla_breaches_today{queue="billing",target="first_response"} 1' in text
    assert 'frontdesk_messages_today{channel="web",direction="inbound"} 1' in text
