"""Replies as Telegram messages (splitting, escaping, keyboards, long callback data); pacing."""

from __future__ import annotations

import asyncio
import itertools
import time

from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot.channels.telegram.live_state import MemoryCallbacks, MemoryUpdateClaims
from bot.channels.telegram.render import (
    MAX_CHARS,
    callback_data,
    long_payloads,
    render,
    render_all,
    split_text,
    utf16_len,
)
from bot.channels.telegram.sender import Pacer
from bot.channels.telegram.updates import e164
from bot.dialogue.messages import Button, Link, Reply


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    paragraph = "a" * 60
    text = f"{paragraph}\n\n{'b' * 30}\n{'c' * 20} {'d' * 20}"
    assert split_text(text, limit=100) == [paragraph, f"{'b' * 30}\n{'c' * 20} {'d' * 20}"]
    assert split_text("x" * 250, limit=100) == ["x" * 100, "x" * 100, "x" * 50]
    assert split_text("short") == ["short"]


def test_split_counts_utf16_units_like_telegram() -> None:
    emoji = "🙂" * 3000  # two UTF-16 units each: 6,000 units
    pieces = split_text(emoji)
    assert "".join(pieces) == emoji
    assert all(utf16_len(piece) <= MAX_CHARS for piece in pieces) and len(pieces) == 2


def test_buttons_become_an_inline_keyboard_and_links_url_buttons() -> None:
    reply = Reply(
        "Pick <one>",
        buttons=(Button("Monday 10:00 with Dr Hartley", "/choose_slot"), Button("No", "/deny")),
        links=(Link("Map", "https://maps.example/x"), Link("Call", "tel:+442079460321")),
    )
    (message,) = render(reply)
    assert message.text == "Pick &lt;one&gt;\nCall: tel:+442079460321"
    assert isinstance(message.markup, InlineKeyboardMarkup)
    rows = message.markup.inline_keyboard
    assert [[b.callback_data or b.url for b in row] for row in rows] == [
        ["/choose_slot"],
        ["/deny"],
        ["https://maps.example/x"],
    ]
    (stars,) = render(Reply("Rate", buttons=tuple(Button("★" * n, f"/r{n}") for n in (1, 2))))
    assert isinstance(stars.markup, InlineKeyboardMarkup) and len(stars.markup.inline_keyboard) == 1


def test_a_contact_request_is_a_one_time_reply_keyboard_with_choices_in_the_text() -> None:
    reply = Reply(
        "Share it",
        buttons=(Button("Talk to a person", "/request_human"),),
        custom={"request_contact": "Share my phone number"},
    )
    (message,) = render(reply)
    assert isinstance(message.markup, ReplyKeyboardMarkup) and message.markup.one_time_keyboard
    (button,) = message.markup.keyboard[0]
    assert button.request_contact and button.text == "Share my phone number"
    assert "1. Talk to a person" in message.text


def test_remove_keyboard_goes_on_the_first_plain_message_unless_a_contact_is_asked_for() -> None:
    plain = [Reply("Thanks"), Reply("Next")]
    first, second = render_all(plain, remove_keyboard=True)
    assert isinstance(first.markup, ReplyKeyboardRemove) and second.markup is None
    ask = [Reply("Again", custom={"request_contact": "Share"})]
    (again,) = render_all(ask, remove_keyboard=True)
    assert isinstance(again.markup, ReplyKeyboardMarkup)


async def test_long_payloads_map_to_short_keys_in_a_bounded_table() -> None:
    table = MemoryCallbacks(max_items=2)
    short = '/choose_slot{"option": 2}'
    assert callback_data(short) == short and await table.payload(short) == short
    payloads = [f'/x{{"note": "{n}{"y" * 80}"}}' for n in range(3)]
    keys = [callback_data(payload) for payload in payloads]
    assert all(len(key.encode()) <= 64 and key.startswith("#") for key in keys)
    assert callback_data(payloads[0]) == keys[0]  # the same payload, the same key
    reply = Reply(
        "Pick", buttons=tuple(Button(str(n), p) for n, p in enumerate([short, *payloads]))
    )
    assert long_payloads([reply]) == dict(zip(keys, payloads, strict=True))
    (message,) = render(reply)
    assert isinstance(message.markup, InlineKeyboardMarkup)
    sent = [b.callback_data for row in message.markup.inline_keyboard for b in row]
    assert sent == [short, *keys]
    await table.keep(long_payloads([reply]))
    assert await table.payload(keys[0]) is None  # the oldest went first
    assert await table.payload(keys[2]) == payloads[2]
    assert callback_data("#looks-like-a-key") != "#looks-like-a-key"  # never ambiguous


async def test_claims_and_phone_numbers() -> None:
    claims = MemoryUpdateClaims(max_items=2)
    assert await claims.claim(1) and not await claims.claim(1)
    await claims.release(1)
    assert await claims.claim(1) and await claims.claim(2) and await claims.claim(3)
    assert await claims.claim(1)  # the oldest went first
    assert e164("447700900001") == e164("+44 7700 900001") == "+447700900001"


async def test_the_pacer_spaces_one_chat_and_shares_the_global_rate() -> None:
    gap = 0.05
    pacer = Pacer(per_chat_interval=gap, global_rate=1 / (gap / 2))
    stamps: dict[int, list[float]] = {1: [], 2: []}

    async def send(chat: int) -> None:
        async with pacer.slot(chat):
            stamps[chat].append(time.monotonic())

    await asyncio.gather(*(send(chat) for chat in (1, 2, 1, 2, 1)))

    for chat_stamps in stamps.values():
        assert all(b - a >= gap * 0.99 for a, b in itertools.pairwise(chat_stamps))
    # Global slots are reserved 1/rate apart; a waiter that wakes late (a busy machine) can end
    # up closer to the next one, so the global rate is checked over the whole run.
    everything = sorted(stamps[1] + stamps[2])
    assert everything[-1] - everything[0] >= (len(everything) - 1) * gap / 2 * 0.95
