"""The web chat's JSON frames on the WebSocket: what the widget sends and what it is sent.

Widget -> server:
    {"type": "hello", "session"?, "last_seq"?, "identity"?: {"user_id", "hash"}, "token"?}
    {"type": "message", "key", "text", "title"?}     key: the browser's idempotency key
    {"type": "ping", "last_seq"?}
Server -> widget:
    {"type": "welcome", "session", "verified", "reset", "messages": [...], "ping_interval"}
    {"type": "message", "seq", "author", "at", "text", "key"?, "title"?, "buttons"?,
     "quick_replies"?, "links"?, "agent"?}
    {"type": "ack", "key", "seq"}        the message is stored and answered: stop re-sending
    {"type": "typing", "on"}
    {"type": "error", "code", "message", "key"?, "retry"}
    {"type": "pong"}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from crm_store.webchat import Author, TranscriptEntry

SESSION_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
KEY_PATTERN = r"^[A-Za-z0-9_-]{8,48}$"  # leaves room for the "/<n>" of the replies' keys
USER_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,64}$"
TITLE_MAX = 200
TOKEN_MAX = 4096
SEQ_MAX = 2**53 - 1  # the widget's largest safe integer; also fits every database's BIGINT


class ErrorCode(StrEnum):
    BAD_FRAME = "bad_frame"
    HELLO_FIRST = "hello_first"
    TOO_LONG = "too_long"
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"
    FAILED = "failed"
    IDENTITY_REJECTED = "identity_rejected"


class BadFrame(ValueError):
    """A frame the server cannot use; the message says why, without echoing the input."""


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SignedIdentity(_Frame):
    user_id: str = Field(pattern=USER_ID_PATTERN)
    hash: str = Field(min_length=1, max_length=128)


class Hello(_Frame):
    type: Literal["hello"]
    session: str | None = Field(default=None, pattern=SESSION_PATTERN)
    last_seq: int = Field(default=0, ge=0, le=SEQ_MAX)
    identity: SignedIdentity | None = None
    token: str | None = Field(default=None, min_length=1, max_length=TOKEN_MAX)


class Send(_Frame):
    type: Literal["message"]
    key: str = Field(pattern=KEY_PATTERN)
    text: str
    title: str | None = Field(default=None, max_length=TITLE_MAX)


class Ping(_Frame):
    type: Literal["ping"]
    last_seq: int | None = Field(default=None, ge=0, le=SEQ_MAX)


ClientFrame = Annotated[Hello | Send | Ping, Field(discriminator="type")]
_CLIENT_FRAME: TypeAdapter[Hello | Send | Ping] = TypeAdapter(ClientFrame)
TYPES = ("hello", "message", "ping")


def parse(raw: str) -> Hello | Send | Ping:
    try:
        data = json.loads(raw)
        json.dumps(data, ensure_ascii=False).encode()  # a lone surrogate cannot be stored
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        raise BadFrame("a frame must be JSON") from None
    if not isinstance(data, dict) or data.get("type") not in TYPES:
        raise BadFrame(f"a frame must be an object with a type: {', '.join(TYPES)}")
    try:
        return _CLIENT_FRAME.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "frame"
        raise BadFrame(f"{data['type']}.{where}: {first['msg']}") from None


# -- server frames ---------------------------------------------------------------------------------


def _choices(items: Any) -> list[dict[str, str]]:
    if not isinstance(items, list):
        return []
    return [
        {"title": str(item["title"]), "payload": str(item["payload"])}
        for item in items
        if isinstance(item, Mapping) and "title" in item and "payload" in item
    ]


def _links(items: Any) -> list[dict[str, str]]:
    if not isinstance(items, list):
        return []
    return [
        {"title": str(item.get("title", "")), "url": str(item["url"])}
        for item in items
        if isinstance(item, Mapping)
        and str(item.get("url", "")).startswith(("https://", "http://"))
    ]


def message_frame(entry: TranscriptEntry) -> dict[str, Any]:
    body = entry.body
    frame: dict[str, Any] = {
        "type": "message",
        "seq": entry.seq,
        "author": entry.author.value,
        "at": entry.created_at.isoformat(),
        "text": str(body.get("text", "")),
    }
    if entry.author is Author.CUSTOMER:
        frame["key"] = entry.client_key
        if body.get("title"):
            frame["title"] = str(body["title"])
        return frame
    for name, items in (
        ("buttons", _choices(body.get("buttons"))),
        ("quick_replies", _choices(body.get("quick_replies"))),
        ("links", _links(body.get("links"))),
    ):
        if items:
            frame[name] = items
    custom = body.get("custom")
    if entry.author is Author.AGENT and isinstance(custom, Mapping) and custom.get("agent"):
        frame["agent"] = str(custom["agent"])
    return frame


def welcome_frame(
    session: str,
    verified: bool,
    reset: bool,
    messages: Sequence[TranscriptEntry],
    ping_interval: float,
) -> dict[str, Any]:
    return {
        "type": "welcome",
        "session": session,
        "verified": verified,
        "reset": reset,
        "messages": [message_frame(entry) for entry in messages],
        "ping_interval": ping_interval,
    }


def ack_frame(key: str, seq: int) -> dict[str, Any]:
    return {"type": "ack", "key": key, "seq": seq}


def typing_frame(on: bool) -> dict[str, Any]:
    return {"type": "typing", "on": on}


def error_frame(
    code: ErrorCode, message: str, *, key: str | None = None, retry: bool = False
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code.value, "message": message}
    if key is not None:
        frame["key"] = key
    frame["retry"] = retry
    return frame


PONG: dict[str, Any] = {"type": "pong"}
