"""Entity extraction: built-in (time, phone, e-mail, number) and learned from training data.

PLACEHOLDER under construction: the interface below is fixed; the implementation is being
written (this file is replaced by the entities work).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from nlu.types import Entity, TrainingData


@dataclass(frozen=True, slots=True)
class ParseContext:
    reference_time: datetime  # timezone-aware
    timezone: ZoneInfo
    language: str = "en"


class EntityExtractor(Protocol):
    name: str

    def extract(self, text: str, context: ParseContext) -> list[Entity]: ...


class EntityPipeline:
    """Every extractor, trained from data where they learn; overlapping answers resolved."""

    @classmethod
    def train(cls, data: TrainingData, *, seed: int = 0) -> EntityPipeline:
        return cls()

    def extract(self, text: str, context: ParseContext) -> list[Entity]:
        return []

    def to_state(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EntityPipeline:
        return cls()
