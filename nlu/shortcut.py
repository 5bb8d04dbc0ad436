"""Rasa's intent shortcut: `/intent`, `/intent{"slot": "value"}`, `/intent@0.8{...}`.

Buttons send such text; it skips the classifier. Entities of a list value become one entity per
element; their offsets span the JSON object, as in Rasa. Malformed JSON keeps the intent and
drops the entities (Rasa does the same, with a warning).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from nlu.types import Entity, IntentScore, ParseResult

EXTRACTOR = "RegexMessageHandler"
_SHORTCUT = re.compile(
    r"^/(?P<intent>[^{@\s]+)(?:@(?P<confidence>[0-9.]+))?\s*(?P<entities>\{.*\})?\s*$",
    re.DOTALL,
)


def parse_shortcut(text: str) -> ParseResult | None:
    """The shortcut's meaning, or None when the text is not one."""
    match = _SHORTCUT.match(text.strip())
    if match is None:
        return None
    offset = len(text) - len(text.lstrip())
    intent = IntentScore(match.group("intent"), _confidence(match.group("confidence")))
    entities: tuple[Entity, ...] = ()
    if match.group("entities") is not None:
        start = offset + match.start("entities")
        entities = _entities(match.group("entities"), start, offset + match.end("entities"))
    return ParseResult(text=text, intent=intent, entities=entities, intent_ranking=(intent,))


def _confidence(raw: str | None) -> float:
    if raw is None:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        return 1.0
    return min(1.0, max(0.0, value)) if math.isfinite(value) else 1.0


def _entities(raw: str, start: int, end: int) -> tuple[Entity, ...]:
    try:
        data: Any = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return ()
    if not isinstance(data, dict):
        return ()
    found: list[Entity] = []
    for name, values in data.items():
        for value in values if isinstance(values, list) else [values]:
            found.append(Entity(str(name), value, start, end, EXTRACTOR))
    return tuple(found)
