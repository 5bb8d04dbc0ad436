"""Shared data for the entity tests: a small hand-written clinic training set and contexts.

The examples are written with Rasa-like markup, [text](entity) or [text](entity:role), turned
into plain text + annotated spans by `example()`; the tests below check that helper itself.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from nlu.entities import ParseContext
from nlu.types import Entity, Example, TrainingData

LONDON = ZoneInfo("Europe/London")
# Monday 23 November 2026, 10:00 in London (GMT, UTC+00:00).
REFERENCE = datetime(2026, 11, 23, 10, 0, tzinfo=LONDON)
CONTEXT = ParseContext(REFERENCE, LONDON)


def context_at(*parts: int, language: str = "en") -> ParseContext:
    """A London context at the given local date and time."""
    return ParseContext(datetime(*parts, tzinfo=LONDON), LONDON, language)


# [text](entity) or [text](entity:role)
_MARKUP = re.compile(r"\[([^\]]+)\]\(([\w-]+)(?::([\w-]+))?\)")

LINES = [
    ("book_service", "I'd like to book a [check-up](service)"),
    ("book_service", "can I book a [filling](service) please"),
    ("book_service", "I need a [filling](service) with [Dr Patel](practitioner)"),
    ("book_service", "book me in for [teeth whitening](service)"),
    (
        "book_service",
        "is there a slot for [teeth whitening](service) with [Dr Jones](practitioner)",
    ),
    ("book_service", "I want a [hygiene appointment](service)"),
    ("book_service", "a [hygiene appointment](service) with [Dr Okafor](practitioner) please"),
    ("book_service", "do you do [root canal](service) treatment"),
    ("book_service", "I need a [root canal](service)"),
    ("book_service", "can [Dr Jones](practitioner) do a [check-up](service)"),
    ("book_service", "I'd like to see [Dr Okafor](practitioner)"),
    ("book_service", "can I see [Dr Patel](practitioner) for a [check-up](service)"),
    ("book_service", "a [scale and polish](service) please"),
    ("book_service", "I want a [scale and polish](service) with [Dr Jones](practitioner)"),
    ("book_service", "do you have time for a [crown](service)"),
    ("book_service", "my [crown](service) came off, can [Dr Patel](practitioner) fix it"),
    (
        "change",
        "switch me from [Dr Patel](practitioner:current) to [Dr Jones](practitioner:wanted)",
    ),
    ("change", "move me from [Dr Jones](practitioner:current) to [Dr Okafor](practitioner:wanted)"),
    ("change", "change from [Dr Okafor](practitioner:current) to [Dr Patel](practitioner:wanted)"),
    ("change", "from [Dr Jones](practitioner:current) to [Dr Patel](practitioner:wanted) please"),
    ("change", "swap [Dr Patel](practitioner:current) for [Dr Okafor](practitioner:wanted)"),
    ("change", "swap [Dr Okafor](practitioner:current) for [Dr Jones](practitioner:wanted)"),
    ("change", "not [Dr Jones](practitioner:current), [Dr Patel](practitioner:wanted) instead"),
    ("greet", "hello there"),
    ("greet", "good morning"),
    ("thanks", "thank you very much"),
    ("cancel", "please cancel my appointment"),
    ("cancel", "I can't make it on Friday"),
]


def example(intent: str, marked: str) -> Example:
    """The plain text and its entities from a line with [text](entity:role) markup."""
    text, entities, cursor = "", [], 0
    for match in _MARKUP.finditer(marked):
        text += marked[cursor : match.start()]
        start = len(text)
        text += match.group(1)
        entities.append(
            Entity(
                entity=match.group(2),
                value=match.group(1),
                start=start,
                end=len(text),
                extractor="markup",
                role=match.group(3),
            )
        )
        cursor = match.end()
    text += marked[cursor:]
    return Example(text=text, intent=intent, entities=tuple(entities))


def clinic_data() -> TrainingData:
    return TrainingData(
        examples=tuple(example(intent, line) for intent, line in LINES),
        synonyms={"check up": "check-up", "checkup": "check-up"},
        regexes={"booking_ref": (r"\bFD-\d{6}\b",), "greeting": (r"\bhello\b",)},
        lookups={"service": ("check-up", "check up", "checkup", "filling", "crown")},
    )


def with_booking_refs(data: TrainingData) -> TrainingData:
    """The clinic data plus an example that annotates booking_ref (so its regex extracts)."""
    extra = example("change", "move booking [FD-123456](booking_ref) to Friday")
    return TrainingData(
        examples=(*data.examples, extra),
        synonyms=data.synonyms,
        regexes=data.regexes,
        lookups=data.lookups,
    )


def test_markup_becomes_plain_text_and_spans() -> None:
    parsed = example("change", "from [Dr Jones](practitioner:current) to [a filling](service)")
    assert parsed.text == "from Dr Jones to a filling"
    spans = [(parsed.text[e.start : e.end], e.entity, e.role) for e in parsed.entities]
    assert spans == [("Dr Jones", "practitioner", "current"), ("a filling", "service", None)]


def test_clinic_data_annotates_services_practitioners_and_roles() -> None:
    data = clinic_data()
    names = {(e.entity, e.role) for ex in data.examples for e in ex.entities}
    assert {("service", None), ("practitioner", None)} <= names
    assert {("practitioner", "current"), ("practitioner", "wanted")} <= names
    for ex in data.examples:
        for entity in ex.entities:
            assert ex.text[entity.start : entity.end] == entity.value
