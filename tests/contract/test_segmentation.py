"""Tiers and lifetime value follow the transaction history; recomputed per purchase and in bulk."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal

from crm_store.customers import NewCustomer
from crm_store.enums import Channel, Direction
from crm_store.segmentation import Activity
from crm_store.store import CrmStore
from crm_store.tiers import Tier


async def test_each_purchase_recomputes_tier_and_lifetime_value(store: CrmStore, clock) -> None:
    cid = (await store.customers.create(NewCustomer("Hana"))).id
    expected = [
        (Decimal(150), Tier.IRON),
        (Decimal(400), Tier.GOLD),
        (Decimal(400), Tier.GOLD),
        (Decimal(400), Tier.PLATINUM),
    ]
    for amount, tier in expected:
        clock.advance(days=7)
        await store.customers.record_transaction(cid, amount, "GBP", "treatment")
        assert (await store.customers.get(cid)).tier is tier
    # revenue 1350 in a 365-day window: margin 810/yr, retention 0.9, discount 0.1 -> 810*0.9/0.2
    assert (await store.customers.get(cid)).lifetime_value == Decimal("3645.00")


async def test_demanding_customers_stay_out_of_platinum(store: CrmStore, clock) -> None:
    cid = (await store.customers.create(NewCustomer("Ivo"))).id
    for _ in range(4):
        await store.customers.record_transaction(cid, Decimal(400), "GBP", "whitening")
    for _ in range(100):  # 100 contacts for 1600 of revenue: 6.25 per 100 > 5
        await store.customers.record_interaction(cid, Channel.PHONE, Direction.INBOUND, "again me")
    clock.advance(seconds=1)
    await store.customers.record_transaction(cid, Decimal(1), "GBP", "toothbrush")
    assert (await store.customers.get(cid)).tier is Tier.GOLD


async def test_bulk_segmentation_and_ageing(store: CrmStore, clock) -> None:
    big = (await store.customers.create(NewCustomer("Big"))).id
    small = (await store.customers.create(NewCustomer("Small"))).id
    await store.customers.create(NewCustomer("Nobody"))
    for _ in range(4):
        await store.customers.record_transaction(big, Decimal(500), "GBP", "implant")
    await store.customers.record_transaction(small, Decimal(120), "GBP", "checkup")
    assert await store.tiers.assign_all() == Counter({Tier.PLATINUM: 1, Tier.IRON: 1, Tier.LEAD: 1})
    clock.advance(days=200)  # platinum needs a purchase in the last 180 days
    assert (await store.tiers.assign_all())[Tier.PLATINUM] == 0
    clock.advance(days=200)  # everything falls out of the 365-day window
    assert await store.tiers.assign_all() == Counter({Tier.LEAD: 3})
    assert (await store.customers.get(big)).lifetime_value == Decimal("0.00")


def test_rules_are_checked_in_order_and_lead_is_the_floor(policy, clock) -> None:
    now = clock()
    assert policy.tier_for(Activity(Decimal(0), 0, None, 0), now) is Tier.LEAD
    assert policy.tier_for(Activity(Decimal(100), 1, now, 0), now) is Tier.IRON
    assert policy.tier_for(Activity(Decimal("99.99"), 5, now, 0), now) is Tier.LEAD
    assert (
        policy.tier_for(Activity(Decimal(5000), 10, now - timedelta(days=181), 0), now) is Tier.GOLD
    )
    assert policy.contacts_per_100(Activity(Decimal(0), 0, None, 3)) is None
