"""Who is calling, and what their keys and words become for the dialogue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.channels.voice.caller import (
    birth_date_payload,
    caller_of,
    keyed_text,
    pick,
    spoken_text,
    wants_call_back,
)
from bot.dialogue.messages import Button
from bot.nlu_backend import runtime_config, trained_model_path
from crm_store.enums import Channel
from nlu.engine import LocalInterpreter
from tests.dialogue_support import RuleInterpreter, demo_settings

YES_NO = (Button("Yes", "/affirm"), Button("No", "/deny"))
STARS = tuple(Button("★" * n, f'/rate{{"score": {n}}}') for n in range(1, 6))


@pytest.mark.parametrize(
    ("raw", "channel", "sender", "number"),
    [
        ("+447700900001", Channel.PHONE, "+447700900001", "+447700900001"),
        ("07700 900001", Channel.PHONE, "+447700900001", "+447700900001"),  # read in GB
        ("+1 415 555 0100", Channel.PHONE, "+14155550100", "+14155550100"),
        ("anonymous", Channel.REST, "anonymous:CA1", None),
        ("Anonymous", Channel.REST, "anonymous:CA1", None),
        ("+266696687", Channel.REST, "anonymous:CA1", None),  # Twilio's "anonymous"
        ("+7378742833", Channel.REST, "anonymous:CA1", None),  # Twilio's "restricted"
        ("", Channel.REST, "anonymous:CA1", None),
        ("client:alice", Channel.REST, "anonymous:CA1", None),
        ("sip:alice@example.com", Channel.REST, "anonymous:CA1", None),
    ],
)
def test_caller_of(raw: str, channel: Channel, sender: str, number: str | None) -> None:
    caller = caller_of(raw, "CA1", "GB")
    assert (caller.channel, caller.sender_id, caller.number) == (channel, sender, number)


@pytest.mark.parametrize(
    ("said", "chosen"),
    [
        ("1", "/affirm"),
        ("2.", "/deny"),
        ("One.", "/affirm"),
        ("number two", "/deny"),
        ("Option 1", "/affirm"),
        ("yes!", "/affirm"),
        ("NO.", "/deny"),
        ("3", None),
        ("zero", None),
        ("yes please", None),
    ],
)
def test_pick_by_number_or_title(said: str, chosen: str | None) -> None:
    picked = pick(said, YES_NO)
    assert (picked.payload if picked else None) == chosen


def test_keys() -> None:
    assert keyed_text("2", YES_NO) == "/deny"
    assert keyed_text("2#", YES_NO) == "/deny"
    assert keyed_text("4", STARS) == '/rate{"score": 4}'
    assert keyed_text("0", YES_NO) == "/request_human"
    assert keyed_text("7", YES_NO) == "7"  # no seventh choice: the dialogue hears "7"
    assert keyed_text("12031985", ()) == '/identify{"birth_date": "1985-03-12"}'
    assert keyed_text("31021985", ()) == "31021985"  # no 31 February
    assert keyed_text("123", ()) == "123"


def test_words() -> None:
    assert spoken_text("Yes.", YES_NO) == "/affirm"
    assert spoken_text("  I'd like to book a cleaning. ", YES_NO) == "I'd like to book a cleaning."
    assert spoken_text("three", STARS) == '/rate{"score": 3}'


def test_call_back_wish() -> None:
    assert wants_call_back("1", None)
    assert wants_call_back(None, "Could you call me back please?")
    assert wants_call_back(None, "ring me back")
    assert wants_call_back(None, "A callback, please.")
    assert not wants_call_back("2", "I'll hold")
    assert not wants_call_back(None, "I'm calling about my booking")


async def test_a_keyed_birth_date_reads_as_one_with_the_rules_and_the_trained_model(
    nlu_model: str,
) -> None:
    settings = demo_settings("sqlite+aiosqlite://", nlu_model)
    trained = LocalInterpreter.load(trained_model_path(settings), runtime_config(settings))
    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    async with trained:
        for digits, day in [
            ("12031985", "1985-03-12"),
            ("01011970", "1970-01-01"),
            ("29022000", "2000-02-29"),
        ]:
            payload = birth_date_payload(digits)
            assert payload is not None
            for interpreter in (RuleInterpreter(), trained):
                parsed = await interpreter.parse(
                    payload, reference_time=now, timezone="Europe/London"
                )
                assert parsed.intent.name == "identify"
                assert [(e.entity, e.value) for e in parsed.entities] == [("birth_date", day)]
