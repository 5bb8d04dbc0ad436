"""Rasa's REST channel: POST /webhooks/rest/webhook {"sender", "message", "metadata"?}."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from bot.channels.identity import verified_user_id
from bot.dialogue.admission import Busy, worth_logging
from bot.dialogue.messages import InboundMessage, Reply
from bot.http_errors import busy, json_error
from crm_store.enums import Channel
from crm_store.errors import InvalidInput, StoreUnavailable

log = logging.getLogger(__name__)

PATH = "/webhooks/rest/webhook"
_SENDER = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")

Handle = Callable[[InboundMessage], Awaitable[list[Reply]]]


class BadRequest(ValueError):
    pass


def parse_body(raw: bytes) -> tuple[str, str, dict[str, Any]]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    try:  # a lone surrogate (escaped in the JSON) cannot be stored as UTF-8
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise BadRequest("body is not valid Unicode: it has a lone surrogate") from None
    sender, message = body.get("sender"), body.get("message")
    metadata = body.get("metadata")
    metadata = {} if metadata is None else metadata
    if not isinstance(sender, str) or not _SENDER.match(sender):
        raise BadRequest("'sender' must be 1-128 letters, digits or . _ : @ -")
    if not isinstance(message, str):
        raise BadRequest("'message' must be a string")
    if not isinstance(metadata, dict):
        raise BadRequest("'metadata' must be an object")
    return sender, message, metadata


def render(recipient: str, reply: Reply) -> dict[str, Any]:
    data: dict[str, Any] = {"recipient_id": recipient, "text": reply.text}
    choices = reply.buttons or reply.quick_replies
    if choices:
        data["buttons"] = [{"title": b.title, "payload": b.payload} for b in choices]
    custom: dict[str, Any] = dict(reply.custom or {})
    if reply.links:
        custom["links"] = [{"title": link.title, "url": link.url} for link in reply.links]
    if custom:
        data["custom"] = custom
    return data


class RestChannel:
    def __init__(
        self, handle: Handle, identity_secret: SecretStr | None, clock: Callable[[], datetime]
    ) -> None:
        self._handle = handle
        self._secret = identity_secret
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [web.post(PATH, self.webhook)]

    async def webhook(self, request: web.Request) -> web.Response:
        try:
            sender, text, metadata = parse_body(await request.read())
        except BadRequest as exc:
            return json_error(400, str(exc))
        message_id = metadata.get("message_id")
        user_id = verified_user_id(metadata.get("identity"), self._secret)
        inbound = InboundMessage(
            channel=Channel.WEB if user_id else Channel.REST,
            sender_id=user_id or sender,
            text=text,
            received_at=self._clock(),
            message_id=str(message_id)[:128] if message_id is not None else None,
            verified=user_id is not None,
            metadata={},
        )
        try:
            replies = await self._handle(inbound)
        except InvalidInput as exc:
            return json_error(400, str(exc))
        except (StoreUnavailable, Busy) as exc:
            if worth_logging(exc):
                log.warning("503 for %s: %s: %s", inbound.conversation_id, type(exc).__name__, exc)
            return busy()
        return web.json_response([render(sender, reply) for reply in replies])
