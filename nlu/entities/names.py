"""The names of the built-in entities (Duckling's dimension names) and of the extractors."""

from __future__ import annotations

from enum import StrEnum


class BuiltinEntity(StrEnum):
    TIME = "time"
    NUMBER = "number"
    EMAIL = "email"
    PHONE_NUMBER = "phone-number"


class ExtractorName(StrEnum):
    TIME = "TimeExtractor"
    NUMBER = "NumberExtractor"
    EMAIL = "EmailExtractor"
    PHONE = "PhoneExtractor"
    REGEX = "RegexEntityExtractor"
    LOOKUP = "LookupEntityExtractor"
    CRF = "CRFEntityExtractor"
    SYNONYMS = "EntitySynonymMapper"
