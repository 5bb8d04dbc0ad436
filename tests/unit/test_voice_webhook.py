"""A webhook's parameters and idempotency key, and the per-call memory between webhooks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from multidict import MultiDict, MultiDictProxy

from bot.channels.voice.calls import CallState, MemoryCallStore
from bot.channels.voice.signature import BadWebhook, parse_form
from bot.channels.voice.webhook import idempotency_key, parse_timestamp, read_webhook
from bot.dialogue.messages import Reply
from crm_store.enums import Channel

BASE = {"CallSid": "CA" + "a" * 32, "From": "+447700900001", "To": "+442079460000"}


def form(**params: str) -> MultiDictProxy[str]:
    return MultiDictProxy(MultiDict({**BASE, **params}))


def test_a_webhook_is_read_and_checked() -> None:
    hook = read_webhook(
        form(
            CallStatus="In-Progress",
            SpeechResult="  Yes,\n please ",
            Confidence="0.91",
            SequenceNumber="3",
            CallDuration="95",
        ),
        {"I-Twilio-Idempotency-Token": "tok-1"},
        "/voice/gather?step=2",
    )
    assert hook.key == "tok-1"
    assert (hook.call_status, hook.speech, hook.confidence) == ("in-progress", "Yes, please", 0.91)
    assert (hook.sequence, hook.duration, hook.digits) == (3, 95, None)
    assert hook.said_anything


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"CallSid": ""}, "CallSid"),
        ({"CallSid": "CA 1"}, "CallSid"),
        ({"Digits": "12a"}, "Digits"),
        ({"SequenceNumber": "x"}, "SequenceNumber"),
        ({"SequenceNumber": "-1"}, "SequenceNumber"),
        ({"CallDuration": "1.5"}, "CallDuration"),
        ({"Confidence": "nan"}, "Confidence"),
    ],
)
def test_bad_parameters_are_refused(change: dict[str, str], reason: str) -> None:
    with pytest.raises(BadWebhook, match=reason):
        read_webhook(form(**change), {}, "/voice/gather")


def test_a_missing_from_is_refused() -> None:
    params = MultiDictProxy(MultiDict({"CallSid": "CA1"}))
    with pytest.raises(BadWebhook, match="From"):
        read_webhook(params, {}, "/voice/incoming")


def test_without_the_header_the_key_is_the_call_url_and_parameters() -> None:
    one = idempotency_key({}, "CA1", "/voice/gather?step=2", form(SpeechResult="yes"))
    assert one == idempotency_key({}, "CA1", "/voice/gather?step=2", form(SpeechResult="yes"))
    assert one.startswith("CA1:")
    assert one != idempotency_key({}, "CA1", "/voice/gather?step=3", form(SpeechResult="yes"))
    assert one != idempotency_key({}, "CA1", "/voice/gather?step=2", form(SpeechResult="no"))
    bad_token = {"I-Twilio-Idempotency-Token": "has spaces in it"}
    assert idempotency_key(bad_token, "CA1", "/voice/gather?step=2", form()) != "has spaces in it"


def test_forms_and_timestamps() -> None:
    assert parse_form(b"a=1&a=2&b=x+y%26").getall("a") == ["1", "2"]
    assert parse_form(b"").get("a") is None
    for bad in (b"no form here", b"\xff=1"):
        with pytest.raises(BadWebhook):
            parse_form(bad)
    assert parse_timestamp("Mon, 23 Nov 2026 09:01:35 +0000") == datetime(
        2026, 11, 23, 9, 1, 35, tzinfo=UTC
    )
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(None) is None


async def test_the_call_store_updates_atomically_and_forgets_old_calls() -> None:
    calls = MemoryCallStore(ttl_seconds=3600, max_items=2)
    fresh = CallState("CA1", Channel.PHONE, "+447700900001", "+447700900001")
    before, after = await calls.update(fresh, lambda s: replace(s, step=s.step + 1))
    assert (before.step, after.step) == (0, 1)
    before, after = await calls.update(fresh, lambda s: replace(s, prompt=(Reply("Hi?"),)))
    assert (before.step, after.step, after.prompt) == (1, 1, (Reply("Hi?"),))
    assert after.conversation_id == "phone:+447700900001"
    await calls.update(replace(fresh, call_sid="CA2"), lambda s: s)
    await calls.update(replace(fresh, call_sid="CA3"), lambda s: s)  # full: the oldest goes
    assert await calls.load("CA1") is None and await calls.load("CA3") is not None
    await calls.remember_answer("k", "<Response/>")
    assert await calls.answer_for("k") == "<Response/>"
    assert await calls.answer_for("other") is None
    expired = MemoryCallStore(ttl_seconds=-1)
    await expired.update(fresh, lambda s: s)
    await expired.remember_answer("k", "<Response/>")
    assert await expired.load("CA1") is None and await expired.answer_for("k") is None
