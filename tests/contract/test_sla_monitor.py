"""The SLA monitor over the routing service (memory live layer, SQLite record, a fake clock)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config_loader import load_settings
from bot.routing_setup import sla_monitor
from crm_store.tiers import Tier
from routing.calendar import BusinessCalendar, always_open
from routing.desk_bus import DeskEvent, MemoryDeskBus
from routing.dispatch_memory import MemoryDispatcher
from routing.escalation import AlertLevel, EscalationKind, EscalationRule
from routing.events import EventKind, TicketStatus
from routing.parts import RoutingOptions
from routing.queues import QueueSpec
from routing.service import RoutingService
from routing.sla import SlaTargetKind, SlaTargets
from routing.sla_monitor import MonitorReport, SlaMonitor, SlaPolicy
from routing.ticket_store import SqlTicketStore
from tests.contract.routing_fixture import (  # noqa: F401
    CHANNEL,
    add_agents,
    add_customers,
    sqlite_crm_fixture,
)

K = EventKind
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yml"
TARGETS = SlaTargets(timedelta(minutes=10), timedelta(minutes=30), timedelta(hours=8))
QUEUES = (
    QueueSpec("front", frozenset({"front"}), "basic", "spill"),
    QueueSpec("night", frozenset({"front"}), "basic"),
    QueueSpec("spill", frozenset({"reception"}), "basic"),
)
# Europe/London is on GMT in November: these hours are also UTC.
WEEKDAYS_8_TO_18 = BusinessCalendar(
    ZoneInfo("Europe/London"),
    {day: [(time(8), time(18))] for day in ("mon", "tue", "wed", "thu", "fri")},
)
CALENDARS = {"front": always_open(), "spill": always_open(), "night": WEEKDAYS_8_TO_18}
BREACH_FIRST_RESPONSE = EscalationRule(
    AlertLevel.BREACH, EscalationKind.RAISE_PRIORITY, SlaTargetKind.FIRST_RESPONSE
)


class RecordingBus(MemoryDeskBus):
    """The memory bus, keeping every published event for the test to read."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[DeskEvent] = []

    async def publish(self, events: Sequence[DeskEvent]) -> None:
        self.published.extend(events)
        await super().publish(events)


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
async def service(sqlite_crm, clock, bus) -> RoutingService:
    # A 30 s handle time keeps the queue's breach prediction out of the way: one ticket ahead
    # of nobody predicts a 30 s wait, less than the time these tickets have left.
    options = RoutingOptions(push=False, default_handle_time=timedelta(seconds=30))
    routing = RoutingService(
        SqlTicketStore(sqlite_crm.database),
        MemoryDispatcher(),
        QUEUES,
        bus=bus,
        options=options,
        clock=clock,
    )
    await routing.start()
    return routing


@pytest.fixture
async def customer(sqlite_crm) -> int:
    (customer_id,) = await add_customers(sqlite_crm.database, 1)
    return customer_id


def monitor(service, clock, *rules: EscalationRule) -> SlaMonitor:
    policy = SlaPolicy({tier: TARGETS for tier in Tier}, rules, warning_share=0.8)
    return SlaMonitor(service, CALENDARS, {"basic": policy}, clock=clock)


async def open_ticket(service, customer, queue="front"):
    return await service.open_ticket(
        customer_id=customer, queue=queue, tier=Tier.GOLD, channel=CHANNEL
    )


async def alerts(service, ticket_id) -> list[tuple[EventKind, str]]:
    return [
        (e.kind, e.data["target"])
        for e in await service.events(ticket_id)
        if e.kind in (K.SLA_WARNING, K.SLA_BREACHED)
    ]


async def test_a_warning_at_the_share_is_recorded_once(service, customer, clock) -> None:
    ticket = await open_ticket(service, customer)
    sla = monitor(service, clock)
    clock.advance(minutes=7)
    assert await sla.run_once() == MonitorReport(checked=1)
    clock.advance(minutes=1.5)  # 8.5 of 10 minutes: past 0.8
    assert await sla.run_once() == MonitorReport(checked=1, warnings=1)
    assert await alerts(service, ticket.id) == [(K.SLA_WARNING, "first_response")]
    (warning,) = [e for e in await service.events(ticket.id) if e.kind == K.SLA_WARNING]
    assert warning.data["reason"] == "share"
    assert warning.data["due_at"] == datetime(2026, 11, 23, 9, 10, tzinfo=UTC).isoformat()
    assert await sla.run_once() == MonitorReport(checked=1)
    assert await alerts(service, ticket.id) == [(K.SLA_WARNING, "first_response")]


async def test_a_breach_raises_the_priority(service, customer, clock) -> None:
    ticket = await open_ticket(service, customer)
    sla = monitor(service, clock, BREACH_FIRST_RESPONSE)
    clock.advance(minutes=8.5)
    await sla.run_once()
    assert (await service.ticket(ticket.id)).priority == ticket.priority  # a warning: no rule
    clock.advance(minutes=2.5)  # 11 minutes
    assert await sla.run_once() == MonitorReport(checked=1, breaches=1, actions=1)
    assert await alerts(service, ticket.id) == [
        (K.SLA_WARNING, "first_response"),
        (K.SLA_BREACHED, "first_response"),
    ]
    assert (await service.ticket(ticket.id)).priority == ticket.priority + 200
    assert await sla.run_once() == MonitorReport(checked=1)
    assert (await service.ticket(ticket.id)).priority == ticket.priority + 200


async def test_a_breach_overflows_the_ticket(service, customer, clock) -> None:
    ticket = await open_ticket(service, customer)
    sla = monitor(service, clock, EscalationRule(AlertLevel.BREACH, EscalationKind.OVERFLOW))
    clock.advance(minutes=11)
    assert await sla.run_once() == MonitorReport(checked=1, breaches=1, actions=1)
    moved = await service.ticket(ticket.id)
    assert (moved.queue, moved.status) == ("spill", TicketStatus.QUEUED)
    overflowed = [e for e in await service.events(ticket.id) if e.kind == K.OVERFLOWED]
    assert [e.data["to_queue"] for e in overflowed] == ["spill"]


async def test_a_breach_notifies_the_supervisors(service, customer, clock, bus) -> None:
    ticket = await open_ticket(service, customer)
    rule = EscalationRule(AlertLevel.BREACH, EscalationKind.NOTIFY_SUPERVISORS)
    sla = monitor(service, clock, rule)
    clock.advance(minutes=11)
    assert await sla.run_once() == MonitorReport(checked=1, breaches=1, actions=1)
    (notice,) = [e for e in bus.published if e.data.get("escalation") == "notify_supervisors"]
    assert (notice.ticket_id, notice.kind, notice.queue) == (ticket.id, K.SLA_BREACHED, "front")
    assert (notice.data["target"], notice.data["level"]) == ("first_response", "breach")
    await sla.run_once()
    assert len([e for e in bus.published if e.data.get("escalation")]) == 1


async def test_waiting_on_the_customer_pauses_the_clock(
    service, sqlite_crm, customer, clock
) -> None:
    (agent,) = await add_agents(sqlite_crm.database, [(["front"], 2)])
    ticket = await open_ticket(service, customer)
    sla = monitor(service, clock, BREACH_FIRST_RESPONSE)
    clock.advance(minutes=1)
    assert (await service.next_ticket(agent)).id == ticket.id
    clock.advance(minutes=1)
    await service.wait_on_customer(ticket.id, agent)  # 2 minutes used
    clock.advance(minutes=28)
    assert await sla.run_once() == MonitorReport(checked=1)
    await service.customer_message(ticket.id, "here I am")  # resumes at 30 minutes
    clock.advance(minutes=7)  # 9 minutes used
    assert await sla.run_once() == MonitorReport(checked=1, warnings=1)
    clock.advance(minutes=1.5)  # 10.5 minutes used
    assert await sla.run_once() == MonitorReport(checked=1, breaches=1, actions=1)


async def test_a_closed_calendar_does_not_count_the_night(service, customer, clock) -> None:
    clock.now = datetime(2026, 11, 23, 17, 55, tzinfo=UTC)  # Monday, 5 minutes before closing
    ticket = await open_ticket(service, customer, queue="night")
    sla = monitor(service, clock)
    clock.now = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 13 hours later, 5 minutes counted
    assert await sla.run_once() == MonitorReport(checked=1)
    clock.now = datetime(2026, 11, 24, 8, 3, tzinfo=UTC)  # 8 minutes counted
    assert await sla.run_once() == MonitorReport(checked=1, warnings=1)
    (warning,) = [e for e in await service.events(ticket.id) if e.kind == K.SLA_WARNING]
    assert warning.data["due_at"] == datetime(2026, 11, 24, 8, 5, tzinfo=UTC).isoformat()
    clock.now = datetime(2026, 11, 24, 8, 6, tzinfo=UTC)
    assert await sla.run_once() == MonitorReport(checked=1, breaches=1)


async def test_a_ticket_with_an_unknown_policy_is_skipped_not_fatal(
    service, customer, clock
) -> None:
    await open_ticket(service, customer)
    sla = SlaMonitor(service, CALENDARS, {}, clock=clock)
    clock.advance(minutes=11)
    assert await sla.run_once() == MonitorReport(skipped=1)


async def test_the_monitor_is_built_from_config_yml(service, clock) -> None:
    built = sla_monitor(load_settings(REPO_CONFIG, {}), service, clock)
    standard = built.policy("standard")
    assert standard.warning_share == 0.8
    assert standard.rules == (
        EscalationRule(AlertLevel.WARNING, EscalationKind.NOTIFY_SUPERVISORS),
        EscalationRule(
            AlertLevel.BREACH, EscalationKind.RAISE_PRIORITY, SlaTargetKind.FIRST_RESPONSE
        ),
    )
    assert standard.targets[Tier.GOLD].first_response == timedelta(minutes=10)
    assert built.policy("urgent").rules == (
        EscalationRule(AlertLevel.WARNING, EscalationKind.RAISE_PRIORITY),
        EscalationRule(AlertLevel.BREACH, EscalationKind.NOTIFY_SUPERVISORS),
    )
