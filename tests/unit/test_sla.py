"""SLA clocks from the event log: targets, pauses, policy changes, next-response cycles, alerts.

Expected values are worked out by hand (comments show the arithmetic).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import SlaPolicySettings
from crm_store.tiers import Tier
from routing.calendar import BusinessCalendar, always_open
from routing.escalation import (
    AlertLevel,
    AlertReason,
    EscalationKind,
    EscalationRule,
    QueueOutlook,
    breaches,
    escalate,
    predict_breach,
    warnings,
)
from routing.events import EventKind, TicketEvent
from routing.sla import (
    ClockState,
    SlaClock,
    SlaError,
    SlaTargetKind,
    SlaTargets,
    UnknownPolicy,
)

LONDON = ZoneInfo("Europe/London")
WEEKDAY = [(time(8), time(12, 30)), (time(13, 30), time(18))]
CLINIC = BusinessCalendar(
    LONDON,
    {day: WEEKDAY for day in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [(time(9), time(13))]},
)
ALWAYS = always_open()
STANDARD = SlaTargets(timedelta(minutes=10), timedelta(minutes=30), timedelta(hours=4))
URGENT = SlaTargets(timedelta(minutes=5), timedelta(minutes=5), timedelta(hours=1))
RELAXED = SlaTargets(timedelta(hours=1), timedelta(hours=2), timedelta(days=1))
POLICIES = {"urgent": URGENT, "relaxed": RELAXED, "standard": STANDARD}
FR, NR, RES = SlaTargetKind.FIRST_RESPONSE, SlaTargetKind.NEXT_RESPONSE, SlaTargetKind.RESOLUTION


def at(hour: int, minute: int = 0, second: int = 0, day: int = 2) -> datetime:
    """2026-03-<day> (a Monday for day=2) in UTC, which is London time in early March."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def log(
    *steps: tuple[EventKind, datetime] | tuple[EventKind, datetime, dict[str, Any]],
) -> list[TicketEvent]:
    seq = count(1)
    return [
        TicketEvent(7, step[0], step[1], "system", step[2] if len(step) > 2 else {}, next(seq))
        for step in steps
    ]


def clock(events: list[TicketEvent], now: datetime, **kwargs: Any) -> SlaClock:
    kwargs.setdefault("calendar", ALWAYS)
    kwargs.setdefault("targets", STANDARD)
    kwargs.setdefault("policies", POLICIES)
    return SlaClock.from_events(events, now=now, **kwargs)


CREATED = (EventKind.CREATED, at(9), {"queue": "billing", "tier": "gold"})


# -- first response and resolution -------------------------------------------------------------


def test_first_response_met_and_resolution_running() -> None:
    events = log(CREATED, (EventKind.AGENT_MESSAGE, at(9, 6), {"agent_id": 1}))
    c = clock(events, now=at(10))
    assert c.first_response is not None and c.resolution is not None
    assert c.first_response.state == ClockState.MET
    assert c.first_response.elapsed == timedelta(minutes=6)
    assert c.first_response.stopped_at == at(9, 6)
    assert c.first_response.due_at is None
    assert c.resolution.state == ClockState.RUNNING
    assert c.resolution.elapsed == timedelta(hours=1)
    assert c.resolution.remaining == timedelta(hours=3)
    assert c.resolution.due_at == at(13)
    assert c.next_response is None


def test_first_response_breaches_once_the_due_time_has_passed() -> None:
    events = log(CREATED)
    on_time = clock(events, now=at(9, 10)).first_response  # exactly due: not yet breached
    late = clock(events, now=at(9, 12)).first_response
    assert on_time is not None and on_time.state == ClockState.WARNING
    assert late is not None and late.state == ClockState.BREACHED
    assert late.breached_at == at(9, 10)
    assert late.due_at == at(9, 10)
    assert late.remaining == timedelta(minutes=-2)


def test_a_reply_exactly_at_the_due_time_meets_the_target() -> None:
    events = log(CREATED, (EventKind.AGENT_MESSAGE, at(9, 10)))
    first = clock(events, now=at(11)).first_response
    assert first is not None and first.state == ClockState.MET


def test_a_late_reply_stays_breached() -> None:
    events = log(CREATED, (EventKind.AGENT_MESSAGE, at(9, 11)))
    first = clock(events, now=at(11)).first_response
    assert first is not None and first.state == ClockState.BREACHED
    assert first.breached_at == at(9, 10)
    assert first.elapsed == timedelta(minutes=11)


@pytest.mark.parametrize(
    ("now", "state"),
    [(at(9, 7, 59), ClockState.RUNNING), (at(9, 8), ClockState.WARNING)],  # 80% of 10 min = 8 min
)
def test_warning_share(now: datetime, state: ClockState) -> None:
    first = clock(log(CREATED), now=now).first_response
    assert first is not None and first.state == state


def test_resolved_fulfils_every_running_target_and_abandoned_cancels_them() -> None:
    resolved = clock(log(CREATED, (EventKind.RESOLVED, at(9, 5))), now=at(12))
    assert [c.state for c in resolved.cycles] == [ClockState.MET, ClockState.MET]
    abandoned = clock(log(CREATED, (EventKind.ABANDONED, at(9, 3))), now=at(12))
    assert [c.state for c in abandoned.cycles] == [ClockState.CANCELLED, ClockState.CANCELLED]
    assert abandoned.running() == ()


def test_events_after_resolution_start_nothing() -> None:
    events = log(
        CREATED,
        (EventKind.AGENT_MESSAGE, at(9, 1)),
        (EventKind.RESOLVED, at(9, 2)),
        (EventKind.CUSTOMER_MESSAGE, at(9, 3)),
    )
    assert clock(events, now=at(12)).next_response is None


def test_events_after_now_are_ignored() -> None:
    events = log(CREATED, (EventKind.AGENT_MESSAGE, at(9, 6)))
    first = clock(events, now=at(9, 4)).first_response
    assert first is not None and first.state == ClockState.RUNNING
    assert first.elapsed == timedelta(minutes=4)


# -- business hours -----------------------------------------------------------------------------


def test_the_clock_only_runs_in_business_hours() -> None:
    # Created Saturday 12:55; 10 min first response: 5 min on Saturday, due Monday 08:05.
    events = log((EventKind.CREATED, at(12, 55, day=7)))
    first = clock(events, now=at(12, 0, day=8), calendar=CLINIC).first_response
    assert first is not None
    assert first.elapsed == timedelta(minutes=5)
    assert first.due_at == datetime(2026, 3, 9, 8, 5, tzinfo=LONDON)
    assert first.state == ClockState.RUNNING


def test_due_time_across_the_spring_dst_change() -> None:
    # Created Sat 2026-03-28 12:50 GMT with a 1-hour first response: 10 min on Saturday, then
    # 50 min on Monday from 08:00 BST -> due 08:50 BST = 07:50 UTC (not 08:50 UTC).
    events = log((EventKind.CREATED, datetime(2026, 3, 28, 12, 50, tzinfo=UTC)))
    now = datetime(2026, 3, 29, 12, tzinfo=UTC)
    first = clock(events, now=now, calendar=CLINIC, targets=RELAXED).first_response
    assert first is not None
    assert first.elapsed == timedelta(minutes=10)
    assert first.due_at == datetime(2026, 3, 30, 7, 50, tzinfo=UTC)


# -- pauses ------------------------------------------------------------------------------------

PAUSED = log(
    CREATED,
    (EventKind.AGENT_MESSAGE, at(9, 2)),
    (EventKind.WAITING_ON_CUSTOMER, at(9, 5)),
    (EventKind.CUSTOMER_MESSAGE, at(10, 5)),
)


def test_waiting_on_customer_pauses_the_clock() -> None:
    c = clock(PAUSED, now=at(9, 30))
    assert c.resolution is not None
    assert c.resolution.state == ClockState.PAUSED
    assert c.resolution.elapsed == timedelta(minutes=5)  # 09:00-09:05
    assert c.resolution.due_at is None


def test_a_customer_message_ends_the_pause_and_starts_a_next_response_cycle() -> None:
    c = clock(PAUSED, now=at(10, 20))
    assert c.resolution is not None and c.next_response is not None
    # 09:00-09:05 + 10:05-10:20 = 20 min of 4h; due 3h40 after 10:20 = 14:00, which is
    # 09:00 + 4h moved by the one-hour pause
    assert c.resolution.elapsed == timedelta(minutes=20)
    assert c.resolution.due_at == at(14, 0)
    assert c.next_response.started_at == at(10, 5)
    assert c.next_response.elapsed == timedelta(minutes=15)
    assert c.next_response.due_at == at(10, 35)
    assert c.next_response.state == ClockState.RUNNING


def test_resumed_ends_the_pause_and_moves_the_due_time_by_the_pause() -> None:
    events = log(
        CREATED,
        (EventKind.WAITING_ON_CUSTOMER, at(9, 3)),
        (EventKind.RESUMED, at(9, 33)),
    )
    first = clock(events, now=at(9, 34)).first_response
    assert first is not None
    assert first.elapsed == timedelta(minutes=4)  # 3 + 1
    assert first.due_at == at(9, 40)  # 09:10 + the 30-minute pause


# -- next response cycles ---------------------------------------------------------------------


def test_next_response_cycles_start_at_the_oldest_unanswered_customer_message() -> None:
    events = log(
        CREATED,
        (EventKind.AGENT_MESSAGE, at(9, 5)),
        (EventKind.CUSTOMER_MESSAGE, at(9, 10)),
        (EventKind.CUSTOMER_MESSAGE, at(9, 12)),
        (EventKind.AGENT_MESSAGE, at(9, 50)),  # 40 min: breached at 09:40
        (EventKind.CUSTOMER_MESSAGE, at(10, 0)),
        (EventKind.AGENT_MESSAGE, at(10, 20)),  # 20 min: met
        (EventKind.CUSTOMER_MESSAGE, at(10, 30)),
    )
    c = clock(events, now=at(10, 40))
    cycles = [cycle for cycle in c.cycles if cycle.kind == NR]
    assert [(x.started_at, x.stopped_at, x.state) for x in cycles] == [
        (at(9, 10), at(9, 50), ClockState.BREACHED),
        (at(10, 0), at(10, 20), ClockState.MET),
        (at(10, 30), None, ClockState.RUNNING),
    ]
    assert cycles[0].breached_at == at(9, 40)
    assert c.next_response == cycles[2]
    assert cycles[2].due_at == at(11, 0)


def test_customer_messages_before_the_first_reply_belong_to_the_first_response() -> None:
    events = log(
        CREATED, (EventKind.CUSTOMER_MESSAGE, at(9, 1)), (EventKind.AGENT_MESSAGE, at(9, 4))
    )
    assert [cycle.kind for cycle in clock(events, now=at(9, 30)).cycles] == [FR, RES]


# -- policy changes ---------------------------------------------------------------------------


def test_a_policy_change_keeps_the_time_already_spent() -> None:
    events = log(CREATED, (EventKind.POLICY_CHANGED, at(9, 3), {"to_policy": "urgent"}))
    c = clock(events, now=at(9, 4))
    first = c.first_response
    assert first is not None
    assert c.targets == URGENT
    assert first.target == timedelta(minutes=5)
    assert first.elapsed == timedelta(minutes=4)  # not restarted at 09:03
    assert first.due_at == at(9, 5)
    assert first.state == ClockState.WARNING  # 4 of 5 minutes = 80%


def test_a_shorter_policy_already_exceeded_breaches_at_the_change() -> None:
    events = log(CREATED, (EventKind.POLICY_CHANGED, at(9, 7), {"to_policy": "urgent"}))
    first = clock(events, now=at(9, 8)).first_response
    assert first is not None and first.state == ClockState.BREACHED
    assert first.breached_at == at(9, 7)


def test_a_breach_is_final_even_if_a_longer_policy_follows() -> None:
    events = log(
        CREATED,
        (EventKind.POLICY_CHANGED, at(9, 1), {"to_policy": "urgent"}),  # due 09:05
        (EventKind.POLICY_CHANGED, at(9, 20), {"to_policy": "relaxed"}),  # 1h target
    )
    first = clock(events, now=at(9, 30)).first_response
    assert first is not None
    assert first.state == ClockState.BREACHED
    assert first.breached_at == at(9, 5)
    assert first.target == timedelta(hours=1)


def test_an_unknown_policy_is_an_error() -> None:
    events = log(CREATED, (EventKind.POLICY_CHANGED, at(9, 1), {"to_policy": "gold-plated"}))
    with pytest.raises(UnknownPolicy, match="gold-plated"):
        clock(events, now=at(9, 30))


def test_targets_from_settings() -> None:
    policy = SlaPolicySettings.model_validate(
        {"targets": [{"first_response": "5m", "next_response": "15m", "resolution": "4h"}]}
    )
    targets = SlaTargets.from_settings(policy.target_for(Tier.GOLD))
    assert targets == SlaTargets(timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=4))
    assert targets.for_kind(NR) == timedelta(minutes=15)


def test_bad_input_is_refused() -> None:
    with pytest.raises(SlaError):
        clock([], now=at(9))
    mixed = [*log(CREATED), TicketEvent(8, EventKind.CREATED, at(9), "bot")]
    with pytest.raises(SlaError, match="several"):
        clock(mixed, now=at(9))
    with pytest.raises(SlaError):
        SlaTargets(timedelta(0), timedelta(minutes=1), timedelta(hours=1))
    with pytest.raises(SlaError):
        clock(log(CREATED), now=at(9), warning_share=1.5)


# -- warnings, breaches, escalation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "aht", "free", "remaining", "expected"),
    [
        (3, 300, 2, 400, True),  # 3 x 300 / 2 = 450 > 400
        (3, 300, 2, 450, False),  # exactly in time
        (0, 300, 2, 10, False),  # not in the queue
        (1, 300, 0, 200, True),  # nobody free counts as one: 300 > 200
        (1, 300, 0, 400, False),
        (2, 60, 1, -5, True),  # nothing left
    ],
)
def test_predict_breach(
    position: int, aht: float, free: int, remaining: float, expected: bool
) -> None:
    assert predict_breach(position, aht, free, remaining) is expected


def test_predict_breach_refuses_negative_inputs() -> None:
    with pytest.raises(SlaError):
        predict_breach(-1, 300, 1, 100)


def test_warnings_by_share_and_by_prediction() -> None:
    share = warnings(clock(log(CREATED), now=at(9, 8)))
    assert [(a.target, a.level, a.reason, a.due_at) for a in share] == [
        (FR, AlertLevel.WARNING, AlertReason.SHARE, at(9, 10))
    ]
    early = clock(log(CREATED), now=at(9, 4))  # 6 min left on the first response
    assert warnings(early) == ()
    predicted = warnings(
        early, outlook=QueueOutlook(position=2, avg_handle_seconds=300, free_agents=1)
    )
    assert [(a.target, a.reason) for a in predicted] == [(FR, AlertReason.PREDICTION)]  # 600 > 360


def test_alerts_already_in_the_log_are_not_repeated() -> None:
    events = log(CREATED, (EventKind.SLA_WARNING, at(9, 8), {"target": "first_response"}))
    c = clock(events, now=at(9, 9))
    assert c.first_response is not None and c.first_response.warned
    assert warnings(c) == ()
    assert len(warnings(c, include_recorded=True)) == 1


def test_breaches_include_late_replies_as_inactive() -> None:
    events = log(CREATED, (EventKind.AGENT_MESSAGE, at(9, 12)))
    found = breaches(clock(events, now=at(9, 30)))
    assert [(a.target, a.due_at, a.active) for a in found] == [(FR, at(9, 10), False)]
    assert found[0].event_kind == EventKind.SLA_BREACHED
    assert found[0].event_data() == {
        "target": "first_response",
        "due_at": "2026-03-02T09:10:00+00:00",
    }
    recorded = log(
        *events_of(events), (EventKind.SLA_BREACHED, at(9, 12), {"target": "first_response"})
    )
    assert breaches(clock(recorded, now=at(9, 30))) == ()


def events_of(events: list[TicketEvent]) -> list[tuple[EventKind, datetime, dict[str, Any]]]:
    return [(e.kind, e.at, e.data) for e in events]


def test_escalate_turns_active_alerts_into_actions_once_per_ticket() -> None:
    rules = [
        EscalationRule(AlertLevel.WARNING, EscalationKind.NOTIFY_SUPERVISORS),
        EscalationRule(AlertLevel.BREACH, EscalationKind.RAISE_PRIORITY),
        EscalationRule(AlertLevel.BREACH, EscalationKind.OVERFLOW, target=RES),
    ]
    breached = clock(log(CREATED), now=at(9, 12))  # first response breached, resolution fine
    actions = escalate([*warnings(breached), *breaches(breached)], rules)
    assert [(a.ticket_id, a.action, a.alert.target) for a in actions] == [
        (7, EscalationKind.RAISE_PRIORITY, FR)
    ]
    late_reply = clock(log(CREATED, (EventKind.AGENT_MESSAGE, at(9, 12))), now=at(9, 30))
    assert escalate(breaches(late_reply), rules) == ()
    twice = escalate([*breaches(breached), *breaches(breached)], rules)
    assert len(twice) == 1
    resolution_late = clock(log(CREATED), now=at(13, 1))
    kinds = {a.action for a in escalate(breaches(resolution_late), rules)}
    assert kinds == {EscalationKind.RAISE_PRIORITY, EscalationKind.OVERFLOW}


def test_warning_event_data_says_why() -> None:
    (alert,) = warnings(clock(log(CREATED), now=at(9, 8)))
    assert alert.event_kind == EventKind.SLA_WARNING
    assert alert.event_data() == {
        "target": "first_response",
        "due_at": "2026-03-02T09:10:00+00:00",
        "reason": "share",
    }


# -- properties -------------------------------------------------------------------------------

MINUTES = st.integers(min_value=0, max_value=3 * 24 * 60)
START = datetime(2026, 3, 27, 10, tzinfo=UTC)  # Friday before the spring DST change
FAST = settings(max_examples=50, deadline=None)
LONG = SlaTargets(timedelta(days=30), timedelta(days=30), timedelta(days=60))


def minutes_after(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


@FAST
@given(MINUTES, MINUTES, MINUTES)
def test_a_pause_adds_no_elapsed_time(created: int, pause_from: int, pause_for: int) -> None:
    t0, p0 = minutes_after(created), minutes_after(created + pause_from)
    p1 = p0 + timedelta(minutes=pause_for)
    events = log(
        (EventKind.CREATED, t0), (EventKind.WAITING_ON_CUSTOMER, p0), (EventKind.RESUMED, p1)
    )
    kwargs: dict[str, Any] = {"calendar": CLINIC, "targets": LONG}
    before, after = clock(events, now=p0, **kwargs), clock(events, now=p1, **kwargs)
    assert [c.elapsed for c in before.cycles] == [c.elapsed for c in after.cycles]
    later = p1 + timedelta(hours=5)
    unpaused = clock(log((EventKind.CREATED, t0)), now=later, **kwargs)
    paused = clock(events, now=later, **kwargs)
    for with_pause, without in zip(paused.cycles, unpaused.cycles, strict=True):
        assert with_pause.elapsed == without.elapsed - CLINIC.business_time(p0, p1)


STEP_KINDS = st.sampled_from(
    [
        EventKind.AGENT_MESSAGE,
        EventKind.CUSTOMER_MESSAGE,
        EventKind.WAITING_ON_CUSTOMER,
        EventKind.RESUMED,
        EventKind.POLICY_CHANGED,
    ]
)
STEPS = st.lists(st.tuples(STEP_KINDS, st.integers(min_value=0, max_value=600)), max_size=8)


def random_log(steps: list[tuple[EventKind, int]]) -> list[TicketEvent]:
    moment, entries = START, [(EventKind.CREATED, START, {})]
    policies = iter(["urgent", "relaxed", "standard"] * 3)
    for kind, gap in steps:
        moment += timedelta(minutes=gap)
        data = {"to_policy": next(policies)} if kind == EventKind.POLICY_CHANGED else {}
        entries.append((kind, moment, data))
    return log(*entries)


@FAST
@given(STEPS, st.lists(st.integers(min_value=0, max_value=6000), min_size=2, max_size=4))
def test_elapsed_is_never_negative_and_grows_with_now(
    steps: list[tuple[EventKind, int]], offsets: list[int]
) -> None:
    events = random_log(steps)
    seen: dict[tuple[SlaTargetKind, datetime], timedelta] = {}
    for offset in sorted(offsets):
        for cycle in clock(events, now=minutes_after(offset), calendar=CLINIC).cycles:
            key = (cycle.kind, cycle.started_at)
            assert cycle.elapsed >= timedelta(0)
            assert cycle.elapsed >= seen.get(key, timedelta(0))
            seen[key] = cycle.elapsed
