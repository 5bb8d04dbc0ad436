"""Reminders go out once, through the customer's last channel, surviving restarts and crashes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.dialogue.messages import Reply
from bot.dialogue.reminders import ReminderJob, UnreachableRecipient
from bot.dialogue.templates import Templates
from crm_store.customers import NewCustomer
from crm_store.enums import Channel, Direction
from crm_store.store import CrmStore
from tests.conftest import ROOT
from tests.contract.catalog_fixture import seed_catalog


class RecordingOutbound:
    """A channel that records what it was asked to deliver (or refuses some recipients)."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.sent: list[tuple[Channel, str, list[Reply]]] = []
        self.refuse = refuse

    async def send(self, channel: Channel, recipient_id: str, replies: list[Reply]) -> None:
        if recipient_id in self.refuse:
            raise UnreachableRecipient(f"{recipient_id} blocked the bot")
        self.sent.append((channel, recipient_id, list(replies)))


def job(store: CrmStore, outbound: RecordingOutbound) -> ReminderJob:
    return ReminderJob(
        store, outbound, Templates.load(ROOT / "templates"), before=timedelta(hours=24)
    )


@pytest.fixture
async def booked(store: CrmStore, clock) -> int:
    await seed_catalog(store)
    customer = await store.customers.create(
        NewCustomer("Rosa Diaz"), [(Channel.TELEGRAM, "4242"), (Channel.EMAIL, "rosa@example.org")]
    )
    await store.customers.record_interaction(
        customer.id, Channel.TELEGRAM, Direction.INBOUND, "book me in"
    )
    appointment = await store.appointments.book(
        customer.id, "cleaning", "sam-hill", clock() + timedelta(hours=30)
    )
    return appointment.id


async def test_a_reminder_goes_once_through_the_last_channel(
    store: CrmStore, clock, booked
) -> None:
    outbound = RecordingOutbound()
    assert await job(store, outbound).run_once() == 0  # 30 h ahead: not due yet
    clock.advance(hours=7)
    assert await job(store, outbound).run_once() == 1
    ((channel, recipient, replies),) = outbound.sent
    assert (channel, recipient) == (Channel.TELEGRAM, "4242")
    assert "Hello Rosa" in replies[0].text and "dental cleaning with Sam Hill" in replies[0].text
    clock.advance(minutes=30)
    assert await job(store, outbound).run_once() == 0  # a restarted job does not repeat it
    assert len(outbound.sent) == 1


async def test_a_moved_appointment_gets_a_new_reminder(store: CrmStore, clock, booked) -> None:
    outbound = RecordingOutbound()
    clock.advance(hours=7)
    await job(store, outbound).run_once()
    appointment = await store.appointments.get(booked)
    await store.appointments.reschedule(booked, appointment.start_at + timedelta(minutes=30))
    assert await job(store, outbound).run_once() == 1
    assert len(outbound.sent) == 2


async def test_a_crashed_sender_is_retried_after_it_goes_stale(
    store: CrmStore, clock, booked
) -> None:
    clock.advance(hours=7)
    (_claimed,) = await store.reminders.claim_due(timedelta(hours=24))  # then the process died
    outbound = RecordingOutbound()
    assert await job(store, outbound).run_once() == 0  # still within the claim
    clock.advance(minutes=11)
    assert await job(store, outbound).run_once() == 1
    assert len(outbound.sent) == 1


async def test_unreachable_customers_are_skipped_not_retried(
    store: CrmStore, clock, booked
) -> None:
    outbound = RecordingOutbound(refuse=frozenset({"4242"}))
    clock.advance(hours=7)
    assert await job(store, outbound).run_once() == 0
    clock.advance(minutes=30)
    assert await job(store, outbound).run_once() == 0
    assert outbound.sent == []
