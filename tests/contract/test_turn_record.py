"""A turn in the record (crm_store.turns): who is writing, and each message id answered once.

Run on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_store import models as m
from crm_store.customers import NewCustomer, NewInteraction
from crm_store.enums import Channel, Direction
from crm_store.store import CrmStore
from crm_store.turns import AlreadyHandled
from tests.conftest import FakeClock

REPLIES = [{"text": "Pick one", "buttons": [{"title": "Friday 10:00", "payload": "/choose"}]}]


def said(customer_id: int, text: str) -> list[NewInteraction]:
    return [
        NewInteraction(customer_id, Channel.REST, Direction.INBOUND, text),
        NewInteraction(customer_id, Channel.REST, Direction.OUTBOUND, "Pick one"),
    ]


async def count(store: CrmStore, model: type[m.Base]) -> int:
    async with store.database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_unknown_sender_becomes_one_lead_and_is_found_again(store: CrmStore) -> None:
    first = await store.turns.open(
        Channel.REST, "robin", customer_id=None, message_id=None, lead_name="New contact"
    )
    assert first.created and first.identity_verified is False and first.answered is None
    assert first.customer.full_name == "New contact"
    again = await store.turns.open(
        Channel.REST, "robin", customer_id=None, message_id=None, lead_name="New contact"
    )
    assert not again.created and again.customer.id == first.customer.id
    assert again.identity_verified is False
    known = await store.turns.open(
        Channel.REST, "robin", customer_id=first.customer.id, message_id=None, lead_name="x"
    )
    assert known.customer.id == first.customer.id and known.identity_verified is None
    assert await count(store, m.Customer) == 1


async def test_racing_first_messages_of_one_contact_make_one_lead(store: CrmStore) -> None:
    """The losers of the race find the winner's lead and leave no customer of their own."""
    openings = await asyncio.gather(
        *(
            store.turns.open(
                Channel.REST, "sam", customer_id=None, message_id=None, lead_name="New contact"
            )
            for _ in range(6)
        )
    )
    assert len({opening.customer.id for opening in openings}) == 1
    assert sum(opening.created for opening in openings) == 1
    assert await count(store, m.Customer) == 1
    assert await count(store, m.Identity) == 1
    lead = openings[0].customer
    assert (lead.language, lead.tier.value, lead.lifetime_value) == ("en", "lead", 0)


async def test_a_verified_identity_is_reported_verified(store: CrmStore) -> None:
    anna = await store.customers.create(
        NewCustomer(full_name="Anna Berg"), [(Channel.REST, "anna")], verified=True
    )
    opening = await store.turns.open(
        Channel.REST, "anna", customer_id=None, message_id=None, lead_name="New contact"
    )
    assert opening.customer.id == anna.id and opening.identity_verified is True


async def test_an_erased_customer_of_the_conversation_is_not_served(store: CrmStore) -> None:
    first = await store.turns.open(
        Channel.REST, "kim", customer_id=None, message_id=None, lead_name="New contact"
    )
    await store.privacy.erase(first.customer.id)
    after = await store.turns.open(
        Channel.REST, "kim", customer_id=first.customer.id, message_id=None, lead_name="New contact"
    )
    assert after.customer.id != first.customer.id and after.created


async def test_a_message_id_is_answered_once_with_its_replies(store: CrmStore) -> None:
    opening = await store.turns.open(
        Channel.REST, "sam", customer_id=None, message_id="m-1", lead_name="New contact"
    )
    assert opening.answered is None
    cid = opening.customer.id
    await store.turns.close(
        said(cid, "hi"), channel=Channel.REST, message_id="m-1", replies=REPLIES
    )
    retry = await store.turns.open(
        Channel.REST, "sam", customer_id=cid, message_id="m-1", lead_name="New contact"
    )
    assert retry.answered == REPLIES
    other_channel = await store.turns.open(
        Channel.WEB, "sam", customer_id=cid, message_id="m-1", lead_name="New contact"
    )
    assert other_channel.answered is None
    # A second worker that handled the same message id stores nothing and gets the first replies.
    with pytest.raises(AlreadyHandled) as raised:
        await store.turns.close(
            said(cid, "hi"), channel=Channel.REST, message_id="m-1", replies=[{"text": "no"}]
        )
    assert raised.value.replies == REPLIES
    assert await count(store, m.Interaction) == 2
    assert await count(store, m.HandledMessage) == 1


async def test_racing_closes_of_one_message_store_it_once(store: CrmStore) -> None:
    customer = await store.customers.create(NewCustomer(full_name="Lee Park"))
    outcomes = await asyncio.gather(
        *(
            store.turns.close(
                said(customer.id, "hello"), channel=Channel.REST, message_id="m-9", replies=REPLIES
            )
            for _ in range(4)
        ),
        return_exceptions=True,
    )
    assert sum(outcome is None for outcome in outcomes) == 1
    assert all(isinstance(o, AlreadyHandled) for o in outcomes if o is not None)
    assert await count(store, m.Interaction) == 2


async def test_message_ids_older_than_a_day_are_forgotten(
    store: CrmStore, clock: FakeClock
) -> None:
    customer = await store.customers.create(NewCustomer(full_name="Lee Park"))
    await store.turns.close([], channel=Channel.REST, message_id="old", replies=REPLIES)
    clock.advance(hours=20)
    await store.turns.close(
        said(customer.id, "x"), channel=Channel.REST, message_id="new", replies=[]
    )
    clock.advance(hours=5)
    assert await store.turns.forget_handled(timedelta(days=1)) == 1
    assert await store.turns.answered(Channel.REST, "old") is None
    assert await store.turns.answered(Channel.REST, "new") == []
