"""`EmailExtractor`: e-mail addresses, found from each "@" outwards (linear on any input)."""

from __future__ import annotations

import re

from nlu.entities.context import ParseContext
from nlu.entities.language import Locale, normaliser_for
from nlu.entities.names import BuiltinEntity, ExtractorName
from nlu.types import Entity

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,24}}(?![A-Za-z0-9-])")
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-'")
_MAX_LOCAL = 64
_MAX_DOMAIN = 253


class EmailExtractor:
    """Addresses such as anna@example.com; the value is the address as written."""

    name = ExtractorName.EMAIL.value

    def extract(self, text: str, context: ParseContext) -> list[Entity]:
        if "@" not in text:
            return []
        normal = normaliser_for(Locale.from_tag(context.language).language).normalise(text)
        entities: list[Entity] = []
        at = normal.find("@")
        while at != -1:
            found = _address_at(normal, at)
            if found is not None:
                start, end = found
                entities.append(
                    Entity(
                        entity=BuiltinEntity.EMAIL.value,
                        value=normal[start:end],
                        start=start,
                        end=end,
                        extractor=self.name,
                        confidence_entity=1.0,
                    )
                )
                at = normal.find("@", end)
            else:
                at = normal.find("@", at + 1)
        return entities


def _address_at(text: str, at: int) -> tuple[int, int] | None:
    start = at
    while start > 0 and at - start < _MAX_LOCAL and text[start - 1] in _LOCAL_CHARS:
        start -= 1
    while start < at and text[start] in ".'-":
        start += 1  # a local part does not start with these
    if start == at or text[at - 1] == ".":
        return None
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "@"):
        return None  # the local part runs on further than an address may
    match = _DOMAIN.match(text, at + 1, min(len(text), at + 1 + _MAX_DOMAIN))
    if match is None:
        return None
    return start, match.end()
