"""The appointment book's contract: no double booking whatever the concurrency, on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from crm_store.customers import NewCustomer
from crm_store.enums import AppointmentStatus
from crm_store.errors import InvalidInput, InvalidTransition, NotFound, SlotTaken
from crm_store.store import CrmStore
from tests.contract.catalog_fixture import seed_catalog

SLOT = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
async def customers(store: CrmStore) -> list[int]:
    await seed_catalog(store)
    return [(await store.customers.create(NewCustomer(f"Patient {i}"))).id for i in range(20)]


async def test_twenty_concurrent_bookings_of_one_slot_exactly_one_wins(
    store: CrmStore, customers: list[int]
) -> None:
    results = await asyncio.gather(
        *(store.appointments.book(cid, "cleaning", "dr-novak", SLOT) for cid in customers),
        return_exceptions=True,
    )
    booked = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, SlotTaken)]
    assert len(booked) == 1, results
    assert len(refused) == 19, [r for r in results if isinstance(r, BaseException)]
    assert await store.appointments.busy("dr-novak", SLOT, SLOT + timedelta(hours=1)) == [
        (SLOT, SLOT + timedelta(minutes=45))
    ]


async def test_concurrent_overlapping_bookings_at_shifted_times(
    store: CrmStore, customers: list[int]
) -> None:
    starts = [SLOT + timedelta(minutes=5 * i) for i in range(20)]
    results = await asyncio.gather(
        *(
            store.appointments.book(cid, "cleaning", "dr-novak", s)
            for cid, s in zip(customers, starts, strict=True)
        ),
        return_exceptions=True,
    )
    unexpected = [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, SlotTaken)
    ]
    assert unexpected == []
    busy = await store.appointments.busy("dr-novak", SLOT, SLOT + timedelta(hours=4))
    for (_s1, e1), (s2, _e2) in pairwise(busy):
        assert e1 <= s2, busy


async def test_overlap_rules(store: CrmStore, customers: list[int]) -> None:
    a, b = customers[:2]
    first = await store.appointments.book(a, "cleaning", "dr-novak", SLOT)
    assert first.end_at == SLOT + timedelta(minutes=45)
    assert first.service_name == "Dental cleaning" and first.resource_name == "Dr Lena Novak"
    with pytest.raises(SlotTaken):
        await store.appointments.book(b, "checkup", "dr-novak", SLOT + timedelta(minutes=30))
    with pytest.raises(SlotTaken):
        await store.appointments.book(b, "checkup", "dr-novak", SLOT - timedelta(minutes=15))
    # Back to back is fine, and so is another practitioner at the same time.
    await store.appointments.book(b, "checkup", "dr-novak", SLOT + timedelta(minutes=45))
    await store.appointments.book(b, "cleaning", "sam-hill", SLOT)
    # A cancelled appointment frees its slot.
    await store.appointments.cancel(first.id)
    again = await store.appointments.book(b, "checkup", "dr-novak", SLOT)
    assert again.status is AppointmentStatus.BOOKED


async def test_reschedule_moves_or_refuses_without_losing_the_booking(
    store: CrmStore, customers: list[int]
) -> None:
    a, b = customers[:2]
    mine = await store.appointments.book(a, "cleaning", "dr-novak", SLOT)
    theirs = await store.appointments.book(b, "cleaning", "dr-novak", SLOT + timedelta(hours=2))
    with pytest.raises(SlotTaken):
        await store.appointments.reschedule(mine.id, theirs.start_at + timedelta(minutes=10))
    assert (await store.appointments.get(mine.id)).start_at == SLOT
    # Moving within its own slot is not an overlap with itself.
    moved = await store.appointments.reschedule(mine.id, SLOT + timedelta(minutes=15))
    assert moved.start_at == SLOT + timedelta(minutes=15)
    moved = await store.appointments.reschedule(mine.id, theirs.start_at, resource_key="sam-hill")
    assert moved.resource_name == "Sam Hill"


async def test_status_transitions_and_bad_requests(store: CrmStore, customers: list[int]) -> None:
    appointment = await store.appointments.book(customers[0], "checkup", "dr-novak", SLOT)
    done = await store.appointments.set_status(appointment.id, AppointmentStatus.COMPLETED)
    assert done.status is AppointmentStatus.COMPLETED
    with pytest.raises(InvalidTransition):
        await store.appointments.cancel(appointment.id)
    with pytest.raises(InvalidTransition):
        await store.appointments.reschedule(appointment.id, SLOT + timedelta(days=1))
    with pytest.raises(InvalidInput):  # Sam Hill does not do check-ups
        await store.appointments.book(customers[0], "checkup", "sam-hill", SLOT)
    with pytest.raises(NotFound):
        await store.appointments.book(customers[0], "surgery", "dr-novak", SLOT)
    with pytest.raises(NotFound):
        await store.appointments.book(999_999, "checkup", "dr-novak", SLOT)
    with pytest.raises(InvalidInput):
        await store.appointments.book(
            customers[0], "checkup", "dr-novak", SLOT.replace(tzinfo=None)
        )


async def test_upcoming_lists_only_future_booked_appointments(
    store: CrmStore, customers: list[int], clock
) -> None:
    cid = customers[0]
    past = await store.appointments.book(cid, "checkup", "dr-novak", clock() - timedelta(days=3))
    cancelled = await store.appointments.book(
        cid, "checkup", "dr-novak", clock() + timedelta(days=2)
    )
    await store.appointments.cancel(cancelled.id)
    later = await store.appointments.book(cid, "cleaning", "sam-hill", clock() + timedelta(days=9))
    soon = await store.appointments.book(cid, "checkup", "dr-novak", clock() + timedelta(days=1))
    upcoming = await store.appointments.upcoming(cid)
    assert [a.id for a in upcoming] == [soon.id, later.id]
    assert past.id not in {a.id for a in upcoming}
    assert all(a.start_at.tzinfo is not None for a in upcoming)


async def test_busy_times_of_a_free_resource_an_unknown_one_and_past_cancelled_ones(
    store: CrmStore, customers: list[int]
) -> None:
    week = (SLOT, SLOT + timedelta(days=7))
    assert await store.appointments.busy("dr-novak", *week) == []
    with pytest.raises(NotFound):
        await store.appointments.busy("dr-nobody", *week)
    kept = await store.appointments.book(customers[0], "cleaning", "dr-novak", SLOT)
    gone = await store.appointments.book(customers[1], "cleaning", "dr-novak", SLOT + HOUR)
    await store.appointments.book(customers[2], "cleaning", "dr-novak", SLOT + 30 * HOUR)
    await store.appointments.cancel(gone.id)
    assert await store.appointments.busy("dr-novak", SLOT, SLOT + 3 * HOUR) == [
        (kept.start_at, kept.end_at)
    ]


async def test_upcoming_lists_booked_appointments_soonest_first(
    store: CrmStore, customers: list[int]
) -> None:
    me = customers[0]
    later = await store.appointments.book(me, "checkup", "dr-novak", SLOT + 3 * HOUR)
    sooner = await store.appointments.book(me, "cleaning", "dr-novak", SLOT)
    dropped = await store.appointments.book(me, "cleaning", "dr-novak", SLOT + 6 * HOUR)
    await store.appointments.book(customers[1], "cleaning", "dr-novak", SLOT + HOUR)
    await store.appointments.cancel(dropped.id)
    assert await store.appointments.upcoming(me) == [sooner, later]
    assert (await store.appointments.upcoming(me))[0].status is AppointmentStatus.BOOKED
    assert await store.appointments.upcoming(me, limit=1) == [sooner]
