"""Rasa's inline entity markup: `[text](entity)`, `[text](entity:value)`, `[text]{"entity": ...}`.

`parse_annotated` removes the markup and returns the plain text with its entities, whose offsets
index the plain text; `render_annotated` writes an example back with its markup.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from nlu.types import Entity, Example

ANNOTATION_EXTRACTOR = "training_data"

_ENTITY = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|(?P<json>\{[^}]+?\}))"
)
_JSON_KEYS = {"entity", "value", "role", "group"}


class AnnotationError(ValueError):
    """Markup that cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class Annotated:
    text: str
    entities: tuple[Entity, ...]
    synonyms: dict[str, str]  # surface text (lower) -> value, where an annotation gave one


def parse_annotated(marked: str) -> Annotated:
    """Plain text, entities with offsets on it, and the synonyms the annotations record."""
    plain: list[str] = []
    entities: list[Entity] = []
    synonyms: dict[str, str] = {}
    position = 0
    length = 0
    for match in _ENTITY.finditer(marked):
        before = marked[position : match.start()]
        plain.append(before)
        length += len(before)
        surface = match.group("text")
        fields = _fields(match)
        start, end = length, length + len(surface)
        value = fields.get("value", surface)
        entities.append(
            Entity(
                entity=fields["entity"],
                value=value,
                start=start,
                end=end,
                extractor=ANNOTATION_EXTRACTOR,
                role=fields.get("role"),
                group=fields.get("group"),
            )
        )
        if isinstance(value, str) and value != surface:
            synonyms[surface.lower()] = value
        plain.append(surface)
        length = end
        position = match.end()
    plain.append(marked[position:])
    return Annotated("".join(plain), tuple(entities), synonyms)


def _fields(match: re.Match[str]) -> dict[str, Any]:
    if match.group("json") is None:
        fields: dict[str, Any] = {"entity": match.group("entity").strip()}
        if match.group("value") is not None:
            fields["value"] = match.group("value").strip()
        return fields
    try:
        data = json.loads(match.group("json"))
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"the entity {match.group('json')} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise AnnotationError(f"the entity {match.group('json')} is not a JSON object")
    unknown = sorted(set(data) - _JSON_KEYS)
    if unknown:
        raise AnnotationError(f"unknown key(s) {', '.join(unknown)} in {match.group('json')}")
    if not isinstance(data.get("entity"), str) or not data["entity"].strip():
        raise AnnotationError(f'the entity {match.group("json")} has no "entity" name')
    for key in ("role", "group"):
        if key in data and not isinstance(data[key], str):
            raise AnnotationError(f'"{key}" must be a string in {match.group("json")}')
    return data


def render_annotated(example: Example) -> str:
    """The example's text with its entities written back as Rasa markup."""
    parts: list[str] = []
    position = 0
    for entity in sorted(example.entities, key=lambda e: (e.start, e.end)):
        if entity.start < position:
            continue  # overlapping annotations cannot be written as markup; keep the first
        surface = example.text[entity.start : entity.end]
        parts.append(example.text[position : entity.start])
        parts.append(f"[{surface}]{_markup(entity, surface)}")
        position = entity.end
    parts.append(example.text[position:])
    return "".join(parts)


def _markup(entity: Entity, surface: str) -> str:
    simple_value = isinstance(entity.value, str) and not set(entity.value) & set(":)")
    if entity.role is None and entity.group is None and (entity.value == surface or simple_value):
        if entity.value == surface:
            return f"({entity.entity})"
        return f"({entity.entity}:{entity.value})"
    data: dict[str, Any] = {"entity": entity.entity}
    if entity.value != surface:
        data["value"] = entity.value
    if entity.role is not None:
        data["role"] = entity.role
    if entity.group is not None:
        data["group"] = entity.group
    return json.dumps(data, ensure_ascii=False)
