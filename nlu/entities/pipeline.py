"""`EntityPipeline`: every extractor, synonyms applied, overlapping answers resolved.

Overlaps: among entities whose spans overlap, the longest span wins; on equal length the higher
confidence; then the extractor's rank: rules from the data (RegexEntityExtractor,
LookupEntityExtractor) before the CRF before the built-ins (time, phone, e-mail, number). So
"in two weeks" is a time and not the number "two", "07700 900123" is one phone number and not
two numbers, and a lookup entry beats a CRF guess of the same words.

The state (`to_state`) is plain JSON: the data's synonyms, regexes and lookup tables as text
and the CRF's weights as lists of numbers. No pickle: loading a model file runs no code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nlu.entities.context import EntityExtractor, ParseContext
from nlu.entities.crf_extractor import CRFEntityExtractor
from nlu.entities.email import EmailExtractor
from nlu.entities.errors import EntityStateError
from nlu.entities.from_data import (
    EntitySynonymMapper,
    PatternEntityExtractor,
    Patterns,
    compile_lookups,
    compile_regexes,
    synonyms_from,
)
from nlu.entities.language import Locale, normaliser_for
from nlu.entities.names import BuiltinEntity, ExtractorName
from nlu.entities.numbers import NumberExtractor
from nlu.entities.phone import PhoneExtractor
from nlu.entities.time_extractor import TimeExtractor
from nlu.types import Entity, TrainingData

STATE_FORMAT = "frontdesk.entities"
STATE_VERSION = 1
BUILTINS: dict[str, type[TimeExtractor | PhoneExtractor | EmailExtractor | NumberExtractor]] = {
    BuiltinEntity.TIME.value: TimeExtractor,
    BuiltinEntity.PHONE_NUMBER.value: PhoneExtractor,
    BuiltinEntity.EMAIL.value: EmailExtractor,
    BuiltinEntity.NUMBER.value: NumberExtractor,
}
_RANK = {
    ExtractorName.REGEX.value: 0,
    ExtractorName.LOOKUP.value: 1,
    ExtractorName.CRF.value: 2,
}
_DATA_EXTRACTORS = frozenset(_RANK)


class EntityPipeline:
    """Every extractor, trained from data where they learn; overlapping answers resolved."""

    def __init__(
        self,
        *,
        regexes: dict[str, list[str]] | None = None,
        lookups: dict[str, list[str]] | None = None,
        entity_names: frozenset[str] = frozenset(),
        synonyms: dict[str, str] | None = None,
        crf: CRFEntityExtractor | None = None,
        builtins: Sequence[str] = tuple(BUILTINS),
    ) -> None:
        unknown = set(builtins) - set(BUILTINS)
        if unknown:
            raise EntityStateError(f"unknown built-in entities: {sorted(unknown)}")
        self._regex_sources = {k: list(v) for k, v in (regexes or {}).items()}
        self._lookup_sources = {k: list(v) for k, v in (lookups or {}).items()}
        self._entity_names = entity_names
        self._builtins = list(builtins)
        regex_patterns = compile_regexes(self._regex_sources)
        lookup_patterns = compile_lookups(self._lookup_sources)
        self.features = _feature_patterns(regex_patterns, lookup_patterns)
        self._crf = crf
        self._synonyms = EntitySynonymMapper(synonyms or {})
        self.extractors: list[EntityExtractor] = [
            PatternEntityExtractor.regexes(_only(regex_patterns, entity_names)),
            PatternEntityExtractor.lookups(_only(lookup_patterns, entity_names)),
            *([crf] if crf is not None else []),
            *(BUILTINS[name]() for name in self._builtins),
        ]

    @classmethod
    def train(cls, data: TrainingData, *, seed: int = 0) -> EntityPipeline:
        regexes = {k: list(v) for k, v in data.regexes.items()}
        lookups = {k: list(v) for k, v in data.lookups.items()}
        names = frozenset(e.entity for ex in data.examples for e in ex.entities)
        annotated = [
            (ex.text[e.start : e.end], e.value) for ex in data.examples for e in ex.entities
        ]
        features = _feature_patterns(compile_regexes(regexes), compile_lookups(lookups))
        crf = CRFEntityExtractor.train(data.examples, features, seed=seed, skip=frozenset(BUILTINS))
        return cls(
            regexes=regexes,
            lookups=lookups,
            entity_names=names,
            synonyms=synonyms_from(data.synonyms, annotated),
            crf=crf,
        )

    def extract(self, text: str, context: ParseContext) -> list[Entity]:
        if not text:
            return []
        found: list[Entity] = []
        for extractor in self.extractors:
            found.extend(extractor.extract(text, context))
        normal = normaliser_for(Locale.from_tag(context.language).language).normalise(text)
        found = [
            self._synonyms.apply(e, normal[e.start : e.end])
            if e.extractor in _DATA_EXTRACTORS
            else e
            for e in found
        ]
        return resolve_overlaps(found, len(text))

    def to_state(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "builtins": list(self._builtins),
            "regexes": {k: list(v) for k, v in self._regex_sources.items()},
            "lookups": {k: list(v) for k, v in self._lookup_sources.items()},
            "entities": sorted(self._entity_names),
            "synonyms": self._synonyms.synonyms,
            "crf": None if self._crf is None else self._crf.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EntityPipeline:
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise EntityStateError("not an entity pipeline state")
        if state.get("version") != STATE_VERSION:
            raise EntityStateError(f"unsupported entity state version {state.get('version')!r}")
        try:
            regexes = _string_lists(state["regexes"])
            lookups = _string_lists(state["lookups"])
            names = frozenset(_strings(state["entities"]))
            synonyms = {str(k): str(v) for k, v in dict(state["synonyms"]).items()}
            builtins = _strings(state["builtins"])
            crf_state = state["crf"]
            features = _feature_patterns(compile_regexes(regexes), compile_lookups(lookups))
        except (KeyError, TypeError, ValueError) as exc:
            raise EntityStateError(f"invalid entity pipeline state: {exc}") from exc
        crf = None if crf_state is None else CRFEntityExtractor.from_state(crf_state, features)
        return cls(
            regexes=regexes,
            lookups=lookups,
            entity_names=names,
            synonyms=synonyms,
            crf=crf,
            builtins=builtins,
        )


def resolve_overlaps(entities: list[Entity], size: int) -> list[Entity]:
    """Keep the best of every group of overlapping entities (see the module docstring)."""
    taken = bytearray(size)
    kept: list[Entity] = []
    ranked = sorted(
        entities,
        key=lambda e: (
            -(e.end - e.start),
            -(e.confidence_entity if e.confidence_entity is not None else 1.0),
            _RANK.get(e.extractor, 3),
            e.start,
        ),
    )
    for entity in ranked:
        if entity.end <= entity.start or any(taken[entity.start : entity.end]):
            continue
        taken[entity.start : entity.end] = b"\x01" * (entity.end - entity.start)
        kept.append(entity)
    kept.sort(key=lambda e: (e.start, e.end))
    return kept


def _feature_patterns(regexes: Patterns, lookups: Patterns) -> Patterns:
    """Every regex and lookup table, as CRF "pattern" features (whatever their names)."""
    features = {f"re:{name}": compiled for name, compiled in regexes.items()}
    features.update({f"lk:{name}": compiled for name, compiled in lookups.items()})
    return features


def _only(patterns: Patterns, names: frozenset[str]) -> Patterns:
    return {name: compiled for name, compiled in patterns.items() if name in names}


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("expected a list of strings")
    return list(value)


def _string_lists(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise TypeError("expected an object of string lists")
    return {str(k): _strings(v) for k, v in value.items()}
