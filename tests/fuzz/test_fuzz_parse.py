"""Hostile input at POST /model/parse: never a 5xx or a trace; Rasa's parse JSON or a 400/413."""

from __future__ import annotations

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
PATH = "/model/parse"


async def post(app: FuzzApp, raw: bytes) -> tuple[int, str]:
    response = await app.client.post(PATH, data=raw, headers={"Content-Type": "application/json"})
    return response.status, await response.text()


def assert_parse_shape(body: str, text: str) -> None:
    data = json.loads(body)
    assert isinstance(data["text"], str)  # the text as understood (control characters dropped)
    assert set(data["intent"]) >= {"name", "confidence"}
    assert isinstance(data["entities"], list)
    assert isinstance(data.get("intent_ranking", []), list)


@FUZZ
@given(raw=malformed_json)
@example(raw=b"[" * 60_000)
async def test_malformed_bodies_are_400(fuzz_app: FuzzApp, raw: bytes) -> None:
    status, body = await post(fuzz_app, raw)
    assert_clean(status, body)
    assert status == 400, (status, body[:300])
    json_error_body(body)


@FUZZ
@given(
    body=st.one_of(
        json_values,
        object_with(
            {"text": "hello", "reference_time": "2026-11-23T09:00:00Z", "timezone": "Europe/London"}
        ),
    )
)
@example(body={"text": "hi", "timezone": "Not/AZone"})
@example(body={"text": "tomorrow at 9", "timezone": "../../etc/passwd"})
@example(body={"text": "hi", "reference_time": "9999-12-31T23:59:59+14:00"})
async def test_wrong_types_are_400_or_parsed(fuzz_app: FuzzApp, body: Any) -> None:
    before = await fuzz_app.counts()
    status, text = await post(fuzz_app, dumps(body))
    assert_clean(status, text)
    if status == 200:
        assert_parse_shape(text, body["text"])
    else:
        assert status == 400, (status, text[:300])
        json_error_body(text)
    assert diff(before, await fuzz_app.counts()) == {}  # parsing writes nothing


@FUZZ
@given(text=hostile_text)
@example(text="tomorrow at 25:99 on 31/02")
async def test_hostile_text_is_parsed(fuzz_app: FuzzApp, text: str) -> None:
    status, body = await post(fuzz_app, dumps({"text": text}))
    assert_clean(status, body)
    assert status == 200, (status, body[:300])
    assert_parse_shape(body, text)


@pytest.mark.parametrize("escaped", LONE_SURROGATES)
async def test_lone_surrogates(fuzz_app: FuzzApp, escaped: str) -> None:
    status, body = await post(fuzz_app, f'{{"text": {escaped}}}'.encode())
    assert_clean(status, body)
    assert status in (200, 400), (status, body[:300])
    json.loads(body)


async def test_a_body_over_the_limit_is_413(fuzz_app: FuzzApp) -> None:
    status, body = await post(fuzz_app, dumps({"text": "a" * (fuzz_app.max_body + 1)}))
    assert status == 413, (status, body[:300])
    assert_clean(status, body)
    json_error_body(body)
