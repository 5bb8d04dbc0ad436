"""Time grammar rules for times of day: clock times, ranges, parts of the day, bound words."""

from __future__ import annotations

import re

from nlu.entities.time_lexicon import (
    MINUTE_WORDS,
    PARTS_OF_DAY,
    PAST_TO_MINUTES,
    SMALL_NUMBERS,
    alternation,
    words_key,
)
from nlu.entities.time_patterns import (
    AT,
    DIGITS,
    HOUR,
    HOUR_CUES,
    HOUR_KEYS,
    HOUR_WORD,
    MERIDIEM,
    MINUTE,
    MINUTE_WORD,
    PAST_TO_WORD,
    B,
    E,
    Rule,
    Scan,
    clock,
    next_word,
    number,
    previous_word,
    rule,
)
from nlu.entities.time_spec import Atom, Bound, ClockSpec, RelativeDay, TimeSpec

_BOUNDS = {
    "after": Bound.AFTER,
    "since": Bound.FROM,
    "from": Bound.FROM,
    "not before": Bound.FROM,
    "no earlier than": Bound.FROM,
    "before": Bound.BEFORE,
    "until": Bound.UNTIL,
    "till": Bound.UNTIL,
    "til": Bound.UNTIL,
    "by": Bound.UNTIL,
    "no later than": Bound.UNTIL,
    "not after": Bound.UNTIL,
}
_SURE_MINUTES = frozenset({"thirty", "fifteen", "forty-five", "forty five"})
_PART_AFTER = re.compile(
    r"\s{1,3}(?:in\s+the\s+(?:morning|afternoon|evening)|tonight|tomorrow|today)(?!\w)",
    re.IGNORECASE,
)
# A bare number followed by one of these counts something: "about 5 people", "at 2 of them".
_COUNTED = frozenset(
    {"people", "persons", "person", "of", "patients", "kids", "children", "adults", "guests"}
    | {"minutes", "mins", "hours", "hrs", "days", "weeks", "months", "years", "times", "pounds"}
    | {"quid", "percent", "euros", "dollars", "more", "less", "others", "appointments"}
)


def _hour(text: str | None) -> int | None:
    return number(text, SMALL_NUMBERS)


def _cued(match: re.Match[str], scan: Scan) -> bool:
    """The time is introduced by "at" (in the match) or by a word such as "after" before it."""
    before = previous_word(scan.text, match.start())
    if before == "than":  # "no later than 4", "no earlier than 9"
        than = scan.text.rfind("than", 0, match.start())
        return previous_word(scan.text, than) in {"later", "earlier"}
    return bool(match["at"]) or before in HOUR_CUES


def _atom(match: re.Match[str], spec: ClockSpec | None, confidence: float = 1.0) -> Atom | None:
    if spec is None:
        return None
    if spec.meridiem is None and not spec.exact_hour and spec.hour != 12:
        confidence = min(confidence, 0.9)  # am or pm is a guess
    return Atom(match.start(), match.end(), TimeSpec(clock=spec), confidence=confidence)


def _with_meridiem(match: re.Match[str], scan: Scan) -> Atom | None:
    minute = int(match["mi"]) if match["mi"] else 0
    return _atom(
        match, clock(_hour(match["h"]), minute, match["ap"], minute_given=bool(match["mi"]))
    )


def _colon(match: re.Match[str], scan: Scan) -> Atom | None:
    if match["sep"] == "." and not match["at"]:
        return None  # "3.30" alone is a number
    hour_text = match["h"]
    exact = len(hour_text) == 2 and hour_text.startswith("0")
    spec = clock(int(hour_text), int(match["mi"]), minute_given=True, exact=exact)
    return _atom(match, spec)


def _bare_hour(match: re.Match[str], scan: Scan) -> Atom | None:
    followed = _PART_AFTER.match(scan.text, match.end()) is not None  # "8 in the evening"
    if not match["oclock"] and not followed and not _cued(match, scan):
        return None  # "2 people", "I'm 45"
    if not match["oclock"] and next_word(scan.text, match.end()) in _COUNTED:
        return None
    hour = _hour(match["h"])
    if hour is None or (match["oclock"] and not 1 <= hour <= 12):
        return None
    return _atom(match, clock(hour, 0))


def _hour_minute_words(match: re.Match[str], scan: Scan) -> Atom | None:
    minute_word = words_key(match["mw"])
    if not (_cued(match, scan) or match["ap"] or minute_word in _SURE_MINUTES):
        return None
    hour = _hour(match["h"])
    if hour is None or not 1 <= hour <= 12:
        return None
    minute = MINUTE_WORDS.get(minute_word)
    return _atom(match, clock(hour, minute, match["ap"], minute_given=True))


def _past_to(match: re.Match[str], scan: Scan) -> Atom | None:
    hour = _hour(match["h"])
    if match["mn"]:
        minutes: int | None = int(match["mn"])
    else:
        minutes = PAST_TO_MINUTES.get(words_key(match["mw"]))
    if hour is None or minutes is None or not 1 <= hour <= 12 or not 0 < minutes < 60:
        return None
    if words_key(match["dir"]) != "past":
        hour, minutes = (hour - 1 if hour > 1 else 12), 60 - minutes
    return _atom(match, clock(hour, minutes, match["ap"], minute_given=True))


def _half_hour(match: re.Match[str], scan: Scan) -> Atom | None:
    hour = _hour(match["h"])
    if hour is None or not 1 <= hour <= 12:
        return None
    return _atom(match, clock(hour, 30, minute_given=True))


def _noon(match: re.Match[str], scan: Scan) -> Atom | None:
    hour = 24 if words_key(match["w"]) == "midnight" else 12
    return _atom(match, ClockSpec(hour, 0, exact_hour=True))


def _range(match: re.Match[str], scan: Scan) -> Atom | None:
    lead = words_key(match["pre"] or "")
    if words_key(match["sep"]) == "and" and lead != "between":
        return None
    if not lead and not (match["a1"] or match["a2"] or match["m1"] or match["m2"] or match["n2"]):
        return None  # "2-4" alone may be a score or a count
    start = clock(
        _hour(match["h1"]), int(match["m1"] or 0), match["a1"], minute_given=bool(match["m1"])
    )
    if match["n2"]:
        end: ClockSpec | None = ClockSpec(12, 0, exact_hour=True)
    else:
        end = clock(
            _hour(match["h2"]), int(match["m2"] or 0), match["a2"], minute_given=bool(match["m2"])
        )
    if start is None or end is None:
        return None
    return Atom(match.start(), match.end(), TimeSpec(clock=start, clock_end=end))


def _part_of_day(match: re.Match[str], scan: Scan) -> Atom | None:
    if match["tonight"]:
        return Atom(match.start(), match.end(), TimeSpec(day=RelativeDay(0), part="night"))
    part = words_key(match["p"])
    if part not in PARTS_OF_DAY:
        return None
    qualifier = words_key(match["q"] or "")
    day = {"this": RelativeDay(0), "last": RelativeDay(-1)}.get(qualifier)
    spec = TimeSpec(day=day, part=part)
    return Atom(match.start(), match.end(), spec, needs_support=not qualifier)


def _marker(match: re.Match[str], scan: Scan) -> Atom | None:
    bound = _BOUNDS.get(words_key(match["b"]))
    if bound is None:
        return None
    return Atom(match.start(), match.end(), TimeSpec(bound=bound), needs_support=True)


_HOUR_ANY = rf"(?:{HOUR}|{HOUR_WORD})"
_SIDE1 = rf"(?P<h1>{HOUR})(?:[:.](?P<m1>{MINUTE}))?\s*(?P<a1>{MERIDIEM})?"
_SIDE2 = rf"(?:(?P<h2>{HOUR})(?:[:.](?P<m2>{MINUTE}))?\s*(?P<a2>{MERIDIEM})?|(?P<n2>noon|midday))"
_PARTS = alternation(PARTS_OF_DAY)
_QUALIFIER = r"(?:(?P<q>this|last|in\s+the|during\s+the|early\s+in\s+the|late\s+in\s+the)\s+)?"

CLOCK_RULES: tuple[Rule, ...] = (
    rule(
        "clock_meridiem",
        B + AT + rf"(?P<h>{_HOUR_ANY})(?:[:.](?P<mi>{MINUTE}))?\s*(?P<ap>{MERIDIEM})",
        _with_meridiem,
        keys=("am", "pm", "a.m", "p.m"),
    ),
    rule(
        "clock_colon",
        B + AT + rf"(?P<h>{HOUR})(?P<sep>[:h.])(?P<mi>{MINUTE})" + E,
        _colon,
        keys=DIGITS,
    ),
    rule(
        "clock_bare",
        B + AT + rf"(?P<h>{_HOUR_ANY})(?:\s*(?P<oclock>o'?\s?clock))?" + E,
        _bare_hour,
        keys=HOUR_KEYS,
    ),
    rule(
        "clock_words",
        B + AT + rf"(?P<h>{_HOUR_ANY})\s+(?P<mw>{MINUTE_WORD})(?:\s*(?P<ap>{MERIDIEM}))?" + E,
        _hour_minute_words,
        keys=HOUR_KEYS,
    ),
    rule(
        "past_to",
        B
        + AT
        + rf"(?:(?P<mn>[0-9]{{1,2}})\s+minutes?|(?P<mw>{PAST_TO_WORD})(?:\s+minutes?)?)"
        + rf"\s+(?P<dir>past|to|till)\s+(?P<h>{_HOUR_ANY})(?:\s*(?P<ap>{MERIDIEM}))?"
        + E,
        _past_to,
        keys=("past", "to", "till"),
    ),
    rule(
        "half_hour",
        B + AT + rf"half\s+(?P<h>{_HOUR_ANY})" + E + r"(?!\s*(?:past|to)\b)",
        _half_hour,
        keys=("half",),
    ),
    rule(
        "noon",
        B + AT + r"(?:12\s*)?(?P<w>noon|midday|mid-day|midnight)" + E,
        _noon,
        keys=("noon", "midday", "mid-day", "midnight"),
    ),
    rule(
        "clock_range",
        B + rf"(?:(?P<pre>between|from)\s+)?{_SIDE1}\s*(?P<sep>-|to|and|till|until)\s*{_SIDE2}" + E,
        _range,
        keys=DIGITS,
    ),
    rule(
        "part_of_day",
        B + rf"(?:(?P<tonight>tonight|tonite|2nite)|{_QUALIFIER}(?P<p>{_PARTS}))" + E,
        _part_of_day,
        keys=("morning", "afternoon", "evening", "night", "tonite", "2nite", "lunch"),
    ),
    rule(
        "bound",
        B + r"(?P<b>after|since|from|not\s+before|no\s+earlier\s+than|before|until|till|til"
        r"|by|no\s+later\s+than|not\s+after)" + E,
        _marker,
        keys=("after", "since", "from", "before", "til", "by", "later", "earlier"),
    ),
)
