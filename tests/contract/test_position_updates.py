"""Queue-position updates over both live layers: sent when due and changed, once per period."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from crm_store.tiers import Tier
from routing.dispatch_redis import RedisDispatcher
from routing.notify import NoticeKind
from routing.parts import RoutingOptions
from routing.position_updates import MemoryUpdateClaims, PositionUpdates, RedisUpdateClaims
from routing.service import RoutingService
from routing.ticket_store import SqlTicketStore
from tests.contract.routing_fixture import (  # noqa: F401
    CHANNEL,
    DEMO_QUEUES,
    TEST_KEYS,
    RecordingNotifier,
    add_customers,
    live_fixture,
    live_url_fixture,
    sqlite_crm_fixture,
)

EVERY = timedelta(seconds=0.3)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
async def service(sqlite_crm, live, clock, notifier) -> AsyncIterator[RoutingService]:
    dispatcher, bus = live
    routing = RoutingService(
        SqlTicketStore(sqlite_crm.database),
        dispatcher,
        DEMO_QUEUES,
        bus=bus,
        notifier=notifier,
        options=RoutingOptions(push=False, default_handle_time=timedelta(minutes=4)),
        clock=clock,
    )
    await routing.start()
    yield routing


def updates(service: RoutingService, clock) -> PositionUpdates:
    dispatcher = service.dispatcher
    claims = (
        RedisUpdateClaims(dispatcher.client, TEST_KEYS)
        if isinstance(dispatcher, RedisDispatcher)
        else MemoryUpdateClaims(clock)
    )
    return PositionUpdates(service, claims, EVERY, clock)


async def wait_a_period(clock) -> None:
    clock.advance(seconds=EVERY.total_seconds() * 2)
    await asyncio.sleep(EVERY.total_seconds() + 0.05)  # Redis keeps real time


async def test_an_update_when_the_place_changes_and_never_twice_in_a_period(
    service, sqlite_crm, clock, notifier
) -> None:
    first_id, second_id = await add_customers(sqlite_crm.database, 2)
    tickets = [
        await service.open_ticket(
            customer_id=customer,
            queue="appointments",
            tier=Tier.LEAD,
            channel=CHANNEL,
            conversation_id=f"web:c{customer}",
        )
        for customer in (first_id, second_id)
    ]
    opened = len(notifier.notices)  # the opening notices
    job = updates(service, clock)
    assert await job.run_once() == 0  # nobody has waited a period yet
    await wait_a_period(clock)
    assert await job.run_once() == 2
    assert await job.run_once() == 0  # quiet period
    await wait_a_period(clock)
    assert await job.run_once() == 0  # nothing new to tell
    await service.abandon(tickets[0].id)
    await wait_a_period(clock)
    assert await job.run_once() == 1
    news = notifier.notices[opened:]
    assert [n.kind for n in news] == [NoticeKind.QUEUED] * 3
    last = news[-1]
    assert last.ticket_id == tickets[1].id and last.position is not None
    assert last.position.position == 1
    assert last.conversation_id == f"web:c{second_id}"


async def test_two_processes_send_each_update_once(service, sqlite_crm, clock, notifier) -> None:
    (customer,) = await add_customers(sqlite_crm.database, 1)
    await service.open_ticket(
        customer_id=customer,
        queue="billing",
        tier=Tier.GOLD,
        channel=CHANNEL,
        conversation_id=f"web:c{customer}",
    )
    shared = updates(service, clock)  # one claim store, as two processes share one Redis
    await wait_a_period(clock)
    sent = await asyncio.gather(shared.run_once(), shared.run_once())
    assert sorted(sent) == [0, 1]
