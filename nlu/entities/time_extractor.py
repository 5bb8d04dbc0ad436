"""`TimeExtractor`: dates and times relative to a reference time, returned Duckling-style.

Why a grammar of our own rather than dateparser: dateparser's `search_dates` returns no offsets
(the pipeline needs start/end), finds dates in ordinary words ("May I come", "the sun", "2
people" all come back as dates), resolves relative to the machine's clock and timezone unless
told otherwise, has no notion of intervals ("Wednesday morning", "after 2pm") or grains, and is
slow (2-20 ms per message, 400 ms for the first). Tried on the clinic's phrases: see
docs/nlu-entities.md. Duckling does all this well but is a Haskell server.
So: regex rules -> atoms -> joined expressions -> resolution (see time_grammar and time_resolve),
tested phrase by phrase against hand-computed values.

A value is an ISO 8601 string with the UTC offset in force at that moment (mind DST), e.g.
"2026-11-24T15:00:00.000+00:00"; an interval is {"from": ..., "to": ...} with either side
missing when open ("after 2pm"). `additional_info` holds the Duckling-like detail:
{"type": "value", "value", "grain"} or {"type": "interval", "from": {...}, "to": {...}, "grain"}.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nlu.entities.context import ParseContext
from nlu.entities.language import Locale, normaliser_for
from nlu.entities.names import BuiltinEntity, ExtractorName
from nlu.entities.normalise import Normaliser
from nlu.entities.time_grammar import find_expressions
from nlu.entities.time_resolve import Resolved, resolve
from nlu.types import Entity

GRAMMAR_LANGUAGES = frozenset({"en"})


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


class TimeExtractor:
    """Dates, times and intervals, in English (other languages: none yet)."""

    name = ExtractorName.TIME.value

    def __init__(self, *, day_first: bool | None = None) -> None:
        self._day_first = day_first  # None: from the language tag's region

    def extract(self, text: str, context: ParseContext) -> list[Entity]:
        locale = Locale.from_tag(context.language)
        if not text or locale.language not in GRAMMAR_LANGUAGES:
            return []
        normaliser: Normaliser = normaliser_for(locale.language)
        day_first = locale.day_first if self._day_first is None else self._day_first
        reference = context.local_reference
        entities: list[Entity] = []
        for atom in find_expressions(normaliser.normalise(text), day_first=day_first):
            found = resolve(atom.spec, reference, context.timezone)
            if found is None:
                continue
            value, info = describe(found)
            entities.append(
                Entity(
                    entity=BuiltinEntity.TIME.value,
                    value=value,
                    start=atom.start,
                    end=atom.end,
                    extractor=self.name,
                    confidence_entity=atom.confidence,
                    additional_info=info,
                )
            )
        return entities


def describe(found: Resolved) -> tuple[Any, dict[str, Any]]:
    """The entity value and its additional_info, Duckling's way."""
    grain = str(found.grain)
    if not found.interval:
        assert found.start is not None
        value = iso(found.start)
        return value, {"type": "value", "value": value, "grain": grain}
    interval: dict[str, str] = {}
    info: dict[str, Any] = {"type": "interval", "grain": grain}
    for key, moment in (("from", found.start), ("to", found.end)):
        if moment is not None:
            interval[key] = iso(moment)
            info[key] = {"value": iso(moment), "grain": grain}
    return interval, info
