"""`NumberExtractor`: numbers in digits (any script's digits) and, in English, in words."""

from __future__ import annotations

import re
from collections.abc import Iterator

from nlu.entities.context import ParseContext
from nlu.entities.language import Locale, normaliser_for
from nlu.entities.names import BuiltinEntity, ExtractorName
from nlu.entities.number_words import NUMBER_WORDS
from nlu.entities.time_patterns import next_word, previous_word
from nlu.types import Entity

_DIGITS = re.compile(
    r"(?<![\w.,])(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?(?!\w)(?![.,][0-9])"
)
_MAX_DIGITS = 15  # longer runs are identifiers (or noise), not quantities

_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000}
_WORD = "|".join(sorted([*NUMBER_WORDS, *_TENS, *_SCALES], key=len, reverse=True))
_WORD_RUN = re.compile(
    rf"(?<!\w)(?:{_WORD})(?:(?:\s+and\s+|\s+|-)(?:{_WORD}))*(?!\w)", re.IGNORECASE
)
_WORD_TOKEN = re.compile(rf"(?<!\w)(?:{_WORD})(?!\w)", re.IGNORECASE)
# "one" is often a pronoun: "the one on Friday", "no one", "one of them".
_NOT_BEFORE_ONE = frozenset({"the", "this", "that", "which", "no", "any", "every", "each", "a"})
_NOT_BEFORE_ONE |= {"another", "next", "last", "other", "first", "only", "right", "wrong"}
_NOT_AFTER_ONE = frozenset({"of", "another", "day", "more", "way", "thing"})


class NumberExtractor:
    """Integers and decimals: "2", "1,250", "3.5", "twenty-one", "a hundred and five"."""

    name = ExtractorName.NUMBER.value

    def extract(self, text: str, context: ParseContext) -> list[Entity]:
        if not text:
            return []
        locale = Locale.from_tag(context.language)
        normal = normaliser_for(locale.language).normalise(text)
        found = list(self._digits(normal))
        if locale.language == "en":
            found.extend(self._words(normal))
        found.sort(key=lambda entity: entity.start)
        return found

    def _entity(self, start: int, end: int, value: int | float) -> Entity:
        return Entity(
            entity=BuiltinEntity.NUMBER.value,
            value=value,
            start=start,
            end=end,
            extractor=self.name,
            confidence_entity=1.0,
        )

    def _digits(self, text: str) -> Iterator[Entity]:
        for match in _DIGITS.finditer(text):
            written = match.group().replace(",", "")
            if len(written) > _MAX_DIGITS:
                continue
            value: int | float = float(written) if "." in written else int(written)
            yield self._entity(match.start(), match.end(), value)

    def _words(self, text: str) -> Iterator[Entity]:
        for run in _WORD_RUN.finditer(text):
            tokens = [
                (m.start(), m.end(), m.group().lower()) for m in _WORD_TOKEN.finditer(run.group())
            ]
            for start, end, value in _numbers_in(tokens):
                begin, stop = run.start() + start, run.start() + end
                if text[begin:stop].lower() == "one" and _pronoun(text, begin, stop):
                    continue
                yield self._entity(begin, stop, value)


def _pronoun(text: str, start: int, end: int) -> bool:
    return previous_word(text, start) in _NOT_BEFORE_ONE or next_word(text, end) in _NOT_AFTER_ONE


def _numbers_in(tokens: list[tuple[int, int, str]]) -> Iterator[tuple[int, int, int]]:
    """Split a run of number words into numbers: "two three" is 2 and 3, "twenty one" is 21."""
    words = [word for _, _, word in tokens]
    index = 0
    while index < len(tokens):
        value, used = _read_number(words, index)
        if used == 0:
            index += 1
            continue
        yield tokens[index][0], tokens[index + used - 1][1], value
        index += used


def _read_number(words: list[str], begin: int) -> tuple[int, int]:
    """The number starting at words[begin] and how many words it takes (0: none)."""
    total, current, used = 0, 0, 0
    last = ""  # "unit", "teen", "tens", "hundred", "thousand"
    for index in range(begin, len(words)):
        word = words[index]
        kind = _kind(word)
        if not _may_follow(last, kind) or (kind == "thousand" and total):
            break
        if kind == "hundred":
            current = (current or 1) * 100
        elif kind == "thousand":
            total, current = (current or 1) * 1000, 0
        else:
            current += _TENS.get(word, 0) + NUMBER_WORDS.get(word, 0)
        last, used = kind, used + 1
    return total + current, used


def _kind(word: str) -> str:
    if word in _SCALES:
        return word
    if word in _TENS:
        return "tens"
    return "unit" if NUMBER_WORDS[word] < 10 else "teen"


_FOLLOWS = {
    "": {"unit", "teen", "tens"},
    "unit": {"hundred", "thousand"},
    "teen": {"hundred", "thousand"},
    "tens": {"unit", "thousand"},
    "hundred": {"unit", "teen", "tens", "thousand"},
    "thousand": {"unit", "teen", "tens"},
}


def _may_follow(last: str, kind: str) -> bool:
    return kind in _FOLLOWS[last]
