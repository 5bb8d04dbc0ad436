"""Hostile input at the Telegram webhook: with the right secret header, arbitrary update JSON and
text updates full of odd unicode and injections; with a wrong or missing secret, refused before
anything is read. Never a 5xx (but the documented 503 "please redeliver"), never a trace."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.channels.telegram import webhook_path
from tests.fakes.telegram_api import callback_update, text_update
from tests.fuzz.conftest import TELEGRAM_SECRET, FuzzApp, diff
from tests.fuzz.strategies import (
    FUZZ,
    assert_clean,
    dumps,
    hostile_text,
    json_error_body,
    json_values,
    malformed_json,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
HEADER = "X-Telegram-Bot-Api-Secret-Token"
PATH = webhook_path(TELEGRAM_SECRET)
update_ids = itertools.count(1_000)
users = itertools.count(70_000)


async def post(app: FuzzApp, raw: bytes, secret: str | None = TELEGRAM_SECRET) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[HEADER] = secret
    response = await app.client.post(PATH, data=raw, headers=headers)
    return response.status, await response.text()


def assert_answer(status: int, body: str) -> None:
    assert_clean(status, body, allowed_5xx=(503,))
    data = json.loads(body)
    if status == 200:
        assert data == {"ok": True}
    else:
        assert status in (400, 503), (status, body[:300])
        json_error_body(body)


@FUZZ
@given(
    secret=st.one_of(st.none(), st.text(st.characters(codec="ascii"), max_size=40)),
    raw=st.one_of(malformed_json, json_values.map(dumps)),
)
@example(secret=TELEGRAM_SECRET[:-1], raw=b'{"update_id": 1}')
@example(secret="", raw=b'{"update_id": 1}')
async def test_a_wrong_secret_is_refused_with_nothing_written(
    fuzz_app: FuzzApp, secret: str | None, raw: bytes
) -> None:
    if secret is not None and secret.strip() == TELEGRAM_SECRET:  # HTTP trims header values
        return
    before = await fuzz_app.counts()
    try:
        status, body = await post(fuzz_app, raw, secret)
    except ValueError:  # a header the HTTP client itself will not send (newlines, ...)
        return
    assert_clean(status, body)
    assert status in (401, 403), (status, body[:300])
    json_error_body(body)
    assert diff(before, await fuzz_app.counts()) == {}


@FUZZ
@given(raw=st.one_of(malformed_json, json_values.map(dumps)))
@example(raw=b"[" * 60_000)
@example(raw=b'{"update_id": true}')
@example(raw=b'{"update_id": 1, "message": "not an object"}')
@example(raw=b'{"update_id": 2, "message": {"message_id": "x", "chat": 5}}')
async def test_arbitrary_json_with_the_right_secret(fuzz_app: FuzzApp, raw: bytes) -> None:
    before = await fuzz_app.counts()
    status, body = await post(fuzz_app, raw)
    assert_answer(status, body)
    if status != 200:
        assert diff(before, await fuzz_app.counts()) == {}


@FUZZ
@given(
    message=st.dictionaries(
        st.sampled_from(
            MESSAGE_KEYS := (
                "message_id",
                "date",
                "chat",
                "from",
                "text",
                "entities",
                "contact",
                "reply_to_message",
                "forward_origin",
                "caption",
            )
        ),
        json_values,
        max_size=6,
    )
)
async def test_updates_with_hostile_message_fields(
    fuzz_app: FuzzApp, message: dict[str, Any]
) -> None:
    update = {"update_id": next(update_ids), "message": message}
    before = await fuzz_app.counts()
    status, body = await post(fuzz_app, dumps(update))
    assert_answer(status, body)
    if status != 200:
        assert diff(before, await fuzz_app.counts()) == {}


@FUZZ
@given(text=hostile_text, tap=st.booleans())
@example(text="'; DROP TABLE customers; --", tap=False)
@example(text="<b>bold</b><script>alert(1)</script>", tap=False)
@example(text="/start <script>", tap=False)
@example(text="x" * 300, tap=True)
async def test_hostile_text_is_one_inbound_interaction(
    fuzz_app: FuzzApp, text: str, tap: bool
) -> None:
    user = next(users)
    make = callback_update if tap else text_update
    update = make(next(update_ids), text, user_id=user)
    status, body = await post(fuzz_app, dumps(update))
    assert_answer(status, body)
    inbound = await inbound_count(fuzz_app, str(user))
    if status == 200 and not tap and text.strip():
        assert inbound == 1, (text, inbound)
    else:
        assert inbound <= 1


async def inbound_count(app: FuzzApp, user: str) -> int:
    from sqlalchemy import func, select

    from crm_store.enums import Channel, Direction
    from crm_store.models import Interaction

    async with app.store.database.transaction() as session:
        found = await session.scalar(
            select(func.count()).where(
                Interaction.channel == Channel.TELEGRAM,
                Interaction.direction == Direction.INBOUND,
                Interaction.conversation_id.contains(user),
            )
        )
        return int(found or 0)


async def test_a_body_over_the_limit_is_413(fuzz_app: FuzzApp) -> None:
    update = text_update(next(update_ids), "a" * (fuzz_app.max_body + 1), user_id=next(users))
    before = await fuzz_app.counts()
    status, body = await post(fuzz_app, dumps(update))
    assert status == 413, (status, body[:300])
    assert_clean(status, body)
    json_error_body(body)
    assert diff(before, await fuzz_app.counts()) == {}


@pytest.mark.parametrize("escaped", ["\\ud800", "a\\udfffb"])
async def test_a_lone_surrogate_in_the_text(fuzz_app: FuzzApp, escaped: str) -> None:
    user = next(users)
    raw = dumps(text_update(next(update_ids), "PLACEHOLDER", user_id=user))
    raw = raw.replace(b"PLACEHOLDER", escaped.encode())
    status, body = await post(fuzz_app, raw)
    assert_answer(status, body)
    assert await inbound_count(fuzz_app, str(user)) == (1 if status == 200 else 0)
