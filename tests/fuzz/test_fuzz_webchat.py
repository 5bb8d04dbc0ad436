"""Hostile frames on the web chat WebSocket: arbitrary JSON, wrong types, binary frames, odd
unicode and injections in messages, lone surrogates, frames over the size limit. Every frame gets
a documented answer (an error frame, or the message stored once and acked); no trace; a frame
over the limit closes the socket (1009) with nothing stored."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.channels.webchat.protocol import ErrorCode
from tests.fuzz.conftest import ORIGIN, FuzzApp, diff
from tests.fuzz.strategies import FUZZ, assert_clean, dumps, hostile_text, json_values, object_with

pytestmark = pytest.mark.asyncio(loop_scope="module")
CODES = {code.value for code in ErrorCode}
SERVER_TYPES = {"welcome", "message", "ack", "typing", "error", "pong"}


async def connect(app: FuzzApp) -> aiohttp.ClientWebSocketResponse:
    ws = await app.client.ws_connect("/webchat/ws", headers={"Origin": ORIGIN})
    await ws.send_str(json.dumps({"type": "hello"}))
    welcome = await ws.receive_json(timeout=10)
    assert welcome["type"] == "welcome", welcome
    return ws


def checked(msg: aiohttp.WSMessage) -> dict[str, Any]:
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    assert_clean(200, msg.data)
    frame: dict[str, Any] = json.loads(msg.data)
    assert frame.get("type") in SERVER_TYPES, frame
    if frame["type"] == "error":
        assert frame["code"] in CODES and isinstance(frame["message"], str), frame
    return frame


async def until_pong(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Every frame the server sent up to the pong answering our ping (frames are in order)."""
    await ws.send_str('{"type": "ping"}')
    frames: list[dict[str, Any]] = []
    while (frame := checked(await ws.receive(timeout=15)))["type"] != "pong":
        frames.append(frame)
    return frames


async def settled(ws: aiohttp.ClientWebSocketResponse, key: str | None) -> list[dict[str, Any]]:
    """Frames until the message `key` is acked or refused (an unreadable frame's error carries
    no key); without a key, until the pong after it."""
    frames = await until_pong(ws)
    if key is None:
        return frames
    while not any(
        (f["type"] == "ack" and f["key"] == key)
        or (f["type"] == "error" and f.get("key") in (key, None))
        for f in frames
    ):
        frames.append(checked(await ws.receive(timeout=15)))
    return frames


@FUZZ
@given(
    frame=st.one_of(json_values, object_with({"type": "message", "key": "k" * 10, "text": "hi"}))
)
@example(frame={"type": "hello", "session": "'; DROP TABLE webchat_messages; --"})
@example(frame={"type": "message", "key": "../../etc", "text": "hi"})
@example(frame={"type": "ping", "last_seq": -1})
@example(frame={"type": "ping", "last_seq": 2**70})  # was a 500: too large for the database
@example(frame={"type": "hello", "last_seq": 2**64})
async def test_arbitrary_frames_are_answered(fuzz_app: FuzzApp, frame: Any) -> None:
    ws = await connect(fuzz_app)
    try:
        before = await fuzz_app.counts()
        await ws.send_str(dumps(frame).decode())
        key = (
            frame.get("key") if isinstance(frame, dict) and frame.get("type") == "message" else None
        )
        frames = await settled(ws, key if isinstance(key, str) else None)
        acked = [f for f in frames if f["type"] == "ack"]
        changed = diff(before, await fuzz_app.counts())
        if not acked:
            assert changed.get("webchat_messages", 0) == 0 and "interactions" not in changed
    finally:
        await ws.close()


@FUZZ
@given(text=hostile_text)
@example(text="<img src=x onerror=alert(1)>")
@example(text="'; DROP TABLE webchat_messages; --")
async def test_hostile_messages_are_stored_once_and_acked(fuzz_app: FuzzApp, text: str) -> None:
    ws = await connect(fuzz_app)
    try:
        key = uuid.uuid4().hex
        await ws.send_str(json.dumps({"type": "message", "key": key, "text": text}))
        frames = await settled(ws, key)
        mine = [f for f in frames if f.get("key") == key]
        if text.strip():
            assert any(f["type"] == "ack" for f in mine), frames
            echoed = [f for f in mine if f["type"] == "message"]
            assert len(echoed) == 1 and echoed[0]["text"] == text
        else:
            assert [f["code"] for f in mine if f["type"] == "error"] == ["bad_frame"]
        assert await stored(fuzz_app, key) == (1 if text.strip() else 0)
    finally:
        await ws.close()


async def stored(app: FuzzApp, key: str) -> int:
    from sqlalchemy import func, select

    from crm_store.models import WebchatMessage

    async with app.store.database.transaction() as session:
        return int(
            await session.scalar(select(func.count()).where(WebchatMessage.client_key == key)) or 0
        )


@pytest.mark.parametrize("escaped", ["\\ud800", "x\\udfff"])
async def test_a_lone_surrogate_is_refused_politely(fuzz_app: FuzzApp, escaped: str) -> None:
    ws = await connect(fuzz_app)
    try:
        key = uuid.uuid4().hex
        await ws.send_str(f'{{"type": "message", "key": "{key}", "text": "{escaped}"}}')
        frames = await settled(ws, key)
        errors = [f for f in frames if f["type"] == "error" and f.get("key") in (key, None)]
        assert [f["code"] for f in errors] == ["bad_frame"], frames
        assert await stored(fuzz_app, key) == 0  # was stored, then "failed": half-written
    finally:
        await ws.close()


async def test_a_binary_frame_is_a_bad_frame(fuzz_app: FuzzApp) -> None:
    ws = await connect(fuzz_app)
    try:
        await ws.send_bytes(b"\x00\xff" * 100)
        frames = await until_pong(ws)
        assert [f["code"] for f in frames if f["type"] == "error"] == ["bad_frame"]
    finally:
        await ws.close()


async def test_a_frame_over_the_limit_closes_the_socket_with_nothing_stored(
    fuzz_app: FuzzApp,
) -> None:
    ws = await connect(fuzz_app)
    before = await fuzz_app.counts()
    key = uuid.uuid4().hex
    await ws.send_str(json.dumps({"type": "message", "key": key, "text": "a" * 200_000}))
    msg = await ws.receive(timeout=10)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
    assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    await ws.close()
    assert diff(before, await fuzz_app.counts()) == {}
