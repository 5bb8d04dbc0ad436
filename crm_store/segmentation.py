"""The customer pyramid: RFM-style tier rules and customer lifetime value.

For each customer, over the last `window_days` days:
  revenue        = sum of transaction amounts
  transactions   = number of transactions
  recency_days   = days since the last transaction (None when there is none)
  contacts       = inbound interactions (messages, calls) in the window
  cost_to_serve  = contacts per 100 units of revenue (infinite when revenue is 0)

The first of platinum, gold, iron whose every threshold the customer meets is their tier; anyone
meeting none is a lead (demanding, low revenue, no loyalty).

Customer lifetime value uses the classic infinite-horizon formula
    CLV = m * r / (1 + d - r)
where m is the yearly margin (revenue in the window scaled to one year, times `margin_rate`),
r the tier's yearly retention rate and d the discount rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from crm_store.tiers import Tier

CENT = Decimal("0.01")


class TierRuleLike(Protocol):
    @property
    def min_revenue(self) -> Decimal: ...
    @property
    def min_transactions(self) -> int: ...
    @property
    def max_recency_days(self) -> int | None: ...
    @property
    def max_contacts_per_100(self) -> Decimal | None: ...


class TierRulesLike(Protocol):
    @property
    def window_days(self) -> int: ...
    @property
    def platinum(self) -> TierRuleLike: ...
    @property
    def gold(self) -> TierRuleLike: ...
    @property
    def iron(self) -> TierRuleLike: ...


class ClvParametersLike(Protocol):
    @property
    def margin_rate(self) -> Decimal: ...
    @property
    def discount_rate(self) -> Decimal: ...
    @property
    def retention(self) -> Mapping[Tier, Decimal]: ...


@dataclass(frozen=True, slots=True)
class Activity:
    """What the rules look at, for one customer over the window."""

    revenue: Decimal
    transactions: int
    last_transaction_at: datetime | None
    contacts: int


@dataclass(frozen=True, slots=True)
class SegmentationPolicy:
    tiers: TierRulesLike
    clv: ClvParametersLike

    def contacts_per_100(self, activity: Activity) -> Decimal | None:
        """Cost to serve; None stands for infinite (contacts with no revenue)."""
        if activity.revenue <= 0:
            return Decimal(0) if activity.contacts == 0 else None
        return Decimal(activity.contacts * 100) / activity.revenue

    def _meets(self, rule: TierRuleLike, activity: Activity, now: datetime) -> bool:
        if activity.revenue < rule.min_revenue or activity.transactions < rule.min_transactions:
            return False
        if rule.max_recency_days is not None:
            if activity.last_transaction_at is None:
                return False
            if (now - activity.last_transaction_at).days > rule.max_recency_days:
                return False
        if rule.max_contacts_per_100 is not None:
            cost = self.contacts_per_100(activity)
            if cost is None or cost > rule.max_contacts_per_100:
                return False
        return True

    def tier_for(self, activity: Activity, now: datetime) -> Tier:
        rules = self.tiers
        for tier, rule in (
            (Tier.PLATINUM, rules.platinum),
            (Tier.GOLD, rules.gold),
            (Tier.IRON, rules.iron),
        ):
            if self._meets(rule, activity, now):
                return tier
        return Tier.LEAD

    def lifetime_value(self, activity: Activity, tier: Tier) -> Decimal:
        yearly_revenue = activity.revenue * Decimal(365) / Decimal(self.tiers.window_days)
        margin = yearly_revenue * self.clv.margin_rate
        retention = self.clv.retention[tier]
        clv = margin * retention / (1 + self.clv.discount_rate - retention)
        return clv.quantize(CENT, rounding=ROUND_HALF_UP)
