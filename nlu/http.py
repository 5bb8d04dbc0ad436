"""Rasa's `POST /model/parse` over aiohttp.

Request: `{"text": "...", "message_id"?: "...", "reference_time"?: ISO 8601, "timezone"?: IANA}`.
Answer: Rasa's parse JSON. A request that is not JSON, or has no text, gets 400 with the reason;
an unreachable remote backend 503. Never a 500 for anything a client sends.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from nlu.engine import Interpreter
from nlu.errors import BadParseRequest, NluUnavailable
from nlu.types import ParseResult

log = logging.getLogger(__name__)
InterpreterOf = Callable[[web.Request], Interpreter]


def parse_route(interpreter_of: InterpreterOf, path: str = "/model/parse") -> web.RouteDef:
    """The route; `interpreter_of(request)` finds the interpreter (e.g. in the app's state)."""

    async def handle(request: web.Request) -> web.Response:
        try:
            text, reference_time, timezone = await _read(request)
            result = await interpreter_of(request).parse(text, reference_time, timezone)
        except BadParseRequest as exc:
            return _error(400, str(exc))
        except NluUnavailable as exc:
            log.warning("parse failed: %s", exc)
            return _error(503, "the language understanding service is unavailable")
        return web.json_response(to_rasa_json(result))

    return web.post(path, handle)


def to_rasa_json(result: ParseResult) -> dict[str, Any]:
    """Rasa's JSON; an empty message gets Rasa's `{"name": null, "confidence": 0.0}` intent."""
    data = result.to_rasa()
    if not result.text.strip() and not result.intent_ranking:
        data["intent"] = {"name": None, "confidence": 0.0}
    return data


async def _read(request: web.Request) -> tuple[str, datetime | None, str | None]:
    try:
        body = await request.json(loads=_strict_loads)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadParseRequest(f"the body is not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(body, dict):
        raise BadParseRequest('the body must be a JSON object like {"text": "hello"}')
    text = body.get("text")
    if not isinstance(text, str):
        raise BadParseRequest('"text" must be a string')
    message_id = body.get("message_id")
    if message_id is not None and not isinstance(message_id, str):
        raise BadParseRequest('"message_id" must be a string')
    timezone = body.get("timezone")
    if timezone is not None and not isinstance(timezone, str):
        raise BadParseRequest('"timezone" must be a time zone name like "Europe/London"')
    return text, _reference_time(body.get("reference_time")), timezone


def _reference_time(raw: Any) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise BadParseRequest('"reference_time" must be an ISO 8601 string')
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadParseRequest(f'"reference_time" is not ISO 8601: {raw[:40]!r}') from exc


def _strict_loads(raw: str) -> Any:
    def reject(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(raw, parse_constant=reject)


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)
