"""Entities defined by the training data: regexes and lookup tables, and synonyms.

As in Rasa, a regex or lookup table extracts entities only when its name is the name of an
entity annotated somewhere in the examples (other regexes and lookups are features only). Both
match case-insensitively; lookup entries match as whole words. Regexes run on the normalised
text (same offsets; Persian digits are ASCII there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

from nlu.entities.context import ParseContext
from nlu.entities.errors import EntityTrainingError
from nlu.entities.language import Locale, normaliser_for
from nlu.entities.names import ExtractorName
from nlu.types import Entity

_FLAGS = re.IGNORECASE


Patterns = dict[str, list[re.Pattern[str]]]


def compile_regexes(regexes: Mapping[str, Iterable[str]]) -> Patterns:
    """Each name's patterns, compiled; a pattern that does not compile is a training error."""
    compiled: Patterns = {}
    for name, sources in regexes.items():
        for source in sources:
            if not source:
                continue
            try:
                pattern = re.compile(source, _FLAGS)
            except re.error as exc:
                raise EntityTrainingError(f"regex {name!r}: {source!r} is invalid: {exc}") from exc
            compiled.setdefault(name, []).append(pattern)
    return compiled


def compile_lookups(lookups: Mapping[str, Iterable[str]]) -> Patterns:
    """One whole-word alternation per table, longest entries first."""
    compiled: Patterns = {}
    for name, elements in lookups.items():
        words = sorted({e.strip() for e in elements if e.strip()}, key=lambda w: (-len(w), w))
        if words:
            body = "|".join(re.escape(w) for w in words)
            compiled[name] = [re.compile(rf"(?<!\w)(?:{body})(?!\w)", _FLAGS)]
    return compiled


def pattern_spans(patterns: Patterns, text: str) -> list[tuple[str, int, int]]:
    """(name, start, end) of every non-empty match of every pattern."""
    spans: list[tuple[str, int, int]] = []
    for name, compiled in patterns.items():
        for pattern in compiled:
            spans.extend(
                (name, m.start(), m.end()) for m in pattern.finditer(text) if m.end() > m.start()
            )
    return spans


class PatternEntityExtractor:
    """Entities from named patterns: `RegexEntityExtractor` or `LookupEntityExtractor`."""

    def __init__(self, name: str, patterns: Patterns) -> None:
        self.name = name
        self._patterns = dict(patterns)

    @classmethod
    def regexes(cls, patterns: Patterns) -> PatternEntityExtractor:
        return cls(ExtractorName.REGEX.value, patterns)

    @classmethod
    def lookups(cls, patterns: Patterns) -> PatternEntityExtractor:
        return cls(ExtractorName.LOOKUP.value, patterns)

    def extract(self, text: str, context: ParseContext) -> list[Entity]:
        if not text or not self._patterns:
            return []
        normal = normaliser_for(Locale.from_tag(context.language).language).normalise(text)
        return [
            Entity(
                entity=entity,
                value=text[start:end],
                start=start,
                end=end,
                extractor=self.name,
                confidence_entity=1.0,
            )
            for entity, start, end in pattern_spans(self._patterns, normal)
        ]


class EntitySynonymMapper:
    """Replaces an entity's value by its canonical value (Rasa's EntitySynonymMapper)."""

    name = ExtractorName.SYNONYMS.value

    def __init__(self, synonyms: Mapping[str, str]) -> None:
        self._synonyms = {k.lower(): v for k, v in synonyms.items()}

    @property
    def synonyms(self) -> dict[str, str]:
        return dict(self._synonyms)

    def apply(self, entity: Entity, normalised_surface: str) -> Entity:
        if not self._synonyms or not isinstance(entity.value, str):
            return entity
        for key in (entity.value.lower(), normalised_surface.lower()):
            canonical = self._synonyms.get(key)
            if canonical is not None:
                return replace(entity, value=canonical)
        return entity


def synonyms_from(
    synonyms: Mapping[str, str], annotated: Iterable[tuple[str, object]]
) -> dict[str, str]:
    """The data's synonyms plus, as in Rasa, annotations whose value differs from their text."""
    merged = {k.lower(): v for k, v in synonyms.items()}
    for surface, value in annotated:
        if isinstance(value, str) and surface.strip() and surface.lower() != value.lower():
            merged.setdefault(surface.lower(), value)
    return merged
