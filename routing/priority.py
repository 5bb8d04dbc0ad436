"""Who is served first: customer tier, urgency, time left before the SLA breach, and ageing.

A waiting ticket's score at time t is

    priority + ageing_per_minute * (t - created) + sla_pressure_per_minute * (t - due)

where priority = tier points + urgency points (stored on the ticket) and `due` is its first
response deadline. Both time terms grow at the same rate for every ticket, so the order of any two
tickets never changes while they wait: it is fixed by the *rank*

    rank = -priority + (ageing + pressure) * minutes(created) + pressure * slack

(lower is served first; slack = due - created). A static rank is what lets a Redis sorted set
hold the queue without rescoring, and ageing still guarantees that nothing starves: a ticket that
has waited (points difference) / (ageing + pressure) minutes longer overtakes any other. Among
equals the one created first is first; the ticket id breaks what is left.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Protocol

from crm_store.tiers import Tier
from routing.events import Urgency

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
NO_DEADLINE_SLACK = timedelta(days=1)  # a ticket without an SLA counts as due a day later
MAX_SLACK = timedelta(days=7)

DEFAULT_TIER_POINTS: Mapping[Tier, int] = MappingProxyType(
    {Tier.PLATINUM: 300, Tier.GOLD: 200, Tier.IRON: 100, Tier.LEAD: 0}
)
DEFAULT_URGENCY_POINTS: Mapping[Urgency, int] = MappingProxyType(
    {Urgency.EMERGENCY: 1000, Urgency.COMPLAINT: 150, Urgency.NORMAL: 0}
)


class FirstResponseDue(Protocol):
    """When a new ticket's first response is due (business hours and SLA policy applied)."""

    def __call__(
        self, *, queue: str, sla_policy: str, tier: Tier, urgency: Urgency, created_at: datetime
    ) -> datetime | None: ...


def no_deadline(
    *, queue: str, sla_policy: str, tier: Tier, urgency: Urgency, created_at: datetime
) -> datetime | None:
    return None


def minutes(at: datetime) -> float:
    return (at - EPOCH).total_seconds() / 60


@dataclass(frozen=True, slots=True)
class PriorityPolicy:
    tier_points: Mapping[Tier, int] = field(default_factory=lambda: DEFAULT_TIER_POINTS)
    urgency_points: Mapping[Urgency, int] = field(default_factory=lambda: DEFAULT_URGENCY_POINTS)
    ageing_per_minute: float = 10.0
    sla_pressure_per_minute: float = 5.0

    def __post_init__(self) -> None:
        if self.ageing_per_minute <= 0:
            raise ValueError("ageing_per_minute must be above 0, or a ticket could starve")
        if self.sla_pressure_per_minute < 0:
            raise ValueError("sla_pressure_per_minute must not be negative")

    def priority(self, tier: Tier, urgency: Urgency) -> int:
        return self.tier_points.get(tier, 0) + self.urgency_points.get(urgency, 0)

    def rank(self, *, priority: int, created_at: datetime, due_at: datetime | None) -> float:
        """The static sort key of a waiting ticket: lower is served first."""
        slack = NO_DEADLINE_SLACK if due_at is None else due_at - created_at
        slack = max(timedelta(0), min(slack, MAX_SLACK))
        rate = self.ageing_per_minute + self.sla_pressure_per_minute
        return (
            -priority
            + rate * minutes(created_at)
            + self.sla_pressure_per_minute * slack.total_seconds() / 60
        )

    def score(
        self, *, priority: int, created_at: datetime, due_at: datetime | None, now: datetime
    ) -> float:
        """The ticket's points at `now` (higher is served first): for showing, not sorting."""
        rate = self.ageing_per_minute + self.sla_pressure_per_minute
        return -self.rank(priority=priority, created_at=created_at, due_at=due_at) + rate * (
            minutes(now)
        )
