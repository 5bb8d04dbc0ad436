"""Apply the segmentation policy to customers in the database (one, or all in batches)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import models as m
from crm_store.clock import Clock
from crm_store.database import Database
from crm_store.enums import Direction
from crm_store.segmentation import Activity, SegmentationPolicy
from crm_store.tiers import Tier

BATCH = 500


class TierAssigner:
    def __init__(self, database: Database, policy: SegmentationPolicy, clock: Clock) -> None:
        self._db = database
        self.policy = policy
        self._clock = clock

    async def activities(
        self, session: AsyncSession, customer_ids: Sequence[int], now: datetime
    ) -> dict[int, Activity]:
        """Revenue, transactions, last purchase and inbound contacts per customer (two queries)."""
        since = now - timedelta(days=self.policy.tiers.window_days)
        tx = m.Transaction
        money = {
            cid: (revenue, count, last)
            for cid, revenue, count, last in await session.execute(
                select(
                    tx.customer_id, func.sum(tx.amount), func.count(tx.id), func.max(tx.occurred_at)
                )
                .where(tx.customer_id.in_(customer_ids), tx.occurred_at >= since)
                .group_by(tx.customer_id)
            )
        }
        it = m.Interaction
        contacts: dict[int, int] = {
            cid: count
            for cid, count in await session.execute(
                select(it.customer_id, func.count(it.id))
                .where(
                    it.customer_id.in_(customer_ids),
                    it.direction == Direction.INBOUND,
                    it.occurred_at >= since,
                )
                .group_by(it.customer_id)
            )
        }
        result = {}
        for cid in customer_ids:
            revenue, count, last = money.get(cid, (0, 0, None))
            result[cid] = Activity(
                revenue=Decimal(revenue or 0),
                transactions=int(count),
                last_transaction_at=last,
                contacts=int(contacts.get(cid, 0)),
            )
        return result

    def _apply(self, customer: m.Customer, activity: Activity, now: datetime) -> Tier:
        tier = self.policy.tier_for(activity, now)
        customer.tier = tier
        customer.lifetime_value = self.policy.lifetime_value(activity, tier)
        customer.updated_at = now
        return tier

    async def assign(self, session: AsyncSession, customer: m.Customer, now: datetime) -> Tier:
        """Recompute one customer's tier and lifetime value inside the caller's transaction."""
        activity = (await self.activities(session, [customer.id], now))[customer.id]
        return self._apply(customer, activity, now)

    async def assign_all(self, progress: Callable[[int], object] | None = None) -> Counter[Tier]:
        """Recompute every customer, one transaction per batch; returns how many got each tier."""
        tally: Counter[Tier] = Counter()
        last_id = 0
        now = self._clock()
        while True:
            async with self._db.transaction() as session:
                rows = (
                    await session.scalars(
                        select(m.Customer)
                        .where(m.Customer.id > last_id, m.Customer.erased_at.is_(None))
                        .order_by(m.Customer.id)
                        .limit(BATCH)
                    )
                ).all()
                found = await self.activities(session, [row.id for row in rows], now)
                for customer in rows:
                    tally[self._apply(customer, found[customer.id], now)] += 1
            if not rows:
                return tally
            last_id = rows[-1].id
            if progress is not None:
                progress(len(rows))
