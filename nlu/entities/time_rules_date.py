"""Time grammar rules for dates: ISO and numeric dates, day + month, months, weekdays, days."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

from nlu.entities.time_lexicon import (
    ALL_MONTHS,
    AMBIGUOUS_MONTHS,
    MONTH_PREPOSITIONS,
    MONTHS,
    ORDINALS,
    TOMORROW_WORDS,
    WEEKDAY_ABBREVIATIONS,
    WEEKDAYS,
    alternation,
    words_key,
)
from nlu.entities.time_patterns import (
    DAY_NUMBER,
    DAY_ORDINAL,
    DIGITS,
    MONTH,
    MONTH_FULL,
    MONTH_KEYS,
    ORDINAL_WORD,
    WEEKDAY,
    WEEKDAY_SHORT,
    YEAR,
    B,
    E,
    Rule,
    Scan,
    next_word,
    previous_word,
    rule,
)
from nlu.entities.time_spec import (
    Atom,
    CalendarKind,
    CalendarSpec,
    ClockSpec,
    ExplicitDate,
    Grain,
    InstantSpec,
    Modifier,
    MonthDay,
    RelativeDay,
    TimeSpec,
    WeekdaySpec,
)

_SHORT_DATE_CUES = frozenset({"on", "for", "by", "until", "till", "from", "before", "after", "the"})
_AMBIGUOUS_WEEKDAYS = frozenset({"mon", "wed", "weds", "sat", "sun"})
_AFTER_MAY = frozenset(
    {"at", "in", "on", "please", "and", "or", "for", "from", "until", "by", "around", "about"}
    | {"between", "after", "before", "morning", "afternoon", "evening", "is", "would", "works"}
    | {"then", "if", "thanks", "thank", "ok", "okay", "", "this", "next"}
)
_MODIFIERS = {
    "this": Modifier.THIS,
    "next": Modifier.NEXT,
    "last": Modifier.LAST,
    "coming": Modifier.NONE,
    "this coming": Modifier.NONE,
    "on": Modifier.NONE,
}


def _month(text: str) -> int | None:
    return ALL_MONTHS.get(words_key(text).rstrip("."))


def _day(text: str) -> int | None:
    key = words_key(text)
    if key[:1].isdigit():
        return int(key.rstrip("stndrh"))
    return ORDINALS.get(key)


def _valid(day: int, month: int, year: int | None) -> bool:
    try:
        date(year if year is not None else 2000, month, day)  # 2000 is a leap year
    except ValueError:
        return False
    return True


def _day_atom(match: re.Match[str], day: int, month: int | None, year: int | None) -> Atom:
    spec = TimeSpec(day=MonthDay(day, month, year))
    invalid = month is not None and not _valid(day, month, year)  # "the 31st of November"
    return Atom(match.start(), match.end(), spec, invalid=invalid)


# -- ISO and numeric dates -------------------------------------------------------------------------


def _iso(match: re.Match[str], scan: Scan) -> Atom | None:
    try:
        day = date(int(match["y"]), int(match["mo"]), int(match["d"]))
    except ValueError:
        return None
    if match["h"] is None:
        return Atom(match.start(), match.end(), TimeSpec(day=ExplicitDate(day)))
    hour, minute, second = int(match["h"]), int(match["mi"]), int(match["s"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    if match["tz"] is None:
        clock = ClockSpec(hour, minute, exact_hour=True, minute_given=True)
        return Atom(match.start(), match.end(), TimeSpec(day=ExplicitDate(day), clock=clock))
    offset = _offset(match["tz"])
    if offset is None:
        return None
    moment = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=offset)
    grain = Grain.SECOND if second else Grain.MINUTE
    return Atom(match.start(), match.end(), InstantSpec(moment=moment, grain=grain))


def _offset(text: str) -> timezone | None:
    if text.upper() == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def _numeric_date(match: re.Match[str], scan: Scan) -> Atom | None:
    first, second, year_text = int(match["a"]), int(match["b"]), match["y"]
    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    day, month = (first, second) if scan.day_first else (second, first)
    if not _valid(day, month, year) and _valid(month, day, year):
        # 12/25/2026 read day first cannot be a date; month first can
        return Atom(match.start(), match.end(), TimeSpec(day=MonthDay(month, day, year)), 0.7)
    return _day_atom(match, day, month, year)


def _short_date(match: re.Match[str], scan: Scan) -> Atom | None:
    first, second = int(match["a"]), int(match["b"])
    day, month = (first, second) if scan.day_first else (second, first)
    if (first, second) == (24, 7) or not _valid(day, month, None):
        return None
    supported = previous_word(scan.text, match.start()) in _SHORT_DATE_CUES
    spec = TimeSpec(day=MonthDay(day, month, None))
    return Atom(match.start(), match.end(), spec, confidence=0.9, needs_support=not supported)


# -- day and month in words ------------------------------------------------------------------------


def _day_month(match: re.Match[str], scan: Scan) -> Atom | None:
    day, month = _day(match["d"]), _month(match["m"])
    if day is None or month is None:
        return None
    return _day_atom(match, day, month, int(match["y"]) if match["y"] else None)


def _month_day(match: re.Match[str], scan: Scan) -> Atom | None:
    day, month = _day(match["d"]), _month(match["m"])
    if day is None or month is None:
        return None
    year = int(match["y"]) if match["y"] else None
    ambiguous = words_key(match["m"]) in AMBIGUOUS_MONTHS and match["d"].isdigit()
    following = next_word(scan.text, match.end())
    if ambiguous and year is None and following.isalpha() and following not in _AFTER_MAY:
        return None  # "may 2 people come"
    return _day_atom(match, day, month, year)


def _month_year(match: re.Match[str], scan: Scan) -> Atom | None:
    month = _month(match["m"])
    if month is None:
        return None
    spec = CalendarSpec(CalendarKind.MONTH, month=month, year=int(match["y"]))
    return Atom(match.start(), match.end(), spec)


def _month_alone(match: re.Match[str], scan: Scan) -> Atom | None:
    word = words_key(match["m"])
    month = MONTHS.get(word)
    if month is None:
        return None
    ambiguous = word in AMBIGUOUS_MONTHS or match["m"] == "march"  # "May I", "march in"
    supported = not ambiguous or previous_word(scan.text, match.start()) in MONTH_PREPOSITIONS
    spec = CalendarSpec(CalendarKind.MONTH, month=month)
    return Atom(match.start(), match.end(), spec, needs_support=not supported)


# -- weekdays and relative days --------------------------------------------------------------------


def _weekday(match: re.Match[str], scan: Scan) -> Atom | None:
    modifier_text = words_key(match["mod"]) if match["mod"] else ""
    if match["full"]:
        weekday = WEEKDAYS.get(words_key(match["full"]))
        ambiguous = False
    else:
        short = words_key(match["short"]).rstrip(".")
        weekday = WEEKDAY_ABBREVIATIONS.get(short)
        ambiguous = short in _AMBIGUOUS_WEEKDAYS
        if not modifier_text and previous_word(scan.text, match.start()) in {"the", "a", "my"}:
            return None  # "the sun", "a sat nav"
    if weekday is None:
        return None
    modifier = _MODIFIERS.get(modifier_text, Modifier.NONE)
    spec = TimeSpec(day=WeekdaySpec(weekday, modifier))
    needs_support = ambiguous and not modifier_text
    return Atom(match.start(), match.end(), spec, needs_support=needs_support)


def _relative_day(match: re.Match[str], scan: Scan) -> Atom | None:
    if match["after"]:
        offset = 2
    elif match["tomorrow"]:
        offset = 1
    elif match["today"]:
        offset = 0
    else:
        offset = -1
    return Atom(match.start(), match.end(), TimeSpec(day=RelativeDay(offset)))


def _day_of_month(match: re.Match[str], scan: Scan) -> Atom | None:
    day = _day(match["d"] or match["w"] or "")
    if day is None:
        return None
    said_on, said_the = bool(match["on"]), bool(match["the"])
    supported = (said_on and said_the) if match["w"] else (said_on or said_the)
    spec = TimeSpec(day=MonthDay(day))
    return Atom(match.start(), match.end(), spec, needs_support=not supported)


_TOMORROW = alternation(TOMORROW_WORDS)
_DAY = rf"(?P<d>{DAY_ORDINAL}|{DAY_NUMBER}|{ORDINAL_WORD})"
_YEAR = rf"(?:,?\s+(?P<y>{YEAR}))?"
_ISO_TIME = r"(?:[T ](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.[0-9]{1,6})?)?"
_ISO_TIME += r"(?P<tz>Z|[+-][0-9]{2}:?[0-9]{2})?)?"
_MOD = r"(?:(?P<mod>this\s+coming|this|next|last|coming|on)\s+)?"

DATE_RULES: tuple[Rule, ...] = (
    rule(
        "iso",
        B + r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})" + _ISO_TIME + E,
        _iso,
        keys=DIGITS,
    ),
    rule(
        "numeric_date",
        B + r"(?P<a>[0-9]{1,2})(?P<sep>[/.\-])(?P<b>[0-9]{1,2})(?P=sep)(?P<y>[0-9]{4}|[0-9]{2})"
        r"(?![\w/.\-])",
        _numeric_date,
        keys=DIGITS,
    ),
    rule(
        "short_date",
        B + r"(?P<a>[0-9]{1,2})/(?P<b>[0-9]{1,2})(?![\w/])",
        _short_date,
        keys=DIGITS,
    ),
    rule(
        "day_month",
        B + rf"(?:on\s+)?(?:the\s+)?{_DAY}(?:\s+of)?\s+(?P<m>{MONTH}){_YEAR}" + E,
        _day_month,
        keys=MONTH_KEYS,
    ),
    rule(
        "month_day",
        B + rf"(?:on\s+)?(?P<m>{MONTH})\s+(?:the\s+)?{_DAY}{_YEAR}" + E,
        _month_day,
        keys=MONTH_KEYS,
    ),
    rule(
        "month_year",
        B + rf"(?P<m>{MONTH})\s+(?P<y>{YEAR})" + E,
        _month_year,
        keys=MONTH_KEYS,
    ),
    rule("month", B + rf"(?P<m>{MONTH_FULL})" + E, _month_alone, keys=MONTH_KEYS),
    rule(
        "weekday",
        B + _MOD + rf"(?:(?P<full>{WEEKDAY})|(?P<short>{WEEKDAY_SHORT}))" + E,
        _weekday,
        keys=("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
    ),
    rule(
        "relative_day",
        B + rf"(?:(?P<after>(?:the\s+)?day\s+after\s+{_TOMORROW})|(?P<tomorrow>{_TOMORROW})"
        r"|(?P<today>today|tdy)|(?P<yesterday>yesterday))" + E,
        _relative_day,
        keys=("tom", "tmr", "2mo", "tod", "tdy", "yes"),
    ),
    rule(
        "day_of_month",
        B
        + rf"(?:(?P<on>on)\s+)?(?P<the>the\s+)?(?:(?P<d>{DAY_ORDINAL})|(?P<w>{ORDINAL_WORD}))"
        + E,
        _day_of_month,
        keys=("st", "nd", "rd", "th"),
    ),
)
