"""What every extractor is given besides the text, and what an extractor is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from nlu.entities.errors import NaiveDateTimeError
from nlu.types import Entity


@dataclass(frozen=True, slots=True)
class ParseContext:
    """The moment and place a message is read in, and its language tag ("en", "en-US", "fa").

    The language tag's region (if any) chooses locale conventions: "en-US" reads 03/12 month
    first and numbers without a country code as US numbers; "en" and "en-GB" read day first and
    as GB numbers.
    """

    reference_time: datetime  # timezone-aware
    timezone: ZoneInfo
    language: str = "en"

    def __post_init__(self) -> None:
        offset = self.reference_time.utcoffset()
        if offset is None:
            raise NaiveDateTimeError("ParseContext.reference_time must be timezone-aware")

    @property
    def local_reference(self) -> datetime:
        """The reference time in the context's timezone."""
        return self.reference_time.astimezone(self.timezone)


class EntityExtractor(Protocol):
    """Finds entities of its kinds in a text; never raises on odd input."""

    name: str

    def extract(self, text: str, context: ParseContext) -> list[Entity]: ...
