"""TimeExtractor: phrase by phrase against values worked out by hand (calendar facts checked).

Reference: Monday 23 November 2026, 10:00, Europe/London (GMT, +00:00). 1 December 2026 is a
Tuesday, 27 November a Friday, 5 December a Saturday; May 2027 is in BST (+01:00). In 2027
British Summer Time starts Sunday 28 March at 01:00 UTC and ends Sunday 31 October at 01:00 UTC.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from nlu.entities import NaiveDateTimeError, ParseContext, TimeExtractor
from nlu.types import Entity

from .test_entities_data import CONTEXT, REFERENCE, context_at


def at(moment: str) -> str:
    """ "2026-11-24T15:00+00:00" -> the value's full form "2026-11-24T15:00:00.000+00:00"."""
    stamp, sign, offset = moment[:16], moment[16], moment[17:]
    return f"{stamp}:00.000{sign}{offset}"


def span(start: str | None, end: str | None) -> dict[str, str]:
    interval = {}
    if start is not None:
        interval["from"] = at(start)
    if end is not None:
        interval["to"] = at(end)
    return interval


GMT_DAY = "T00:00+00:00"

# (message, the text of the time entity, its value, its grain)
POSITIVE: list[tuple[str, str, Any, str]] = [
    # from the issue and the brief
    (
        "can I come in next Tuesday after 2?",
        "next Tuesday after 2",
        span("2026-12-01T14:00+00:00", None),
        "hour",
    ),
    (
        "move it to Friday morning",
        "Friday morning",
        span("2026-11-27T08:00+00:00", "2026-11-27T12:00+00:00"),
        "hour",
    ),
    ("tomorrow at 3pm please", "tomorrow at 3pm", at("2026-11-24T15:00+00:00"), "hour"),
    (
        "the 5th of December at noon",
        "the 5th of December at noon",
        at("2026-12-05T12:00+00:00"),
        "hour",
    ),
    ("in two weeks", "in two weeks", at("2026-12-07" + GMT_DAY), "day"),
    (
        "any time this week",
        "this week",
        span("2026-11-23" + GMT_DAY, "2026-11-30" + GMT_DAY),
        "week",
    ),
    ("at half past four", "at half past four", at("2026-11-23T16:30+00:00"), "minute"),
    ("tonight", "tonight", span("2026-11-23T18:00+00:00", "2026-11-24T00:00+00:00"), "hour"),
    (
        "this afternoon",
        "this afternoon",
        span("2026-11-23T12:00+00:00", "2026-11-23T18:00+00:00"),
        "hour",
    ),
    ("on the 12th", "on the 12th", at("2026-12-12" + GMT_DAY), "day"),
    ("12/03/2026", "12/03/2026", at("2026-03-12" + GMT_DAY), "day"),
    ("3 pm", "3 pm", at("2026-11-23T15:00+00:00"), "hour"),
    ("15:30", "15:30", at("2026-11-23T15:30+00:00"), "minute"),
    ("noon", "noon", at("2026-11-23T12:00+00:00"), "hour"),
    (
        "end of the month",
        "end of the month",
        span("2026-11-21" + GMT_DAY, "2026-12-01" + GMT_DAY),
        "day",
    ),
    (
        "Wednesday morning",
        "Wednesday morning",
        span("2026-11-25T08:00+00:00", "2026-11-25T12:00+00:00"),
        "hour",
    ),
    ("next week", "next week", span("2026-11-30" + GMT_DAY, "2026-12-07" + GMT_DAY), "week"),
    ("after 2pm", "after 2pm", span("2026-11-23T14:00+00:00", None), "hour"),
    ("March", "March", at("2027-03-01" + GMT_DAY), "month"),
    # noon, midnight, 12am / 12pm
    ("12am", "12am", at("2026-11-24T00:00+00:00"), "hour"),
    ("12pm", "12pm", at("2026-11-23T12:00+00:00"), "hour"),
    ("12:00am", "12:00am", at("2026-11-24T00:00+00:00"), "minute"),
    ("midnight", "midnight", at("2026-11-24T00:00+00:00"), "hour"),
    ("12 midnight", "12 midnight", at("2026-11-24T00:00+00:00"), "hour"),
    # weekdays: the coming one, never today; "next" = next week's
    ("Friday", "Friday", at("2026-11-27" + GMT_DAY), "day"),
    ("next Friday", "next Friday", at("2026-12-04" + GMT_DAY), "day"),
    ("this Monday", "this Monday", at("2026-11-23" + GMT_DAY), "day"),
    ("Monday", "Monday", at("2026-11-30" + GMT_DAY), "day"),
    ("last Friday", "last Friday", at("2026-11-20" + GMT_DAY), "day"),
    ("Friday next week", "Friday next week", at("2026-12-04" + GMT_DAY), "day"),
    ("see you Saturday.", "Saturday", at("2026-11-28" + GMT_DAY), "day"),
    ("on sat", "on sat", at("2026-11-28" + GMT_DAY), "day"),
    ("Friday 4:30pm", "Friday 4:30pm", at("2026-11-27T16:30+00:00"), "minute"),
    ("Sunday at 3pm", "Sunday at 3pm", at("2026-11-29T15:00+00:00"), "hour"),
    (
        "sat morning",
        "sat morning",
        span("2026-11-28T08:00+00:00", "2026-11-28T12:00+00:00"),
        "hour",
    ),
    # clock times: the next one; am/pm by clinic hours when not said
    ("at 9", "at 9", at("2026-11-24T09:00+00:00"), "hour"),
    ("9am", "9am", at("2026-11-24T09:00+00:00"), "hour"),
    ("tomorrow morning at 9", "tomorrow morning at 9", at("2026-11-24T09:00+00:00"), "hour"),
    ("tonight at 8", "tonight at 8", at("2026-11-23T20:00+00:00"), "hour"),
    ("8 in the evening", "8 in the evening", at("2026-11-23T20:00+00:00"), "hour"),
    ("quarter to nine", "quarter to nine", at("2026-11-24T08:45+00:00"), "minute"),
    ("half four", "half four", at("2026-11-23T16:30+00:00"), "minute"),
    ("four thirty", "four thirty", at("2026-11-23T16:30+00:00"), "minute"),
    ("at 3.30", "at 3.30", at("2026-11-23T15:30+00:00"), "minute"),
    ("3pm tomorrow", "3pm tomorrow", at("2026-11-24T15:00+00:00"), "hour"),
    ("for 2 people at 3pm", "at 3pm", at("2026-11-23T15:00+00:00"), "hour"),
    # intervals and bounds
    (
        "between 2 and 4",
        "between 2 and 4",
        span("2026-11-23T14:00+00:00", "2026-11-23T16:00+00:00"),
        "hour",
    ),
    ("2-4pm", "2-4pm", span("2026-11-23T14:00+00:00", "2026-11-23T16:00+00:00"), "hour"),
    (
        "from 9 to 11am",
        "from 9 to 11am",
        span("2026-11-24T09:00+00:00", "2026-11-24T11:00+00:00"),
        "hour",
    ),
    ("before noon", "before noon", span(None, "2026-11-23T12:00+00:00"), "hour"),
    ("by Friday", "by Friday", span(None, "2026-11-28" + GMT_DAY), "day"),
    ("after Friday", "after Friday", span("2026-11-28" + GMT_DAY, None), "day"),
    ("no later than 4", "no later than 4", span(None, "2026-11-23T16:00+00:00"), "hour"),
    (
        "from Monday to Wednesday",
        "from Monday to Wednesday",
        span("2026-11-30" + GMT_DAY, "2026-12-03" + GMT_DAY),
        "day",
    ),
    (
        "between the 3rd and the 5th",
        "between the 3rd and the 5th",
        span("2026-12-03" + GMT_DAY, "2026-12-06" + GMT_DAY),
        "day",
    ),
    (
        "from Friday to Monday",
        "from Friday to Monday",
        span("2026-11-27" + GMT_DAY, "2026-12-01" + GMT_DAY),
        "day",
    ),
    (
        "by the end of the month",
        "by the end of the month",
        span(None, "2026-12-01" + GMT_DAY),
        "day",
    ),
    (
        "this weekend",
        "this weekend",
        span("2026-11-28" + GMT_DAY, "2026-11-30" + GMT_DAY),
        "day",
    ),
    (
        "the week after next",
        "the week after next",
        span("2026-12-07" + GMT_DAY, "2026-12-14" + GMT_DAY),
        "week",
    ),
    # relative
    ("in 2 hours", "in 2 hours", at("2026-11-23T12:00+00:00"), "minute"),
    ("in half an hour", "in half an hour", at("2026-11-23T10:30+00:00"), "minute"),
    ("in a month", "in a month", at("2026-12-23" + GMT_DAY), "day"),
    ("in 3 days at 3pm", "in 3 days at 3pm", at("2026-11-26T15:00+00:00"), "hour"),
    ("the day after tomorrow", "the day after tomorrow", at("2026-11-25" + GMT_DAY), "day"),
    ("next month", "next month", at("2026-12-01" + GMT_DAY), "month"),
    # dates
    ("in May", "May", at("2027-05-01T00:00+01:00"), "month"),
    ("5 May", "5 May", at("2027-05-05T00:00+01:00"), "day"),
    ("Friday the 4th", "Friday the 4th", at("2026-12-04" + GMT_DAY), "day"),
    ("Fri 4 Dec at 10:30am", "Fri 4 Dec at 10:30am", at("2026-12-04T10:30+00:00"), "minute"),
    ("the 29th of February", "the 29th of February", at("2028-02-29" + GMT_DAY), "day"),
    ("29/02/2028", "29/02/2028", at("2028-02-29" + GMT_DAY), "day"),
    ("on 03/12", "03/12", at("2026-12-03" + GMT_DAY), "day"),
    ("the 31st of December", "the 31st of December", at("2026-12-31" + GMT_DAY), "day"),
    ("Monday 28th December 2026", "Monday 28th December 2026", at("2026-12-28" + GMT_DAY), "day"),
    ("2026-12-05", "2026-12-05", at("2026-12-05" + GMT_DAY), "day"),
    ("2026-12-05T15:30", "2026-12-05T15:30", at("2026-12-05T15:30+00:00"), "minute"),
    ("2026-12-05T15:30+05:30", "2026-12-05T15:30+05:30", at("2026-12-05T10:00+00:00"), "minute"),
    ("12/25/2026", "12/25/2026", at("2026-12-25" + GMT_DAY), "day"),  # only month-first fits
    ("Friday 5th December", "Friday 5th December", at("2026-12-05" + GMT_DAY), "day"),
]

NEGATIVE = [
    "",
    "May I come",
    "may 2 people come",
    "the sun",
    "sun cream",
    "a sat nav",
    "mon ami",
    "2 people",
    "for 2 people",
    "I'm 45",
    "I need 15 minutes",
    "good morning",
    "the first appointment",
    "my 2nd visit",
    "open 24/7?",
    "Can I march in",
    "I'll be there in a sec",
    "by the way, from Anna",
    "3.30",
    "order 123/456",
    "the 31st of November at 3pm",
    "29/02/2027",
    "31/02/2026",
    "one two three",
    "more than 4",
]


def extract(text: str, context: ParseContext = CONTEXT) -> list[Entity]:
    return TimeExtractor().extract(text, context)


def only(text: str, context: ParseContext = CONTEXT) -> Entity:
    entities = extract(text, context)
    assert len(entities) == 1, [(text[e.start : e.end], e.value) for e in entities]
    return entities[0]


@pytest.mark.parametrize(("text", "surface", "value", "grain"), POSITIVE, ids=lambda x: str(x))
def test_phrase_resolves_to_hand_computed_value(
    text: str, surface: str, value: Any, grain: str
) -> None:
    entity = only(text)
    assert (text[entity.start : entity.end], entity.value) == (surface, value)
    assert entity.entity == "time"
    assert entity.extractor == "TimeExtractor"
    assert entity.additional_info is not None
    assert entity.additional_info["grain"] == grain
    assert entity.additional_info["type"] == ("interval" if isinstance(value, dict) else "value")


@pytest.mark.parametrize("text", NEGATIVE)
def test_phrase_has_no_time(text: str) -> None:
    assert extract(text) == []


def test_the_table_is_large_enough() -> None:
    assert len(POSITIVE) + len(NEGATIVE) >= 60


# -- DST, month ends, leap days, year ends (other reference times) --------------------------------

SPRING = (2027, 3, 26, 10, 0)  # Friday, GMT; BST starts on Sunday at 01:00 UTC
AUTUMN = (2027, 10, 29, 10, 0)  # Friday, BST; GMT returns on Sunday at 01:00 UTC
ELSEWHERE: list[tuple[tuple[int, ...], str, Any]] = [
    (SPRING, "Sunday at 3pm", at("2027-03-28T15:00+01:00")),
    (SPRING, "Sunday", at("2027-03-28T00:00+00:00")),
    (SPRING, "Sunday at 1:30am", at("2027-03-28T02:30+01:00")),  # 01:30 does not exist
    (SPRING, "this weekend", span("2027-03-27T00:00+00:00", "2027-03-29T00:00+01:00")),
    (SPRING, "next week", span("2027-03-29T00:00+01:00", "2027-04-05T00:00+01:00")),
    ((2027, 3, 28, 0, 30), "in 2 hours", at("2027-03-28T03:30+01:00")),  # 2 h elapsed, not wall
    (AUTUMN, "Sunday at 1:30am", at("2027-10-31T01:30+01:00")),  # twice: the first
    (AUTUMN, "Sunday at 3pm", at("2027-10-31T15:00+00:00")),
    (AUTUMN, "Monday", at("2027-11-01T00:00+00:00")),
    (AUTUMN, "this weekend", span("2027-10-30T00:00+01:00", "2027-11-01T00:00+00:00")),
    # "next Friday" said on a Friday is next week's; "Friday" too; "this Friday" is today
    ((2026, 11, 27, 10, 0), "next Friday", at("2026-12-04" + GMT_DAY)),
    ((2026, 11, 27, 10, 0), "Friday", at("2026-12-04" + GMT_DAY)),
    ((2026, 11, 27, 10, 0), "this Friday", at("2026-11-27" + GMT_DAY)),
    # month ends
    ((2027, 1, 31, 10, 0), "in a month", at("2027-02-28" + GMT_DAY)),
    ((2027, 1, 31, 10, 0), "on the 31st", at("2027-01-31" + GMT_DAY)),
    ((2027, 1, 31, 10, 0), "on the 30th", at("2027-03-30T00:00+01:00")),
    (
        (2027, 1, 31, 10, 0),
        "end of the month",
        span("2027-01-21" + GMT_DAY, "2027-02-01" + GMT_DAY),
    ),
    # leap day
    ((2028, 2, 28, 10, 0), "tomorrow", at("2028-02-29" + GMT_DAY)),
    ((2028, 2, 28, 10, 0), "on the 29th", at("2028-02-29" + GMT_DAY)),
    ((2028, 2, 28, 10, 0), "in a week", at("2028-03-06" + GMT_DAY)),
    # the year's end
    ((2026, 12, 30, 10, 0), "Monday", at("2027-01-04" + GMT_DAY)),
    ((2026, 12, 30, 10, 0), "next week", span("2027-01-04" + GMT_DAY, "2027-01-11" + GMT_DAY)),
    ((2026, 12, 30, 10, 0), "on the 5th", at("2027-01-05" + GMT_DAY)),
    ((2026, 12, 30, 10, 0), "next month", at("2027-01-01" + GMT_DAY)),
]


@pytest.mark.parametrize(("when", "text", "value"), ELSEWHERE, ids=lambda x: str(x))
def test_phrase_at_other_reference_times(when: tuple[int, ...], text: str, value: Any) -> None:
    assert only(text, context_at(*when)).value == value


def test_month_first_locale_reads_numeric_dates_month_first() -> None:
    us = ParseContext(REFERENCE, CONTEXT.timezone, "en-US")
    assert only("12/03/2026", us).value == at("2026-12-03" + GMT_DAY)
    assert only("12/03/2026").value == at("2026-03-12" + GMT_DAY)
    assert TimeExtractor(day_first=False).extract("12/03/2026", CONTEXT)[0].value == at(
        "2026-12-03" + GMT_DAY
    )


def test_values_carry_the_offset_of_their_timezone() -> None:
    new_york = ZoneInfo("America/New_York")
    context = ParseContext(REFERENCE, new_york)  # 05:00 in New York
    assert only("tomorrow at 3pm", context).value == at("2026-11-24T15:00-05:00")
    assert only("at 9", context).value == at("2026-11-23T09:00-05:00")


def test_additional_info_describes_both_ends_of_an_interval() -> None:
    entity = only("Wednesday morning")
    assert entity.additional_info == {
        "type": "interval",
        "grain": "hour",
        "from": {"value": at("2026-11-25T08:00+00:00"), "grain": "hour"},
        "to": {"value": at("2026-11-25T12:00+00:00"), "grain": "hour"},
    }


def test_a_guessed_am_or_pm_lowers_confidence() -> None:
    assert only("at 3").confidence_entity == pytest.approx(0.9)
    assert only("at 3pm").confidence_entity == pytest.approx(1.0)


def test_several_expressions_in_one_message_keep_their_offsets() -> None:
    text = "Monday or Tuesday after 2, not tomorrow"
    found = [(text[e.start : e.end], e.start, e.end) for e in extract(text)]
    assert found == [("Monday", 0, 6), ("Tuesday after 2", 10, 25), ("tomorrow", 31, 39)]


def test_persian_has_no_time_grammar_yet() -> None:
    persian = ParseContext(REFERENCE, CONTEXT.timezone, "fa")
    assert extract("فردا ساعت ۳ tomorrow at 3pm", persian) == []


def test_a_naive_reference_time_is_refused() -> None:
    with pytest.raises(NaiveDateTimeError):
        ParseContext(REFERENCE.replace(tzinfo=None), CONTEXT.timezone)
