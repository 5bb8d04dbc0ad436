"""The NLU's vocabulary: what training data holds and what a parse returns (Rasa's shapes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity in a message; offsets index the text the user sent (no markup)."""

    entity: str
    value: Any  # str, int, float, or {"from": ..., "to": ...} for time intervals
    start: int
    end: int
    extractor: str
    confidence_entity: float | None = None
    role: str | None = None
    group: str | None = None
    additional_info: dict[str, Any] | None = None

    def to_rasa(self, text: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "entity": self.entity,
            "start": self.start,
            "end": self.end,
            "value": self.value,
            "extractor": self.extractor,
        }
        if self.confidence_entity is not None:
            data["confidence_entity"] = self.confidence_entity
        if self.role is not None:
            data["role"] = self.role
        if self.group is not None:
            data["group"] = self.group
        if self.additional_info is not None:
            data["additional_info"] = self.additional_info
        data["text"] = text[self.start : self.end]
        return data


@dataclass(frozen=True, slots=True)
class IntentScore:
    name: str
    confidence: float


@dataclass(frozen=True, slots=True)
class ParseResult:
    text: str
    intent: IntentScore
    entities: tuple[Entity, ...] = ()
    intent_ranking: tuple[IntentScore, ...] = ()

    def entity_values(self, name: str) -> list[Any]:
        return [e.value for e in self.entities if e.entity == name]

    def to_rasa(self) -> dict[str, Any]:
        """Rasa's /model/parse JSON."""
        return {
            "text": self.text,
            "intent": {"name": self.intent.name, "confidence": self.intent.confidence},
            "entities": [e.to_rasa(self.text) for e in self.entities],
            "intent_ranking": [
                {"name": s.name, "confidence": s.confidence} for s in self.intent_ranking[:10]
            ],
        }


@dataclass(frozen=True, slots=True)
class Example:
    """One training example: plain text (markup removed), its intent and annotated entities."""

    text: str
    intent: str
    entities: tuple[Entity, ...] = ()
    metadata: dict[str, Any] | None = None
    source: str | None = None  # "file:line", for error messages


@dataclass(frozen=True, slots=True)
class TrainingData:
    """Merged Rasa NLU data: examples plus synonyms, regexes and lookup tables."""

    examples: tuple[Example, ...] = ()
    synonyms: dict[str, str] = field(default_factory=dict)  # surface text (lower) -> value
    regexes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> patterns
    lookups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> elements

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})
