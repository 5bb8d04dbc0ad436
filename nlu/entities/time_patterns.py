"""Regex fragments and helpers shared by the time grammar's rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from nlu.entities.time_lexicon import (
    ALL_MONTHS,
    MINUTE_WORDS,
    MONTHS,
    ORDINALS,
    PAST_TO_MINUTES,
    SMALL_NUMBERS,
    WEEKDAY_ABBREVIATIONS,
    WEEKDAYS,
    alternation,
)
from nlu.entities.time_spec import Atom, ClockSpec

FLAGS = re.IGNORECASE
B = r"(?<!\w)(?=[\w@])"  # a word (or "@3pm") starts here
E = r"(?!\w)"  # a word ends here

WEEKDAY = alternation(WEEKDAYS)
WEEKDAY_SHORT = alternation(WEEKDAY_ABBREVIATIONS) + r"\.?"
MONTH = "(?:" + alternation(MONTHS) + "|" + alternation(set(ALL_MONTHS) - set(MONTHS)) + r"\.?)"
MONTH_FULL = alternation(MONTHS)
DAY_NUMBER = r"(?:[12][0-9]|3[01]|0?[1-9])"
DAY_ORDINAL = DAY_NUMBER + r"(?:st|nd|rd|th)"
ORDINAL_WORD = alternation(ORDINALS)
YEAR = r"(?:19|20)[0-9]{2}"
HOUR = r"(?:[01]?[0-9]|2[0-4])"
MINUTE = r"[0-5][0-9]"
MERIDIEM = r"(?:a\.m\.?|p\.m\.?|am|pm)(?![a-z])"
HOUR_WORD = alternation(SMALL_NUMBERS)
MINUTE_WORD = alternation(MINUTE_WORDS)
PAST_TO_WORD = alternation(PAST_TO_MINUTES)
AT = r"(?:(?P<at>at|around|about|@)\s*)?"

# Words after which a bare number ("after 2") is read as an hour.
HOUR_CUES = frozenset(
    {"at", "around", "about", "after", "before", "by", "until", "till", "from", "between", "@"}
)


@dataclass(frozen=True, slots=True)
class Scan:
    """The text one extraction reads (normalised) and the locale conventions it reads it with."""

    text: str
    day_first: bool = True


Builder = Callable[[re.Match[str], Scan], Atom | None]


DIGITS = tuple("0123456789")
MONTH_KEYS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
HOUR_KEYS = (*DIGITS, *SMALL_NUMBERS)


@dataclass(frozen=True, slots=True)
class Rule:
    """A pattern, what to make of a match, and keys: one of them is in any text it can match
    (lower case), so a rule whose keys are all absent is skipped without scanning."""

    name: str
    pattern: re.Pattern[str]
    build: Builder
    keys: tuple[str, ...]

    def may_match(self, lowered: str) -> bool:
        return any(key in lowered for key in self.keys)


def rule(name: str, pattern: str, build: Builder, *, keys: tuple[str, ...]) -> Rule:
    return Rule(name, re.compile(pattern, FLAGS), build, keys)


def previous_word(text: str, start: int) -> str:
    """The word just before `start` (lower case), looking back a few characters at most."""
    end = start
    while end > 0 and start - end < 8 and text[end - 1].isspace():
        end -= 1
    begin = end
    while begin > 0 and end - begin < 16 and (text[begin - 1].isalnum() or text[begin - 1] in "@'"):
        begin -= 1
    return text[begin:end].lower()


def next_word(text: str, end: int) -> str:
    """The word just after `end` (lower case), looking ahead a few characters at most."""
    begin = end
    while begin < len(text) and begin - end < 8 and text[begin].isspace():
        begin += 1
    stop = begin
    while stop < len(text) and stop - begin < 16 and text[stop].isalnum():
        stop += 1
    return text[begin:stop].lower()


def number(text: str | None, words: dict[str, int]) -> int | None:
    """A number written in digits or as one of `words`."""
    if not text:
        return None
    if text.isdigit():
        return int(text) if len(text) <= 4 else None
    return words.get(" ".join(text.lower().split()))


def meridiem(text: str | None) -> str | None:
    if not text:
        return None
    return "am" if text.lower().startswith("a") else "pm"


def clock(
    hour: int | None,
    minute: int | None,
    meridiem_text: str | None = None,
    *,
    minute_given: bool = False,
    exact: bool = False,
) -> ClockSpec | None:
    """A valid clock time, or None (13pm, 25:00, 0am)."""
    if hour is None or minute is None or not 0 <= minute < 60:
        return None
    said = meridiem(meridiem_text)
    if said is not None:
        if not 1 <= hour <= 12:
            return None
        return ClockSpec(hour, minute, said, minute_given=minute_given)
    if not 0 <= hour <= 24 or (hour == 24 and minute):
        return None
    exact = exact or hour == 0 or hour > 12
    return ClockSpec(hour, minute, exact_hour=exact, minute_given=minute_given)
