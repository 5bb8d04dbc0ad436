"""`PhoneExtractor`: phone numbers (libphonenumber's matcher), valued in E.164 ("+447700900123").

Numbers are read in the region of the context's language tag ("en" -> GB, "en-US" -> US).
A number libphonenumber deems valid has confidence 1.0. A number that is only possible (the
right length, in a range not allocated, such as Ofcom's drama numbers 07700 900xxx) counts only
when written in national or international form (leading 0 or +), with confidence 0.6, and
additional_info {"valid": false}.
"""

from __future__ import annotations

import itertools

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

from nlu.entities.context import ParseContext
from nlu.entities.language import Locale, normaliser_for
from nlu.entities.names import BuiltinEntity, ExtractorName
from nlu.types import Entity

_MIN_DIGITS = 7
_MAX_TRIES = 64  # candidates the matcher looks at per message: bounds the time on huge input
_MAX_NUMBERS = 20  # numbers reported per message (libphonenumber slows down on dense input)
_POSSIBLE_CONFIDENCE = 0.6


class PhoneExtractor:
    name = ExtractorName.PHONE.value

    def extract(self, text: str, context: ParseContext) -> list[Entity]:
        if sum(text.count(digit) for digit in "0123456789") < _MIN_DIGITS and not _has_other_digits(
            text
        ):
            return []
        locale = Locale.from_tag(context.language)
        normal = normaliser_for(locale.language).normalise(text)
        matcher = PhoneNumberMatcher(
            normal, locale.region, leniency=Leniency.POSSIBLE, max_tries=_MAX_TRIES
        )
        entities: list[Entity] = []
        for match in itertools.islice(matcher, _MAX_NUMBERS):
            valid = bool(phonenumbers.is_valid_number(match.number))
            if not valid and not match.raw_string.lstrip("(").startswith(("0", "+")):
                continue
            entities.append(
                Entity(
                    entity=BuiltinEntity.PHONE_NUMBER.value,
                    value=phonenumbers.format_number(match.number, PhoneNumberFormat.E164),
                    start=match.start,
                    end=match.end,
                    extractor=self.name,
                    confidence_entity=1.0 if valid else _POSSIBLE_CONFIDENCE,
                    additional_info={"valid": valid},
                )
            )
        return entities


def _has_other_digits(text: str) -> bool:
    """Digits of another script (Persian, Arabic-Indic, ...) that normalisation turns to ASCII."""
    return not text.isascii() and any(char.isdecimal() for char in text)
