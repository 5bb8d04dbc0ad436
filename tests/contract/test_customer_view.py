"""The single customer view, exports, and erasure that leaves no personal data behind."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm_store import models as m
from crm_store.customers import NewCustomer
from crm_store.enums import Channel, Direction
from crm_store.errors import NotFound
from crm_store.models import Base
from crm_store.store import CrmStore
from tests.contract.catalog_fixture import seed_catalog

PERSONAL = {
    "name": "Anna Weber",
    "phone": "+447700900001",
    "email": "anna@example.com",
    "web": "anna-web-7",
    "telegram": "424242",
    "birth": "1985-03-12",
    "heard": "Dr Novak's podcast",
    "notes": "Prefers morning slots",
    "said": "my knee still hurts after the run",
    "conversation": "telegram:424242",
    "typed": "my new address is 12 Elm Road",
}


async def add_ticket(store: CrmStore, customer_id: int, text: str) -> None:
    """A ticket with the customer's words in its reason and its event log."""
    from crm_store.tiers import Tier
    from routing.events import EventKind
    from routing.ticket_store import SqlTicketStore
    from routing.tickets import NewTicket, Step

    tickets = SqlTicketStore(store.database)
    new = NewTicket(
        customer_id=customer_id,
        queue="general",
        tier=Tier.LEAD,
        channel=Channel.WEB,
        sla_policy="standard",
        priority=0,
        conversation_id=PERSONAL["conversation"],
        reason=text,
    )
    change = await tickets.create(new, at=store.clock(), actor="bot", data={"reason": text})
    await tickets.apply(
        change.ticket.id,
        [Step(EventKind.CUSTOMER_MESSAGE, {"text": text})],
        at=store.clock(),
        actor="customer",
    )


async def make_anna(store: CrmStore, clock) -> int:
    await seed_catalog(store)
    anna = await store.customers.create(
        NewCustomer(
            full_name=PERSONAL["name"],
            birth_date=date.fromisoformat(PERSONAL["birth"]),
            heard_about_us=PERSONAL["heard"],
            notes=PERSONAL["notes"],
        ),
        [
            (Channel.PHONE, PERSONAL["phone"]),
            (Channel.EMAIL, PERSONAL["email"]),
            (Channel.WEB, PERSONAL["web"]),
            (Channel.TELEGRAM, PERSONAL["telegram"]),
        ],
    )
    for channel in (Channel.TELEGRAM, Channel.PHONE, Channel.WEB):
        clock.advance(minutes=5)
        await store.customers.record_interaction(
            anna.id,
            channel,
            Direction.INBOUND,
            PERSONAL["said"],
            conversation_id=PERSONAL["conversation"],
        )
    await store.knowledge_log.record_question(anna.id, PERSONAL["said"], None, 0.2, False)
    await store.webchat.append_customer(
        f"web:{PERSONAL['web']}", "k-1", {"text": PERSONAL["typed"]}
    )
    await add_ticket(store, anna.id, PERSONAL["said"])
    await store.customers.record_transaction(anna.id, Decimal("80.00"), "GBP", "Dental cleaning")
    await store.customers.record_transaction(anna.id, Decimal("60.50"), "GBP", "Dental check-up")
    await store.appointments.book(anna.id, "cleaning", "sam-hill", clock() + timedelta(days=3))
    await store.appointments.book(anna.id, "checkup", "dr-novak", clock() - timedelta(days=30))
    return anna.id


async def test_single_view_has_everything_in_one_call(store: CrmStore, clock) -> None:
    anna = await make_anna(store, clock)
    view = await store.views.view(anna)
    assert view.customer.full_name == "Anna Weber"
    assert {i.channel for i in view.identities} == {
        Channel.PHONE,
        Channel.EMAIL,
        Channel.WEB,
        Channel.TELEGRAM,
    }
    assert [i.channel for i in view.recent_interactions] == [
        Channel.WEB,
        Channel.PHONE,
        Channel.TELEGRAM,
    ]
    assert view.transactions.count == 2
    assert view.transactions.total == Decimal("140.50")
    assert view.transactions.currency == "GBP"
    assert [a.service_name for a in view.upcoming_appointments] == ["Dental cleaning"]
    assert view.tier.value == "iron"
    assert view.lifetime_value > 0
    with pytest.raises(NotFound):
        await store.views.view(123_456)


async def test_export_is_complete_json(store: CrmStore, clock) -> None:
    anna = await make_anna(store, clock)
    exported = await store.privacy.export(anna)
    text = json.dumps(exported)
    for value in PERSONAL.values():
        assert value in text, value
    assert len(exported["interactions"]) == 3
    assert len(exported["transactions"]) == 2
    assert len(exported["appointments"]) == 2


async def test_erase_leaves_no_personal_data_and_keeps_aggregates(store: CrmStore, clock) -> None:
    anna = await make_anna(store, clock)
    bystander = await store.customers.create(NewCustomer("Bystander"), [(Channel.WEB, "by-1")])
    anonymous = "web:anon-anna-before-sign-in"  # known only from her interactions
    await store.customers.record_interaction(
        anna, Channel.WEB, Direction.INBOUND, "hi", conversation_id=anonymous
    )
    await store.webchat.append_customer(anonymous, "k-1", {"text": PERSONAL["typed"]})
    await store.webchat.append_customer("web:by-1", "k-1", {"text": "the bystander's words"})
    await store.privacy.erase(anna)

    async with store.database.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                dumped = json.dumps([str(v) for v in row], ensure_ascii=False)
                for kind, value in PERSONAL.items():
                    assert value not in dumped, f"{kind} left in {table.name}: {dumped}"
        interactions = (await session.scalars(select(m.Interaction))).all()
    assert len(interactions) == 4 and all(i.channel for i in interactions)
    assert await store.webchat.latest(anonymous, 10) == []
    assert [e.body["text"] for e in await store.webchat.latest("web:by-1", 10)] == [
        "the bystander's words"
    ]

    view = await store.views.view(anna)
    assert view.customer.erased and view.identities == ()
    assert view.transactions.count == 2 and view.transactions.total == Decimal("140.50")
    assert await store.customers.find_by_identity(Channel.PHONE, PERSONAL["phone"]) is None
    assert (await store.customers.find_by_identity(Channel.WEB, "by-1")).id == bystander.id
