"""The customer directory's contract, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from crm_store.customers import NewCustomer
from crm_store.enums import Channel, Direction
from crm_store.errors import DuplicateIdentity, InvalidInput, NotFound
from crm_store.store import CrmStore
from crm_store.tiers import Tier


async def test_create_and_find_by_every_identity(store: CrmStore) -> None:
    created = await store.customers.create(
        NewCustomer(full_name="Anna Weber", birth_date=date(1985, 3, 12), language="de"),
        [
            (Channel.PHONE, "07700 900001"),
            (Channel.EMAIL, "Anna@Example.COM"),
            (Channel.WEB, "anna"),
            (Channel.TELEGRAM, "123456789"),
        ],
    )
    assert created.tier is Tier.LEAD
    assert created.timezone == "Europe/London"
    for channel, raw in [
        (Channel.PHONE, "+44 7700 900001"),
        (Channel.EMAIL, "Anna@example.com"),
        (Channel.WEB, "anna"),
        (Channel.TELEGRAM, "123456789"),
    ]:
        found = await store.customers.find_by_identity(channel, raw)
        assert found is not None and found.id == created.id, channel
    identities = await store.customers.identities(created.id)
    assert {(i.channel, i.external_id) for i in identities} == {
        (Channel.PHONE, "+447700900001"),
        (Channel.EMAIL, "Anna@example.com"),
        (Channel.WEB, "anna"),
        (Channel.TELEGRAM, "123456789"),
    }
    assert await store.customers.find_by_identity(Channel.WEB, "someone-else") is None


async def test_duplicate_identity_is_refused_and_nothing_is_half_written(store: CrmStore) -> None:
    first = await store.customers.create(
        NewCustomer("Ben Okafor"), [(Channel.PHONE, "+447700900002")]
    )
    with pytest.raises(DuplicateIdentity) as caught:
        await store.customers.create(
            NewCustomer("Impostor"), [(Channel.WEB, "fresh-id"), (Channel.PHONE, "07700900002")]
        )
    assert caught.value.owner_id == first.id
    assert await store.customers.count() == 1
    assert await store.customers.find_by_identity(Channel.WEB, "fresh-id") is None
    other = await store.customers.create(NewCustomer("Carla"))
    with pytest.raises(DuplicateIdentity):
        await store.customers.add_identity(other.id, Channel.PHONE, "+447700900002")


@pytest.mark.parametrize(
    "name",
    ["مریم رضایی", "Zoë 🦷 Smile", "李小龍", "O'Brien-Ñúñez"],
)
async def test_any_script_and_emoji_names_round_trip(store: CrmStore, name: str) -> None:
    created = await store.customers.create(NewCustomer(full_name=f"  {name} "))
    assert (await store.customers.get(created.id)).full_name == name


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        (NewCustomer(full_name="x" * 201), "full_name"),
        (NewCustomer(full_name="   "), "full_name"),
        (NewCustomer(full_name="bad\x00name"), "full_name"),
        (NewCustomer(full_name="Ok", timezone="Mars/Olympus"), "timezone"),
        (NewCustomer(full_name="Ok", language="english please"), "language"),
        (NewCustomer(full_name="Ok", birth_date=date(2999, 1, 1)), "birth_date"),
        (NewCustomer(full_name="Ok", notes="n" * 4001), "notes"),
    ],
)
async def test_bad_profiles_are_refused_with_the_field(
    store: CrmStore, profile: NewCustomer, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await store.customers.create(profile)
    assert caught.value.field == field
    assert await store.customers.count() == 0


@pytest.mark.parametrize(
    ("channel", "raw", "field"),
    [
        (Channel.PHONE, "12", "phone"),
        (Channel.PHONE, "call me maybe", "phone"),
        (Channel.PHONE, "+44 20 7946 09", "phone"),
        (Channel.EMAIL, "not-an-email", "email"),
        (Channel.TELEGRAM, "12ab", "telegram_id"),
        (Channel.WEB, "has space", "web_id"),
    ],
)
async def test_bad_identities_are_refused_with_a_reason(
    store: CrmStore, channel: Channel, raw: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await store.customers.create(NewCustomer("Dee"), [(channel, raw)])
    assert caught.value.field == field
    assert raw in caught.value.reason
    assert await store.customers.count() == 0


async def test_add_identity_is_idempotent_and_verification_is_timed(
    store: CrmStore, clock: object
) -> None:
    customer = await store.customers.create(NewCustomer("Eve"))
    first = await store.customers.add_identity(customer.id, Channel.EMAIL, "eve@example.org")
    again = await store.customers.add_identity(customer.id, Channel.EMAIL, "eve@EXAMPLE.org")
    assert first.id == again.id and not again.verified
    verified = await store.customers.verify_identity(Channel.EMAIL, "eve@example.org")
    assert verified.verified and verified.verified_at == clock()  # type: ignore[operator]
    unreachable = await store.customers.mark_unreachable(Channel.EMAIL, "eve@example.org")
    assert unreachable.unreachable and unreachable.verified
    with pytest.raises(NotFound):
        await store.customers.verify_identity(Channel.EMAIL, "nobody@example.org")


async def test_resolve_creates_one_lead_even_when_first_messages_race(store: CrmStore) -> None:
    results = await asyncio.gather(
        *(store.customers.resolve(Channel.TELEGRAM, "555000111") for _ in range(10))
    )
    assert len({customer.id for customer, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert results[0][0].tier is Tier.LEAD
    assert await store.customers.count() == 1


async def test_update_profile_validates_and_rejects_unknown_fields(store: CrmStore) -> None:
    customer = await store.customers.create(NewCustomer("Finn"))
    updated = await store.customers.update_profile(
        customer.id, heard_about_us="A friend", consent_marketing=True, language="de"
    )
    assert updated.heard_about_us == "A friend" and updated.consent_marketing
    with pytest.raises(InvalidInput):
        await store.customers.update_profile(customer.id, tier="platinum")
    with pytest.raises(NotFound):
        await store.customers.update_profile(999_999, language="en")


async def test_interactions_keep_the_contact_history_across_channels(
    store: CrmStore, clock
) -> None:
    customer = await store.customers.create(NewCustomer("Gia"))
    for channel, direction, text in [
        (Channel.TELEGRAM, Direction.INBOUND, "hi, can I book?"),
        (Channel.TELEGRAM, Direction.OUTBOUND, "Of course."),
        (Channel.PHONE, Direction.INBOUND, "calling about my bill"),
    ]:
        clock.advance(minutes=1)
        await store.customers.record_interaction(
            customer.id, channel, direction, text, intent="book", conversation_id="c-1"
        )
    view = await store.views.view(customer.id)
    assert [i.text for i in view.recent_interactions] == [
        "calling about my bill",
        "Of course.",
        "hi, can I book?",
    ]
    with pytest.raises(InvalidInput):
        await store.customers.record_interaction(
            customer.id, Channel.WEB, Direction.INBOUND, "x" * 9000
        )
