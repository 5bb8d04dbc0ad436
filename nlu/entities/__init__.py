"""Entity extraction: built-in (time, phone, e-mail, number) and learned from training data.

Public API:

* `ParseContext(reference_time, timezone, language="en")`: when and where a message is read;
  the language tag's region sets locale conventions ("en-US": month-first dates, US numbers).
* `EntityExtractor`: the protocol every extractor follows (`name`, `extract(text, context)`).
* `EntityPipeline`: `train(data, seed=0)`, `extract(text, context)`, `to_state()` (plain JSON),
  `from_state(state)`.
* The extractors, usable alone: `TimeExtractor`, `PhoneExtractor`, `EmailExtractor`,
  `NumberExtractor`, `PatternEntityExtractor` (regexes / lookups), `CRFEntityExtractor`.
* `BuiltinEntity` (entity names), `ExtractorName`, and the errors (`EntityError` and subclasses).

See docs/nlu-entities.md for the conventions (values, grains, intervals, ambiguity).
"""

from __future__ import annotations

from nlu.entities.context import EntityExtractor, ParseContext
from nlu.entities.crf_extractor import CRFEntityExtractor
from nlu.entities.email import EmailExtractor
from nlu.entities.errors import (
    EntityError,
    EntityStateError,
    EntityTrainingError,
    NaiveDateTimeError,
)
from nlu.entities.from_data import EntitySynonymMapper, PatternEntityExtractor
from nlu.entities.language import Locale
from nlu.entities.names import BuiltinEntity, ExtractorName
from nlu.entities.normalise import Normaliser
from nlu.entities.numbers import NumberExtractor
from nlu.entities.phone import PhoneExtractor
from nlu.entities.pipeline import EntityPipeline, resolve_overlaps
from nlu.entities.time_extractor import TimeExtractor

__all__ = [
    "BuiltinEntity",
    "CRFEntityExtractor",
    "EmailExtractor",
    "EntityError",
    "EntityExtractor",
    "EntityPipeline",
    "EntityStateError",
    "EntitySynonymMapper",
    "EntityTrainingError",
    "ExtractorName",
    "Locale",
    "NaiveDateTimeError",
    "Normaliser",
    "NumberExtractor",
    "ParseContext",
    "PatternEntityExtractor",
    "PhoneExtractor",
    "TimeExtractor",
    "resolve_overlaps",
]
