"""English words for the time grammar: weekdays, months, numbers, ordinals, parts of the day.

Regex fragments are built from these tables; every fragment is a non-capturing alternation of
literal words, longest first, so no fragment can backtrack badly.
"""

from __future__ import annotations

from collections.abc import Iterable

from nlu.entities.number_words import NUMBER_WORDS

WEEKDAYS: dict[str, int] = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
# Abbreviations. Those that are ordinary words too ("wed", "sat", "sun", "mon") only count with
# support: "on"/"this"/"next" before them or a date or time next to them.
WEEKDAY_ABBREVIATIONS: dict[str, int] = {
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "weds": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}

MONTHS: dict[str, int] = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}
MONTH_ABBREVIATIONS: dict[str, int] = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
ALL_MONTHS: dict[str, int] = {**MONTHS, **MONTH_ABBREVIATIONS}
# A month word that is also a common English word: it needs a preposition or a day number.
AMBIGUOUS_MONTHS = frozenset({"may"})
MONTH_PREPOSITIONS = frozenset(
    {"in", "of", "since", "until", "till", "before", "after", "early", "late", "mid", "during"}
)

SMALL_NUMBERS: dict[str, int] = {word: n for word, n in NUMBER_WORDS.items() if 1 <= n <= 12}
COUNT_WORDS: dict[str, int] = {
    **SMALL_NUMBERS,
    "a": 1,
    "an": 1,
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "forty five": 45,
    "ninety": 90,
}
MINUTE_WORDS: dict[str, int] = {
    "oh five": 5,
    "o five": 5,
    "five": 5,
    "ten": 10,
    "fifteen": 15,
    "twenty": 20,
    "twenty-five": 25,
    "twenty five": 25,
    "thirty": 30,
    "thirty-five": 35,
    "thirty five": 35,
    "forty": 40,
    "forty-five": 45,
    "forty five": 45,
    "fifty": 50,
    "fifty-five": 55,
    "fifty five": 55,
}
PAST_TO_MINUTES: dict[str, int] = {
    "quarter": 15,
    "a quarter": 15,
    "half": 30,
    "five": 5,
    "ten": 10,
    "twenty": 20,
    "twenty-five": 25,
    "twenty five": 25,
}

_ORDINAL_UNITS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]
_ORDINAL_UNITS += ["ninth"]
ORDINALS: dict[str, int] = {word: n for n, word in enumerate(_ORDINAL_UNITS, start=1)}
ORDINALS.update(
    {
        "tenth": 10,
        "eleventh": 11,
        "twelfth": 12,
        "thirteenth": 13,
        "fourteenth": 14,
        "fifteenth": 15,
        "sixteenth": 16,
        "seventeenth": 17,
        "eighteenth": 18,
        "nineteenth": 19,
        "twentieth": 20,
        "thirtieth": 30,
    }
)
for _n, _word in enumerate(_ORDINAL_UNITS, start=1):
    ORDINALS[f"twenty-{_word}"] = 20 + _n
    ORDINALS[f"twenty {_word}"] = 20 + _n
ORDINALS["thirty-first"] = 31
ORDINALS["thirty first"] = 31

# Parts of the day: (start hour, end hour) local; the end is exclusive, 24 = next midnight.
PARTS_OF_DAY: dict[str, tuple[int, int]] = {
    "morning": (8, 12),
    "afternoon": (12, 18),
    "lunchtime": (12, 14),
    "lunch time": (12, 14),
    "evening": (18, 24),
    "night": (18, 24),
}
PM_PARTS = frozenset({"afternoon", "evening", "night", "lunchtime", "lunch time"})

UNIT_WORDS: dict[str, str] = {
    "minute": "minute",
    "minutes": "minute",
    "min": "minute",
    "mins": "minute",
    "hour": "hour",
    "hours": "hour",
    "hr": "hour",
    "hrs": "hour",
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
    "fortnight": "fortnight",
    "fortnights": "fortnight",
    "month": "month",
    "months": "month",
}

TOMORROW_WORDS: tuple[str, ...] = ("tomorrow", "tommorow", "tomorow", "tommorrow", "tmrw")
TOMORROW_WORDS += ("tmr", "2moro", "2morrow")


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of literal words, longest first; spaces match any run of blanks."""
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    escaped = (w.replace(".", r"\.").replace(" ", r"\s+") for w in ordered)
    return "(?:" + "|".join(escaped) + ")"


def words_key(text: str) -> str:
    """A matched phrase as a table key: lower case, blanks collapsed to one space."""
    return " ".join(text.lower().split())
