"""Priority: a static rank that orders tickets exactly as their growing scores do, and ageing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_store.tiers import Tier
from routing.dispatch import LiveState, Standing
from routing.events import TicketStatus, Urgency
from routing.notify import estimate
from routing.priority import PriorityPolicy
from routing.tickets import Ticket
from tests.contract.routing_fixture import CHANNEL

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
POLICY = PriorityPolicy()

waiting = st.tuples(
    st.integers(0, 1300),  # priority points
    st.integers(0, 600),  # created, minutes after T0
    st.one_of(st.none(), st.integers(0, 3000)),  # minutes from creation to the deadline
)


@given(st.lists(waiting, min_size=2, max_size=12), st.integers(600, 5000))
def test_the_rank_orders_tickets_as_their_scores_do_at_any_later_time(tickets, later) -> None:
    """score(t) = priority + ageing * minutes waited + pressure * minutes past the deadline."""
    ranks, scores = [], []
    for priority, created, slack in tickets:
        at = T0 + timedelta(minutes=created)
        due = None if slack is None else at + timedelta(minutes=slack)
        ranks.append(POLICY.rank(priority=priority, created_at=at, due_at=due))
        waited = later - created
        past_due = later - created - (24 * 60 if slack is None else slack)
        scores.append(
            priority + POLICY.ageing_per_minute * waited + POLICY.sla_pressure_per_minute * past_due
        )
    by_rank = sorted(range(len(tickets)), key=lambda i: ranks[i])
    assert [scores[i] for i in by_rank] == sorted(scores, reverse=True)


def test_a_long_wait_overtakes_a_higher_tier_after_points_over_rate_minutes() -> None:
    gold = POLICY.priority(Tier.GOLD, Urgency.NORMAL)
    lead = POLICY.priority(Tier.LEAD, Urgency.NORMAL)
    rate = POLICY.ageing_per_minute + POLICY.sla_pressure_per_minute
    catch_up = (gold - lead) / rate  # minutes

    def lead_first(waited: float) -> bool:
        lead_rank = POLICY.rank(priority=lead, created_at=T0, due_at=None)
        later = T0 + timedelta(minutes=waited)
        return lead_rank < POLICY.rank(priority=gold, created_at=later, due_at=None)

    assert not lead_first(catch_up - 1)
    assert lead_first(catch_up + 1)
    assert POLICY.priority(Tier.LEAD, Urgency.EMERGENCY) > POLICY.priority(
        Tier.PLATINUM, Urgency.NORMAL
    )


def test_without_ageing_a_ticket_could_starve() -> None:
    with pytest.raises(ValueError, match="starve"):
        PriorityPolicy(ageing_per_minute=0)


def ticket(status=TicketStatus.QUEUED) -> Ticket:
    return Ticket(
        1, 1, "billing", status, 0, Tier.LEAD, Urgency.NORMAL, CHANNEL, None, None, None,
        None, None, "standard", T0, T0, None, None, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("position", "free", "seats", "wait"),
    [(1, 1, 4, 0.0), (5, 1, 4, 4 * 240 / 4), (3, 0, 2, 3 * 240 / 2), (2, 0, 0, None)],
)
def test_the_estimated_wait(position, free, seats, wait) -> None:
    standing = Standing(1, "billing", LiveState.QUEUED, position, 9, free, seats, 240.0)
    result = estimate(ticket(), standing, timedelta(minutes=5))
    assert result.position == position and result.avg_handle_seconds == 240.0
    assert result.estimated_wait == (None if wait is None else timedelta(seconds=wait))


def test_no_estimate_for_a_ticket_that_is_not_waiting() -> None:
    result = estimate(ticket(TicketStatus.ASSIGNED), None, timedelta(minutes=5))
    assert result.position is None and result.estimated_wait is None
    offered = Standing(1, "billing", LiveState.OFFERED, 0, 3, 0, 2, None)
    result = estimate(ticket(TicketStatus.OFFERED), offered, timedelta(minutes=5))
    assert result.position is None and result.estimated_wait == timedelta(0)
    assert result.avg_handle_seconds == 300
