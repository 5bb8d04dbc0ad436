"""Service-level metrics per queue, 15-minute interval, agent and tier, from the event log.

routing.metric_records reads the log into queue visits and samples; `report` groups them by any
of queue / interval / agent / tier and `summarize` computes every metric of a group. Each formula,
the timestamps it uses and its source are in docs/metrics.md.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from statistics import fmean
from zoneinfo import ZoneInfo

from routing.calendar import BusinessCalendar, always_open
from routing.errors import RoutingError
from routing.events import TicketEvent
from routing.metric_records import (
    Measure,
    QueueVisit,
    Sample,
    TicketRecord,
    VisitOutcome,
    read_tickets,
)
from routing.sla import SlaTargetKind

ALWAYS_OPEN = always_open()


class MetricsError(RoutingError, ValueError):
    """Metric settings that cannot be used."""


class ServiceLevelFormula(StrEnum):
    EXCLUDE_SHORT_ABANDONS = "exclude_short_abandons"  # A_in / (A + Ab - Ab_short): the default
    COUNT_ABANDONS = "count_abandons"  # A_in / (A + Ab)
    ABANDONS_WITHIN_AS_MET = "abandons_within_as_met"  # (A_in + Ab_in) / (A + Ab)
    ANSWERED_ONLY = "answered_only"  # A_in / A  (Asterisk's QUEUESRVLEVELPERF)
    OFFERED = "offered"  # A_in / offered


class Dimension(StrEnum):
    QUEUE = "queue"
    INTERVAL = "interval"
    AGENT = "agent"
    TIER = "tier"


@dataclass(frozen=True, slots=True)
class MetricSettings:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # aligns the intervals
    interval: timedelta = timedelta(minutes=15)
    service_level_threshold: timedelta = timedelta(seconds=20)
    short_abandon: timedelta = timedelta(seconds=10)
    formula: ServiceLevelFormula = ServiceLevelFormula.EXCLUDE_SHORT_ABANDONS
    thresholds: Mapping[str, timedelta] = field(default_factory=dict)  # per queue, overrides
    calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)  # per queue

    def __post_init__(self) -> None:
        minutes, rest = divmod(self.interval, timedelta(minutes=1))
        if rest or minutes <= 0 or 60 % minutes:
            raise MetricsError(
                f"the interval must divide an hour in whole minutes: {self.interval}"
            )

    def threshold(self, queue: str) -> timedelta:
        return self.thresholds.get(queue, self.service_level_threshold)

    def calendar(self, queue: str) -> BusinessCalendar:
        return self.calendars.get(queue, ALWAYS_OPEN)

    def interval_start(self, at: datetime) -> datetime:
        """The start (in UTC) of the interval holding `at`, aligned to the local wall clock."""
        local = at.astimezone(self.timezone)
        size = int(self.interval / timedelta(minutes=1))
        floored = local.replace(minute=local.minute - local.minute % size, second=0, microsecond=0)
        return floored.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class GroupKey:
    """One group of a report; a dimension not grouped by is None (so is agent for "no agent")."""

    queue: str | None = None
    interval: datetime | None = None
    agent: int | None = None
    tier: str | None = None


@dataclass(frozen=True, slots=True)
class QueueMetrics:
    offered: int
    answered: int
    answered_within: int
    abandoned: int
    short_abandoned: int
    abandoned_within: int
    left: int
    waiting: int
    service_level: float | None  # 0..1; None when the formula's denominator is 0
    average_speed_of_answer: float | None  # seconds
    longest_wait: float | None  # seconds
    first_response_time: float | None  # mean seconds
    handle_time: float | None
    resolution_time: float | None
    satisfaction: float | None  # mean score
    ratings: int
    sla_attainment: Mapping[SlaTargetKind, float | None]  # share of cycles met, 0..1
    backlog: int  # open tickets at the group's end (interval end, else now)


def service_level(
    formula: ServiceLevelFormula,
    *,
    offered: int,
    answered: int,
    answered_within: int,
    abandoned: int,
    short_abandoned: int,
    abandoned_within: int,
) -> float | None:
    """The share of contacts served within the threshold, by `formula` (docs/metrics.md)."""
    numerator, denominator = {
        ServiceLevelFormula.EXCLUDE_SHORT_ABANDONS: (
            answered_within, answered + abandoned - short_abandoned),
        ServiceLevelFormula.COUNT_ABANDONS: (answered_within, answered + abandoned),
        ServiceLevelFormula.ABANDONS_WITHIN_AS_MET: (
            answered_within + abandoned_within, answered + abandoned),
        ServiceLevelFormula.ANSWERED_ONLY: (answered_within, answered),
        ServiceLevelFormula.OFFERED: (answered_within, offered),
    }[formula]  # fmt: skip
    return numerator / denominator if denominator > 0 else None


def summarize(
    visits: Sequence[QueueVisit],
    samples: Sequence[Sample],
    *,
    formula: ServiceLevelFormula = ServiceLevelFormula.EXCLUDE_SHORT_ABANDONS,
    backlog: int = 0,
) -> QueueMetrics:
    """All metrics of one group of records."""
    answered = [v for v in visits if v.outcome == VisitOutcome.ANSWERED]
    abandoned = [v for v in visits if v.outcome == VisitOutcome.ABANDONED]
    counts = {
        "offered": len(visits),
        "answered": len(answered),
        "answered_within": sum(v.within_threshold for v in answered),
        "abandoned": len(abandoned),
        "short_abandoned": sum(v.short_abandon for v in abandoned),
        "abandoned_within": sum(v.within_threshold for v in abandoned),
    }
    return QueueMetrics(
        **counts,
        left=sum(v.outcome == VisitOutcome.LEFT for v in visits),
        waiting=sum(v.outcome == VisitOutcome.WAITING for v in visits),
        service_level=service_level(formula, **counts),
        average_speed_of_answer=_mean(v.wait.total_seconds() for v in answered),
        longest_wait=max((v.wait.total_seconds() for v in visits), default=None),
        first_response_time=_mean(_values(samples, Measure.FIRST_RESPONSE)),
        handle_time=_mean(_values(samples, Measure.HANDLE)),
        resolution_time=_mean(_values(samples, Measure.RESOLUTION)),
        satisfaction=_mean(_values(samples, Measure.SATISFACTION)),
        ratings=len(_values(samples, Measure.SATISFACTION)),
        sla_attainment={
            kind: _mean(_values(samples, Measure.SLA_MET, kind)) for kind in SlaTargetKind
        },
        backlog=backlog,
    )


def report(
    events: Iterable[TicketEvent],
    *,
    settings: MetricSettings,
    now: datetime,
    by: Sequence[Dimension] = (Dimension.QUEUE,),
    since: datetime | None = None,
) -> dict[GroupKey, QueueMetrics]:
    """Metrics per group; records before `since` (by their own instant) are left out."""
    tickets = read_tickets(events, settings=settings, now=now)
    return report_tickets(tickets, settings=settings, now=now, by=by, since=since)


def report_tickets(
    tickets: Sequence[TicketRecord],
    *,
    settings: MetricSettings,
    now: datetime,
    by: Sequence[Dimension] = (Dimension.QUEUE,),
    since: datetime | None = None,
) -> dict[GroupKey, QueueMetrics]:
    """`report` of tickets already read (at `now`), for several reports of one set of events:
    reading the events is most of a report's work."""
    grouping = _Grouping(by, settings)
    visits: dict[GroupKey, list[QueueVisit]] = defaultdict(list)
    samples: dict[GroupKey, list[Sample]] = defaultdict(list)
    for ticket in tickets:
        for visit in ticket.visits:
            if since is None or visit.entered_at >= since:
                key = grouping.key(visit.queue, visit.entered_at, visit.agent_id, visit.tier)
                visits[key].append(visit)
        for sample in ticket.samples:
            if since is None or sample.at >= since:
                key = grouping.key(sample.queue, sample.at, sample.agent_id, sample.tier)
                samples[key].append(sample)
    keys = set(visits) | set(samples)
    backlog = _backlog(tickets, keys, grouping, now)
    return {
        key: summarize(
            visits[key], samples[key], formula=settings.formula, backlog=backlog.get(key, 0)
        )
        for key in sorted(keys | set(backlog), key=_sort_key)
    }


def _values(
    samples: Sequence[Sample], measure: Measure, target: SlaTargetKind | None = None
) -> list[float]:
    return [s.value for s in samples if s.measure == measure and s.target == target]


def _mean(values: Iterable[float]) -> float | None:
    collected = list(values)
    return fmean(collected) if collected else None


class _Grouping:
    """The group of a record in one report: the dimensions not grouped by are None."""

    def __init__(self, by: Sequence[Dimension], settings: MetricSettings) -> None:
        self.settings = settings
        self.queue = Dimension.QUEUE in by
        self.interval = Dimension.INTERVAL in by
        self.agent = Dimension.AGENT in by
        self.tier = Dimension.TIER in by
        # interval starts by UTC minute: an interval is whole minutes of local time, and every
        # time zone's offset (since the 1970s) is whole minutes, so one minute has one start
        self._starts: dict[int, datetime] = {}

    def key(self, queue: str, at: datetime, agent: int | None, tier: str | None) -> GroupKey:
        return GroupKey(
            queue=queue if self.queue else None,
            interval=self.interval_start(at) if self.interval else None,
            agent=agent if self.agent else None,
            tier=tier if self.tier else None,
        )

    def interval_start(self, at: datetime) -> datetime:
        minute = int(at.timestamp() // 60)
        start = self._starts.get(minute)
        if start is None:
            start = self._starts[minute] = self.settings.interval_start(at)
        return start


def _backlog(
    tickets: Sequence[TicketRecord],
    keys: Iterable[GroupKey],
    grouping: _Grouping,
    now: datetime,
) -> dict[GroupKey, int]:
    """Tickets open at each group's end (interval end capped at now, else now): created before
    it and not closed before it. With intervals, only the groups in `keys` are kept.

    Each ticket is looked at only at the ends that fall in its open life (found by bisection),
    not at every end: a day's intervals cost what the tickets' lives cover, not tickets x 96.
    """
    wanted = set(keys)
    ends = [now]
    if grouping.interval:
        size = grouping.settings.interval
        ends = sorted({min(k.interval + size, now) for k in wanted if k.interval is not None})
    instants = [end - timedelta.resolution for end in ends]  # just before each end
    counts: dict[GroupKey, int] = defaultdict(int)
    for ticket in tickets:
        first = bisect_left(instants, ticket.created_at)
        last = (
            len(instants) if ticket.closed_at is None else bisect_left(instants, ticket.closed_at)
        )
        for at in instants[first:last]:
            state = ticket.state_at(at)
            if state is not None:
                key = grouping.key(state[0], at, state[1], ticket.tier)
                if not grouping.interval or key in wanted:
                    counts[key] += 1
    return counts


def _sort_key(key: GroupKey) -> tuple[str, datetime, int, str]:
    return (
        key.queue or "",
        key.interval or datetime.min.replace(tzinfo=UTC),
        -1 if key.agent is None else key.agent,
        key.tier or "",
    )
