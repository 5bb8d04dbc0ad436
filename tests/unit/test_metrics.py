"""Service-level metrics on a synthetic event log, each checked against a hand-computed value.

The log: 15 tickets in two queues (billing "B", appointments "A"), three agents (1, 2, 3), two
15-minute intervals (09:00 and 09:15 on Monday 2026-03-02, when London time is UTC); `now` is
09:30. Service-level threshold 60 s, short abandon 10 s. Times are minutes:seconds after 09:00.

Queue visits (wait = entered -> answered / abandoned / left / now):
  B  T1  00:00 answered by 1 after 30 s   within       gold       interval 1
  B  T2  01:00 answered by 2 after 120 s               iron       interval 1
  B  T3  02:00 abandoned after 5 s        within short gold       interval 1
  B  T4  03:00 abandoned after 90 s                    lead       interval 1
  B  T5  05:00 answered by 1 after 45 s   within       platinum   interval 1
  B  T7  08:00 answered by 2 after 40 s   within       iron       interval 1 (overflowed from A)
  B  T10 15:00 answered by 1 after 90 s                gold       interval 2
  B  T11 16:00 abandoned after 8 s        within short iron       interval 2
  B  T12 17:00 answered by 2 after 10 s   within       platinum   interval 2
  A  T6  04:00 answered by 3 after 20 s   within       gold       interval 1
  A  T7  06:00 left (overflowed) after 120 s           iron       interval 1
  A  T8  10:00 still waiting: 1200 s                   lead       interval 1
  A  T9  12:00 answered by 3 after 50 s   within       gold       interval 1
  A  T12 20:00 answered by 3 after 60 s   within       platinum   interval 2 (re-queued by 2)
  A  T13 18:00 abandoned after 60 s       within       gold       interval 2
  A  T14 20:00 answered by 3 after 120 s               lead       interval 2
  A  T15 25:00 answered by 1 after 30 s   within       iron       interval 2
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from routing.calendar import BusinessCalendar
from routing.events import EventKind, Presence, TicketEvent, TicketStatus
from routing.metric_records import read_tickets
from routing.metrics import (
    Dimension,
    GroupKey,
    MetricsError,
    MetricSettings,
    ServiceLevelFormula,
    report,
)
from routing.realtime import LiveAgent, LiveTicket, snapshot, snapshots_by_queue
from routing.sla import SlaTargetKind

LONDON = ZoneInfo("Europe/London")
FR, NR, RES = SlaTargetKind.FIRST_RESPONSE, SlaTargetKind.NEXT_RESPONSE, SlaTargetKind.RESOLUTION
K = EventKind
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
I1 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
I2 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
SETTINGS = MetricSettings(
    timezone=LONDON,
    service_level_threshold=timedelta(seconds=60),
    short_abandon=timedelta(seconds=10),
)


def m(minutes: int, seconds: int = 0) -> datetime:
    return datetime(2026, 3, 2, 9, minutes, seconds, tzinfo=UTC)


def ticket(ticket_id: int, queue: str, tier: str, *steps: tuple[Any, ...]) -> list[TicketEvent]:
    """CREATED at the first step's time, then the steps: (kind, at) or (kind, at, data)."""
    seq = count(1)
    created = TicketEvent(ticket_id, K.CREATED, steps[0][0], "bot", {"queue": queue, "tier": tier})
    events = [created]
    for step in steps[1:]:
        data = step[2] if len(step) > 2 else {}
        events.append(TicketEvent(ticket_id, step[0], step[1], "system", data, next(seq) + 1))
    return events


def agent(n: int) -> dict[str, Any]:
    return {"agent_id": n}


LOG = [
    *ticket(1, "B", "gold", (m(0),), (K.ASSIGNED, m(0, 30), agent(1)),
            (K.AGENT_MESSAGE, m(1), agent(1)), (K.WAITING_ON_CUSTOMER, m(2)),
            (K.CUSTOMER_MESSAGE, m(5)), (K.AGENT_MESSAGE, m(6), agent(1)),
            (K.RESOLVED, m(10), agent(1)), (K.RATED, m(11), {"score": 5})),
    *ticket(2, "B", "iron", (m(1),), (K.ASSIGNED, m(3), agent(2)),
            (K.SLA_BREACHED, m(3, 30), {"target": "first_response"}),
            (K.AGENT_MESSAGE, m(4), agent(2)),
            (K.SLA_BREACHED, m(11), {"target": "resolution"}),
            (K.RESOLVED, m(12), agent(2)), (K.RATED, m(13), {"score": 3})),
    *ticket(3, "B", "gold", (m(2),), (K.ABANDONED, m(2, 5))),
    *ticket(4, "B", "lead", (m(3),), (K.ABANDONED, m(4, 30))),
    *ticket(5, "B", "platinum", (m(5),), (K.ASSIGNED, m(5, 45), agent(1)),
            (K.AGENT_MESSAGE, m(6, 30), agent(1))),
    *ticket(6, "A", "gold", (m(4),), (K.ASSIGNED, m(4, 20), agent(3)),
            (K.AGENT_MESSAGE, m(5), agent(3)), (K.RESOLVED, m(9), agent(3)),
            (K.RATED, m(10), {"score": 4})),
    *ticket(7, "A", "iron", (m(6),), (K.OVERFLOWED, m(8), {"from_queue": "A", "to_queue": "B"}),
            (K.SLA_BREACHED, m(8, 10), {"target": "first_response"}),
            (K.ASSIGNED, m(8, 40), agent(2)), (K.AGENT_MESSAGE, m(9), agent(2)),
            (K.RESOLVED, m(14), agent(2))),
    *ticket(8, "A", "lead", (m(10),)),
    *ticket(9, "A", "gold", (m(12),), (K.ASSIGNED, m(12, 50), agent(3)),
            (K.AGENT_MESSAGE, m(13, 30), agent(3)), (K.RESOLVED, m(14, 30), agent(3))),
    *ticket(10, "B", "gold", (m(15),), (K.ASSIGNED, m(16, 30), agent(1)),
            (K.AGENT_MESSAGE, m(17), agent(1)), (K.CUSTOMER_MESSAGE, m(18)),
            (K.AGENT_MESSAGE, m(19), agent(1)), (K.RESOLVED, m(25), agent(1)),
            (K.RATED, m(26), {"score": 2})),
    *ticket(11, "B", "iron", (m(16),), (K.ABANDONED, m(16, 8))),
    *ticket(12, "B", "platinum", (m(17),), (K.ASSIGNED, m(17, 10), agent(2)),
            (K.AGENT_MESSAGE, m(18), agent(2)),
            (K.TRANSFERRED, m(20), {"from_queue": "B", "to_queue": "A", "from_agent_id": 2,
                                     "to_agent_id": None}),
            (K.ASSIGNED, m(21), agent(3)), (K.RESOLVED, m(24), agent(3))),
    *ticket(13, "A", "gold", (m(18),), (K.ABANDONED, m(19))),
    *ticket(14, "A", "lead", (m(20),), (K.ASSIGNED, m(22), agent(3)),
            (K.SLA_BREACHED, m(22, 10), {"target": "first_response"}),
            (K.AGENT_MESSAGE, m(22, 30), agent(3))),
    *ticket(15, "A", "iron", (m(25),), (K.ASSIGNED, m(25, 30), agent(1)),
            (K.AGENT_MESSAGE, m(26), agent(1)), (K.RESOLVED, m(28), agent(1)),
            (K.RATED, m(29), {"score": 5})),
]  # fmt: skip


def by_queue(**changes: Any) -> dict[GroupKey, Any]:
    settings = MetricSettings(**{**_settings_fields(), **changes})
    return report(LOG, settings=settings, now=NOW, by=[Dimension.QUEUE])


def _settings_fields() -> dict[str, Any]:
    return {
        "timezone": LONDON,
        "service_level_threshold": timedelta(seconds=60),
        "short_abandon": timedelta(seconds=10),
    }


B, A = GroupKey(queue="B"), GroupKey(queue="A")


def test_counts_per_queue() -> None:
    result = by_queue()
    assert list(result) == [A, B]
    b, a = result[B], result[A]
    counts = ("offered", "answered", "answered_within", "abandoned", "short_abandoned")
    assert [getattr(b, name) for name in counts] == [9, 6, 4, 3, 2]
    assert [getattr(a, name) for name in counts] == [8, 5, 4, 1, 0]
    assert (b.abandoned_within, b.left, b.waiting) == (2, 0, 0)
    assert (a.abandoned_within, a.left, a.waiting) == (1, 1, 1)  # T13; T7 overflowed; T8


@pytest.mark.parametrize(
    ("formula", "b", "a"),
    [
        (ServiceLevelFormula.EXCLUDE_SHORT_ABANDONS, 4 / 7, 4 / 6),  # 4/(6+3-2), 4/(5+1-0)
        (ServiceLevelFormula.COUNT_ABANDONS, 4 / 9, 4 / 6),  # 4/(6+3), 4/(5+1)
        (ServiceLevelFormula.ABANDONS_WITHIN_AS_MET, 6 / 9, 5 / 6),  # (4+2)/9, (4+1)/6
        (ServiceLevelFormula.ANSWERED_ONLY, 4 / 6, 4 / 5),
        (ServiceLevelFormula.OFFERED, 4 / 9, 4 / 8),
    ],
)
def test_service_level_formulas(formula: ServiceLevelFormula, b: float, a: float) -> None:
    result = by_queue(formula=formula)
    assert result[B].service_level == pytest.approx(b)
    assert result[A].service_level == pytest.approx(a)


def test_wait_metrics() -> None:
    result = by_queue()
    assert result[B].average_speed_of_answer == pytest.approx((30 + 120 + 45 + 40 + 90 + 10) / 6)
    assert result[A].average_speed_of_answer == pytest.approx((20 + 50 + 60 + 120 + 30) / 5)
    assert result[B].longest_wait == 120  # T2 (T7's 120 s were spent in A)
    assert result[A].longest_wait == 1200  # T8, still waiting at 09:30


def test_response_handle_and_resolution_times() -> None:
    result = by_queue()
    b, a = result[B], result[A]
    # first response, attributed to the queue at the reply: B T1 60 T2 180 T5 90 T7 180 T10 120
    # T12 60; A T6 60 T9 90 T14 150 T15 60
    assert b.first_response_time == pytest.approx(690 / 6)
    assert a.first_response_time == pytest.approx(360 / 4)
    # handle: first assignment -> resolved, minus waiting on the customer (T1: 570 - 180)
    assert b.handle_time == pytest.approx((390 + 540 + 320 + 510) / 4)  # T1 T2 T7 T10
    assert a.handle_time == pytest.approx((280 + 100 + 410 + 150) / 4)  # T6 T9 T12 T15
    # resolution: created -> resolved, queue at resolution
    assert b.resolution_time == pytest.approx((600 + 660 + 480 + 600) / 4)
    assert a.resolution_time == pytest.approx((300 + 150 + 420 + 180) / 4)


def test_satisfaction() -> None:
    result = by_queue()
    assert (result[B].satisfaction, result[B].ratings) == (pytest.approx(10 / 3), 3)  # 5, 3, 2
    assert (result[A].satisfaction, result[A].ratings) == (4.5, 2)  # 4, 5


def test_sla_attainment_per_target() -> None:
    result = by_queue()
    # first response: B met T1 T5 T10 T12, breached T2 T7; A met T6 T9 T15, breached T14
    # next response: B met T1 (05:00 -> 06:00) and T10 (18:00 -> 19:00); none in A
    # resolution: B met T1 T7 T10, breached T2; A met T6 T9 T12 T15
    assert result[B].sla_attainment == {FR: pytest.approx(4 / 6), NR: 1.0, RES: 0.75}
    assert result[A].sla_attainment == {FR: 0.75, NR: None, RES: 1.0}


def test_backlog_is_what_is_open_now() -> None:
    result = by_queue()
    assert (result[B].backlog, result[A].backlog) == (1, 2)  # T5; T8 and T14


def test_per_queue_and_interval() -> None:
    result = report(LOG, settings=SETTINGS, now=NOW, by=[Dimension.QUEUE, Dimension.INTERVAL])
    keys = [GroupKey("A", I1), GroupKey("A", I2), GroupKey("B", I1), GroupKey("B", I2)]
    assert list(result) == keys
    b1, b2 = result[GroupKey("B", I1)], result[GroupKey("B", I2)]
    a1, a2 = result[GroupKey("A", I1)], result[GroupKey("A", I2)]
    assert (b1.offered, b1.answered, b1.answered_within, b1.abandoned, b1.short_abandoned) == (
        6, 4, 3, 2, 1)  # fmt: skip
    assert b1.service_level == pytest.approx(3 / 5)  # 3 / (4 + 2 - 1)
    assert b1.average_speed_of_answer == pytest.approx((30 + 120 + 45 + 40) / 4)
    assert b2.service_level == pytest.approx(1 / 2)  # T12 within; T10 not; T11 short
    assert a1.service_level == 1.0  # T6 T9; T7 left and T8 waits: neither counts
    assert a2.service_level == pytest.approx(2 / 4)  # T12 T15 of T12 T14 T15 + T13
    # backlog at each interval's end: at 09:15 T5 (B) and T8 (A); at 09:30 T5, T8, T14
    assert [result[key].backlog for key in keys] == [1, 2, 1, 1]
    # resolution times land in the interval they were measured in: B 09:10, 09:12, 09:14; 09:25
    assert b1.resolution_time == pytest.approx((600 + 660 + 480) / 3)
    assert b2.resolution_time == 600


def test_per_agent() -> None:
    result = report(LOG, settings=SETTINGS, now=NOW, by=[Dimension.AGENT])
    assert list(result) == [GroupKey(agent=None), GroupKey(agent=1), GroupKey(agent=2),
                            GroupKey(agent=3)]  # fmt: skip
    one, two, three = (result[GroupKey(agent=n)] for n in (1, 2, 3))
    nobody = result[GroupKey(agent=None)]
    assert (one.answered, one.answered_within) == (4, 3)  # T1 T5 T10 T15
    assert one.average_speed_of_answer == pytest.approx((30 + 45 + 90 + 30) / 4)
    assert (two.answered, two.answered_within, three.answered, three.answered_within) == (
        3,
        2,
        4,
        3,
    )
    assert one.first_response_time == pytest.approx((60 + 90 + 120 + 60) / 4)
    assert one.handle_time == pytest.approx((390 + 510 + 150) / 3)
    assert three.handle_time == pytest.approx((280 + 100 + 410) / 3)
    assert two.resolution_time == pytest.approx((660 + 480) / 2)
    assert one.satisfaction == pytest.approx(4.0)  # 5, 2, 5
    assert two.sla_attainment[FR] == 0.5  # T2 breached while with agent 2; T12 met
    # unanswered visits and the breach of T7 before anyone took it belong to no agent
    assert (nobody.offered, nobody.abandoned, nobody.short_abandoned) == (6, 4, 2)
    assert nobody.service_level == 0.0  # 0 / (0 + 4 - 2)
    assert nobody.sla_attainment[FR] == 0.0
    assert [result[key].backlog for key in result] == [1, 1, 0, 1]  # T8; T5; -; T14


def test_per_tier() -> None:
    result = report(LOG, settings=SETTINGS, now=NOW, by=[Dimension.TIER])
    gold = result[GroupKey(tier="gold")]
    # T1 30 in, T3 short, T6 20 in, T9 50 in, T10 90 out, T13 abandoned at 60
    assert (gold.offered, gold.answered, gold.answered_within, gold.abandoned) == (6, 4, 3, 2)
    assert gold.service_level == pytest.approx(3 / 5)
    assert gold.satisfaction == pytest.approx((5 + 4 + 2) / 3)
    assert result[GroupKey(tier="lead")].backlog == 2  # T8, T14


def test_everything_together_and_since() -> None:
    (whole,) = report(LOG, settings=SETTINGS, now=NOW, by=[]).values()
    assert whole.offered == 17
    assert whole.service_level == pytest.approx(8 / 13)  # 8 / (11 + 4 - 2)
    assert whole.backlog == 3
    (later,) = report(LOG, settings=SETTINGS, now=NOW, by=[], since=I2).values()
    assert (later.offered, later.answered) == (7, 5)  # T10 T11 T12(B) T12(A) T13 T14 T15


def test_a_queue_threshold_overrides_the_default() -> None:
    result = by_queue(thresholds={"B": timedelta(seconds=120)})
    assert result[B].answered_within == 6
    assert result[A].answered_within == 4


def test_waits_count_business_time_on_the_queue_calendar() -> None:
    clinic = BusinessCalendar(LONDON, {"mon": [(time(8), time(18))], "sat": [(time(9), time(13))]})
    saturday = datetime(2026, 3, 7, 12, 55, tzinfo=UTC)
    monday = datetime(2026, 3, 9, 8, 1, tzinfo=UTC)
    events = ticket(99, "B", "gold", (saturday,), (K.ASSIGNED, monday, agent(1)))
    settings = MetricSettings(calendars={"B": clinic})
    (visit,) = read_tickets(events, settings=settings, now=monday)[0].visits
    assert visit.wait == timedelta(minutes=6)  # 5 min on Saturday + 1 on Monday
    plain = read_tickets(events, settings=MetricSettings(), now=monday)[0].visits[0]
    assert plain.wait == monday - saturday


def test_intervals_follow_the_local_wall_clock() -> None:
    kathmandu = MetricSettings(timezone=ZoneInfo("Asia/Kathmandu"))  # UTC+05:45
    assert kathmandu.interval_start(m(7)) == m(0)  # 14:52 local -> 14:45 local = 09:00 UTC
    hourly = MetricSettings(timezone=ZoneInfo("Asia/Kathmandu"), interval=timedelta(hours=1))
    assert hourly.interval_start(m(7)) == datetime(2026, 3, 2, 8, 15, tzinfo=UTC)  # 14:00 local
    london = MetricSettings(timezone=LONDON)
    # 01:20 happens twice on 2026-10-25: two different intervals
    first = london.interval_start(datetime(2026, 10, 25, 0, 20, tzinfo=UTC))
    second = london.interval_start(datetime(2026, 10, 25, 1, 20, tzinfo=UTC))
    assert first == datetime(2026, 10, 25, 0, 15, tzinfo=UTC)
    assert second == datetime(2026, 10, 25, 1, 15, tzinfo=UTC)


def test_intervals_must_divide_an_hour() -> None:
    with pytest.raises(MetricsError):
        MetricSettings(interval=timedelta(minutes=7))


def test_a_log_without_created_is_skipped() -> None:
    stray = [TicketEvent(50, K.ASSIGNED, m(1), "system", agent(1))]
    assert read_tickets(stray, settings=SETTINGS, now=NOW) == []


# -- real time ------------------------------------------------------------------------------------

LIVE = [
    LiveTicket(1, TicketStatus.QUEUED, "A", 300, m(20)),
    LiveTicket(2, TicketStatus.OFFERED, "A", 300, m(25)),
    LiveTicket(3, TicketStatus.QUEUED, "B", 100, m(28)),
    LiveTicket(4, TicketStatus.ASSIGNED, "B", 1000, None),
    LiveTicket(5, TicketStatus.WAITING_ON_CUSTOMER, "A", 0, None),
]
AGENTS = [
    LiveAgent(1, Presence.AVAILABLE, load=1, capacity=3, queues=frozenset({"A", "B"})),
    LiveAgent(2, Presence.AVAILABLE, load=2, capacity=2, queues=frozenset({"B"})),
    LiveAgent(3, Presence.AWAY, load=1, capacity=3, queues=frozenset({"A"})),
    LiveAgent(4, Presence.OFFLINE, load=0, capacity=3, queues=frozenset({"A"})),
    LiveAgent(5, Presence.AVAILABLE, load=0, capacity=1, queues=frozenset({"A"})),
]


def test_realtime_snapshot() -> None:
    now = snapshot(LIVE, AGENTS, now=NOW)
    assert (now.waiting, dict(now.waiting_by_priority)) == (3, {100: 1, 300: 2})
    assert (now.longest_wait, now.oldest_ticket_id) == (600, 1)  # queued at 09:20
    assert (now.agents_available, now.agents_busy, now.agents_away) == (2, 1, 1)  # 1 and 5; 2; 3
    assert now.free_capacity == 3  # 2 (agent 1) + 0 (agent 2) + 1 (agent 5)


def test_only_available_agents_have_free_slots() -> None:
    assert [a.free for a in AGENTS] == [2, 0, 0, 0, 1]


def test_realtime_snapshots_per_queue() -> None:
    queues = snapshots_by_queue(LIVE, AGENTS, now=NOW, queues=["C"])
    assert list(queues) == ["A", "B", "C"]
    a, b, c = queues["A"], queues["B"], queues["C"]
    assert (a.waiting, a.longest_wait, a.agents_available, a.free_capacity) == (2, 600, 2, 3)
    assert (b.waiting, b.longest_wait, b.agents_busy, b.free_capacity) == (1, 120, 1, 2)
    assert (c.waiting, c.longest_wait, c.oldest_ticket_id, c.free_capacity) == (0, None, None, 0)


def test_interval_backlog_is_each_ticket_looked_at_every_interval_end() -> None:
    """The backlog per (queue, interval, agent) against its definition, ticket by ticket at
    every interval's end, on a random day whose times fall on and just around the ends."""
    rng = random.Random(8)
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    now = start + timedelta(hours=6, minutes=7)
    ends = [start + timedelta(minutes=15 * n) for n in range(1, 26)]
    instants = [start + timedelta(minutes=rng.randrange(370)) for _ in range(300)]
    instants += [end + offset for end in ends for offset in (-timedelta.resolution, timedelta(0))]

    def when(after: datetime) -> datetime:
        later = [at for at in instants if at > after]
        return rng.choice(later) if later else after + timedelta(seconds=1)

    log: list[TicketEvent] = []
    for ticket_id in range(1, 121):
        created = rng.choice(instants)
        steps: list[tuple[Any, ...]] = [(created,)]
        at = created
        for _ in range(rng.randrange(4)):
            at = when(at)
            if rng.random() < 0.5:
                steps.append((K.ASSIGNED, at, agent(rng.randrange(1, 4))))
            else:
                queues = {"from_queue": "?", "to_queue": rng.choice("AB"), "to_agent_id": None}
                steps.append((K.TRANSFERRED, at, queues))
        if rng.random() < 0.6:
            steps.append((rng.choice((K.RESOLVED, K.ABANDONED)), when(at)))
        log += ticket(ticket_id, rng.choice("AB"), "gold", *steps)
    log = [event for event in log if event.at <= now]

    by = [Dimension.QUEUE, Dimension.INTERVAL, Dimension.AGENT]
    result = report(log, settings=SETTINGS, now=now, by=by)
    tickets = read_tickets(log, settings=SETTINGS, now=now)
    expected: dict[GroupKey, int] = {}
    for key in result:
        assert key.interval is not None
        just_before = min(key.interval + SETTINGS.interval, now) - timedelta.resolution
        states = [t.state_at(just_before) for t in tickets]
        expected[key] = states.count((key.queue, key.agent))
    assert {k: v.backlog for k, v in result.items()} == expected
    assert sum(expected.values()) > 50  # the day did keep tickets open across ends
