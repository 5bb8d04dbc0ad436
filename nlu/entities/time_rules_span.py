"""Time grammar rules for spans of days and shifts: weeks, weekends, months, "in two weeks"."""

from __future__ import annotations

import re

from nlu.entities.time_lexicon import COUNT_WORDS, UNIT_WORDS, alternation, words_key
from nlu.entities.time_patterns import B, E, Rule, Scan, number, rule
from nlu.entities.time_spec import (
    Atom,
    Bound,
    CalendarKind,
    CalendarSpec,
    InstantSpec,
    ShiftedDate,
    TimeSpec,
)

_OFFSETS = {
    "this": 0,
    "the": 0,
    "at the": 0,
    "on the": 0,
    "over the": 0,
    "this coming": 0,
    "next": 1,
    "the following": 1,
    "following": 1,
    "last": -1,
}
_MINUTES = {"minute": 1, "hour": 60}


def _week(match: re.Match[str], scan: Scan) -> Atom | None:
    modifier = words_key(match["mod"])
    if match["after_next"]:
        if modifier != "the":
            return None
        offset = 2
    elif modifier == "the":
        return None  # "the week" alone
    else:
        offset = _OFFSETS.get(modifier, 0)
    return Atom(match.start(), match.end(), CalendarSpec(CalendarKind.WEEK, offset))


def _weekend(match: re.Match[str], scan: Scan) -> Atom | None:
    modifier = words_key(match["mod"] or "")
    spec = CalendarSpec(CalendarKind.WEEKEND, _OFFSETS.get(modifier, 0))
    return Atom(match.start(), match.end(), spec, needs_support=not modifier)


def _month(match: re.Match[str], scan: Scan) -> Atom | None:
    offset = _OFFSETS.get(words_key(match["mod"]), 0)
    return Atom(match.start(), match.end(), CalendarSpec(CalendarKind.MONTH, offset))


def _edge(match: re.Match[str], scan: Scan) -> Atom | None:
    edge, unit = words_key(match["edge"]), words_key(match["unit"])
    if unit == "month":
        kind = CalendarKind.MONTH_END if edge == "end" else CalendarKind.MONTH_START
    else:
        kind = CalendarKind.WEEK_END if edge == "end" else CalendarKind.WEEK_START
    spec = CalendarSpec(kind, 1 if match["next"] else 0)
    return Atom(match.start(), match.end(), spec)


def _shift(match: re.Match[str], scan: Scan) -> Atom | None:
    if match["half"]:
        amount: int | None = 30
        unit = "minute"
    else:
        amount = number(match["n"] or match["n2"], COUNT_WORDS)
        unit = UNIT_WORDS.get(words_key(match["u"] or match["u2"] or ""), "")
    if amount is None or not unit or amount > 999:
        return None
    bound = Bound.UNTIL if words_key(match["lead"] or "") == "within" else None
    if unit in _MINUTES:
        spec: TimeSpec | InstantSpec = InstantSpec(minutes=amount * _MINUTES[unit], bound=bound)
    else:
        spec = TimeSpec(day=ShiftedDate(amount, unit), bound=bound)
    return Atom(match.start(), match.end(), spec)


_COUNT = rf"(?P<n>{alternation(COUNT_WORDS)}|[0-9]{{1,3}})"
_UNIT = rf"(?P<u>{alternation(UNIT_WORDS)})"
_COUNT_2 = _COUNT.replace("<n>", "<n2>")
_UNIT_2 = _UNIT.replace("<u>", "<u2>")

SPAN_RULES: tuple[Rule, ...] = (
    rule(
        "week",
        B + r"(?P<mod>this|next|last|the\s+following|following|the)\s+week"
        r"(?P<after_next>\s+after\s+next)?" + E,
        _week,
        keys=("week",),
    ),
    rule(
        "weekend",
        B + r"(?:(?P<mod>this\s+coming|this|next|the|at\s+the|on\s+the|over\s+the)\s+)?"
        r"week-?end" + E,
        _weekend,
        keys=("week",),
    ),
    rule(
        "month_offset",
        B + r"(?P<mod>this|next|last|the\s+following)\s+month" + E,
        _month,
        keys=("month",),
    ),
    rule(
        "edge",
        B + r"(?:the\s+)?(?P<edge>end|start|beginning)\s+of\s+(?:the\s+|this\s+)?"
        r"(?P<next>next\s+)?(?P<unit>month|week)" + E,
        _edge,
        keys=("month", "week"),
    ),
    rule(
        "shift",
        B + rf"(?:(?P<lead>in|within)\s+(?:(?P<half>half\s+an\s+hour)|{_COUNT}\s+{_UNIT})"
        rf"|{_COUNT_2}\s+{_UNIT_2}\s+from\s+(?:now|today))" + E,
        _shift,
        keys=("min", "hour", "hr", "day", "week", "fortnight", "month"),
    ),
)
