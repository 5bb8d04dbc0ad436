"""Verification by a shared Telegram contact, as conversations with the dialogue engine.

The channel turns a contact into the intent `share_contact`: with `verified_phone` when it is
the sender's own, or with the metadata `contact_rejected` saying why not. These conversations
check what the dialogue makes of each (tests/integration/test_telegram.py checks the channel).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from bot.demo_seed import DemoSeeder
from bot.dialogue.flows.verification import (
    CONTACT_REJECTED,
    REJECTED_FORWARDED,
    REJECTED_NOT_OWN,
    SHARE_CONTACT,
)
from bot.dialogue.messages import InboundMessage, Reply
from bot.dialogue_setup import Dialogue, open_dialogue
from crm_store.enums import Channel
from crm_store.store import CrmStore
from tests.dialogue_support import RuleInterpreter, demo_settings

USER = "4242"
ANNA_PHONE = "+447700900001"
numbers = itertools.count(1)


@pytest.fixture
async def bot(store: CrmStore) -> AsyncIterator[Dialogue]:
    settings = demo_settings("sqlite+aiosqlite://")
    await DemoSeeder(settings, store).run(1)  # the catalog and Anna Weber
    async with open_dialogue(settings, RuleInterpreter(), store=store, clock=store.clock) as bot:
        yield bot


async def say(
    bot: Dialogue,
    text: str,
    *,
    phone: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> list[Reply]:
    message = InboundMessage(
        channel=Channel.TELEGRAM,
        sender_id=USER,
        text=text,
        received_at=bot.store.clock(),
        message_id=f"tg:{next(numbers)}",
        verified=phone is not None,
        verified_phone=phone,
        metadata=metadata or {},
    )
    return await bot.engine.handle(message)


async def share(bot: Dialogue, rejected: str | None = None) -> list[Reply]:
    if rejected is None:
        return await say(bot, f"/{SHARE_CONTACT}", phone=ANNA_PHONE)
    return await say(bot, f"/{SHARE_CONTACT}", metadata={CONTACT_REJECTED: rejected})


def asks_for_contact(reply: Reply) -> bool:
    return bool((reply.custom or {}).get("request_contact"))


async def verified(bot: Dialogue) -> bool:
    identity = await bot.store.customers.identity(Channel.TELEGRAM, USER)
    return identity is not None and identity.verified


async def test_rejected_contacts_are_explained_and_the_own_one_resumes_the_request(
    bot: Dialogue,
) -> None:
    (ask,) = await say(bot, "/list_appointments")
    assert "sharing your phone number" in ask.text and asks_for_contact(ask)
    assert "Dental cleaning" not in ask.text

    (not_own,) = await share(bot, REJECTED_NOT_OWN)
    assert "isn't your own phone number" in not_own.text and asks_for_contact(not_own)
    (forwarded,) = await share(bot, REJECTED_FORWARDED)
    assert "forwarded contact" in forwarded.text and asks_for_contact(forwarded)
    assert not await verified(bot)

    thanks, listed = await share(bot)

    assert thanks.text == "Thank you, that's confirmed."
    assert "Your upcoming appointments" in listed.text and "Dental cleaning" in listed.text
    assert await verified(bot)
    anna = await bot.store.customers.find_by_identity(Channel.PHONE, ANNA_PHONE)
    me = await bot.store.customers.find_by_identity(Channel.TELEGRAM, USER)
    assert anna is not None and me is not None and me.id == anna.id


async def test_three_rejected_contacts_offer_a_person(bot: Dialogue) -> None:
    await say(bot, "/list_appointments")
    await share(bot, REJECTED_NOT_OWN)
    await share(bot, REJECTED_NOT_OWN)

    (failed,) = await share(bot, REJECTED_NOT_OWN)

    assert "couldn't confirm your identity" in failed.text
    assert [b.payload for b in failed.buttons] == ["/request_human"]
    assert not await verified(bot)


async def test_typing_the_intent_proves_nothing(bot: Dialogue) -> None:
    (reply,) = await say(bot, f"/{SHARE_CONTACT}")  # no contact behind it
    assert asks_for_contact(reply) and not await verified(bot)
    (again,) = await say(bot, "/list_appointments")
    assert asks_for_contact(again) and "Dental cleaning" not in again.text


async def test_moving_on_ends_the_wait_and_a_later_contact_still_verifies(bot: Dialogue) -> None:
    await say(bot, "/list_appointments")
    (welcome,) = await say(bot, "thanks")
    assert welcome.text == "You're welcome!"

    (thanks,) = await share(bot)

    assert thanks.text == "Thank you, that's confirmed." and await verified(bot)
