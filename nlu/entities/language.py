"""Language tags -> locale conventions and the language's normaliser.

A second language plugs in here: add its normaliser (and, in the extractors that read words,
its word tables or grammar). Persian ("fa") has its normaliser now; its date grammar does not
exist yet, so the time extractor finds nothing in Persian text, while numbers (Persian digits),
phone numbers and e-mail addresses already work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.entities.normalise import Normaliser, english_normaliser, persian_normaliser

# Regions whose numeric dates are written month first (03/12 = 12 March there).
MONTH_FIRST_REGIONS = frozenset({"US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "VI", "UM"})
DEFAULT_REGIONS = {"en": "GB", "fa": "IR"}
RIGHT_TO_LEFT = frozenset({"fa", "ar", "he", "ur"})

_NORMALISERS: dict[str, Normaliser] = {
    "en": english_normaliser(),
    "fa": persian_normaliser(),
}
_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}|\d{3}))?(?:[-_].*)?$")


@dataclass(frozen=True, slots=True)
class Locale:
    """A language and a region, from a tag such as "en", "en-GB", "en_US" or "fa-IR"."""

    language: str
    region: str

    @property
    def day_first(self) -> bool:
        return self.region not in MONTH_FIRST_REGIONS

    @property
    def right_to_left(self) -> bool:
        return self.language in RIGHT_TO_LEFT

    @classmethod
    def from_tag(cls, tag: str) -> Locale:
        """Parse a language tag; anything unreadable counts as English in Great Britain."""
        match = _TAG.match(tag.strip())
        if match is None:
            return cls("en", "GB")
        language = match.group(1).lower()
        region = (match.group(2) or DEFAULT_REGIONS.get(language, "GB")).upper()
        return cls(language, region)


def normaliser_for(language: str) -> Normaliser:
    """The language's normaliser (the shared one, which maps all digits, when it has none)."""
    return _NORMALISERS.get(language, _NORMALISERS["en"])
