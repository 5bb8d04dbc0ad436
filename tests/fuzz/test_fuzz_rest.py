"""Hostile input at the REST channel (POST /webhooks/rest/webhook): malformed JSON, wrong types,
odd unicode, injections, bodies over server.max_body_bytes. Never a 5xx or a trace; a refusal
writes nothing; an accepted message is exactly one inbound interaction, answered in Rasa's shape."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.conftest import FuzzApp, diff
from tests.fuzz.strategies import (
    FUZZ,
    LONE_SURROGATES,
    assert_clean,
    dumps,
    hostile_text,
    json_error_body,
    json_values,
    malformed_json,
    object_with,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
PATH = "/webhooks/rest/webhook"
senders = (f"fuzz-{n}" for n in itertools.count())


async def post(app: FuzzApp, raw: bytes) -> tuple[int, str]:
    response = await app.client.post(PATH, data=raw, headers={"Content-Type": "application/json"})
    return response.status, await response.text()


def assert_rasa_answer(body: str, sender: str) -> None:
    replies = json.loads(body)
    assert isinstance(replies, list), body[:300]
    for reply in replies:
        assert reply["recipient_id"] == sender
        assert isinstance(reply["text"], str)
        for button in reply.get("buttons", []):
            assert isinstance(button["title"], str) and isinstance(button["payload"], str)


@FUZZ
@given(raw=malformed_json)
@example(raw=b"[" * 60_000)  # deep nesting under the size limit: RecursionError was a 500
async def test_malformed_bodies_are_refused_with_nothing_written(
    fuzz_app: FuzzApp, raw: bytes
) -> None:
    before = await fuzz_app.counts()
    status, body = await post(fuzz_app, raw)
    assert_clean(status, body)
    assert status in (400, 413), (status, body[:300])
    json_error_body(body)
    assert diff(before, await fuzz_app.counts()) == {}


@FUZZ
@given(body=st.one_of(json_values, object_with({"sender": "fuzz-x", "message": "hello"})))
async def test_wrong_types_are_refused_or_answered(fuzz_app: FuzzApp, body: Any) -> None:
    before = await fuzz_app.counts()
    status, text = await post(fuzz_app, dumps(body))
    assert_clean(status, text, allowed_5xx=(503,))
    changed = diff(before, await fuzz_app.counts())
    if status == 200:
        assert_rasa_answer(text, body["sender"])
        assert changed.get("interactions", 0) >= 1
    else:
        assert status in (400, 503), (status, text[:300])
        json_error_body(text)
        assert changed == {}


@FUZZ
@given(message=hostile_text)
@example(message="'; DROP TABLE customers; --")
@example(message="<script>alert(1)</script>")
@example(message="nul\x00byte")
async def test_hostile_text_is_one_inbound_interaction(fuzz_app: FuzzApp, message: str) -> None:
    sender = next(senders)
    before = await fuzz_app.counts()
    status, body = await post(fuzz_app, dumps({"sender": sender, "message": message}))
    assert_clean(status, body, allowed_5xx=(503,))
    assert status in (200, 400), (status, body[:300])
    if status == 400:
        json_error_body(body)
        assert diff(before, await fuzz_app.counts()) == {}
        return
    assert_rasa_answer(body, sender)
    inbound = await inbound_of(fuzz_app, f"rest:{sender}")
    assert len(inbound) == 1, inbound


async def inbound_of(app: FuzzApp, conversation: str) -> list[str | None]:
    from sqlalchemy import select

    from crm_store.enums import Direction
    from crm_store.models import Interaction

    async with app.store.database.transaction() as session:
        rows = await session.scalars(
            select(Interaction.text).where(
                Interaction.conversation_id == conversation,
                Interaction.direction == Direction.INBOUND,
            )
        )
        return list(rows)


@pytest.mark.parametrize("escaped", LONE_SURROGATES)
async def test_lone_surrogates_are_refused_or_answered_cleanly(
    fuzz_app: FuzzApp, escaped: str
) -> None:
    sender = next(senders)
    raw = f'{{"sender": "{sender}", "message": {escaped}}}'.encode()
    status, body = await post(fuzz_app, raw)
    assert_clean(status, body)
    assert status in (200, 400), (status, body[:300])
    inbound = await inbound_of(fuzz_app, f"rest:{sender}")
    assert len(inbound) == (1 if status == 200 else 0)


async def test_a_body_over_the_limit_is_413_with_nothing_written(fuzz_app: FuzzApp) -> None:
    before = await fuzz_app.counts()
    message = "a" * (fuzz_app.max_body + 1)
    status, body = await post(fuzz_app, dumps({"sender": "fuzz-huge", "message": message}))
    assert status == 413, (status, body[:300])
    assert_clean(status, body)
    json_error_body(body)
    assert diff(before, await fuzz_app.counts()) == {}
