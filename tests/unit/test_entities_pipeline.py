"""EntityPipeline: data extractors, synonyms, overlaps, JSON state, and input that must not hurt."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlu.entities import (
    EntityPipeline,
    EntityStateError,
    EntityTrainingError,
    ParseContext,
    resolve_overlaps,
)
from nlu.types import Entity, Example, TrainingData

from .test_entities_data import CONTEXT, REFERENCE, clinic_data, example, with_booking_refs


@pytest.fixture(scope="module")
def pipeline() -> EntityPipeline:
    return EntityPipeline.train(with_booking_refs(clinic_data()), seed=0)


def described(pipeline: EntityPipeline, text: str) -> list[tuple[str, str, Any, str]]:
    return [
        (text[e.start : e.end], e.entity, e.value, e.extractor)
        for e in pipeline.extract(text, CONTEXT)
    ]


def test_every_extractor_contributes(pipeline: EntityPipeline) -> None:
    text = "a filling with Dr Patel tomorrow at 3pm for 2 people, anna@example.com, 07700 900123"
    assert described(pipeline, text) == [
        ("filling", "service", "filling", "LookupEntityExtractor"),
        ("Dr Patel", "practitioner", "Dr Patel", "CRFEntityExtractor"),
        ("tomorrow at 3pm", "time", "2026-11-24T15:00:00.000+00:00", "TimeExtractor"),
        ("2", "number", 2, "NumberExtractor"),
        ("anna@example.com", "email", "anna@example.com", "EmailExtractor"),
        ("07700 900123", "phone-number", "+447700900123", "PhoneExtractor"),
    ]


def test_a_regex_extracts_only_when_its_name_is_an_annotated_entity(
    pipeline: EntityPipeline,
) -> None:
    text = "hello, about booking FD-123456"
    assert described(pipeline, text) == [
        ("FD-123456", "booking_ref", "FD-123456", "RegexEntityExtractor"),
    ]
    without = EntityPipeline.train(clinic_data(), seed=0)  # booking_ref is never annotated
    assert "booking_ref" not in {e.entity for e in without.extract(text, CONTEXT)}
    assert without.to_state()["regexes"]["booking_ref"] == [r"\bFD-\d{6}\b"]  # still a feature


def test_synonyms_replace_values_but_not_offsets(pipeline: EntityPipeline) -> None:
    text = "can I have a Check Up"
    assert described(pipeline, text) == [
        ("Check Up", "service", "check-up", "LookupEntityExtractor"),
    ]


def test_annotations_whose_value_differs_become_synonyms() -> None:
    marked = example("book", "I'd like a [cleaning](service)")
    cleaning = marked.entities[0]
    relabelled = Example(
        marked.text,
        marked.intent,
        (Entity("service", "hygiene", cleaning.start, cleaning.end, "markup"),),
    )
    data = TrainingData(examples=(relabelled,), lookups={"service": ("cleaning",)})
    trained = EntityPipeline.train(data, seed=0)
    found = [(e.value, e.extractor) for e in trained.extract("a cleaning please", CONTEXT)]
    assert ("hygiene", "LookupEntityExtractor") in found


def test_overlaps_prefer_the_longest_span(pipeline: EntityPipeline) -> None:
    assert [e.entity for e in pipeline.extract("in two weeks", CONTEXT)] == ["time"]
    assert [e.entity for e in pipeline.extract("07700 900123", CONTEXT)] == ["phone-number"]


def _entity(start: int, end: int, extractor: str, confidence: float | None = 1.0) -> Entity:
    return Entity("x", extractor, start, end, extractor, confidence_entity=confidence)


def test_overlap_ties_go_to_confidence_then_to_the_data_extractors() -> None:
    crf = _entity(0, 5, "CRFEntityExtractor", 0.9)
    lookup = _entity(0, 5, "LookupEntityExtractor", 1.0)
    number = _entity(0, 5, "NumberExtractor", 1.0)
    regex = _entity(0, 5, "RegexEntityExtractor", 1.0)
    longer = _entity(3, 9, "CRFEntityExtractor", 0.5)
    apart = _entity(9, 12, "TimeExtractor", None)
    assert resolve_overlaps([number, crf, lookup], 12) == [lookup]
    assert resolve_overlaps([number, regex, lookup], 12) == [regex]
    assert resolve_overlaps([crf, longer, apart], 12) == [longer, apart]


def test_a_data_pipeline_without_annotations_has_only_the_builtins() -> None:
    empty = EntityPipeline.train(TrainingData(), seed=0)
    assert [e.entity for e in empty.extract("Friday at 3pm for 2", CONTEXT)] == ["time", "number"]
    assert empty.to_state()["crf"] is None


# -- the state -------------------------------------------------------------------------------------


def test_state_is_json_and_the_loaded_pipeline_extracts_the_same(
    pipeline: EntityPipeline,
) -> None:
    state = pipeline.to_state()
    text_state = json.dumps(state)
    assert json.loads(text_state) == state
    loaded = EntityPipeline.from_state(json.loads(text_state))
    for text in [
        "move me from Dr Patel to Dr Okafor next Friday at 10",
        "a Check Up for FD-123456, call 07700 900123",
        "hello",
        "",
    ]:
        assert loaded.extract(text, CONTEXT) == pipeline.extract(text, CONTEXT)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("format", "pickle"),
        ("version", 99),
        ("regexes", {"booking_ref": "FD-.*"}),
        ("regexes", {"booking_ref": ["(unclosed"]}),
        ("builtins", ["time", "weather"]),
        ("entities", "service"),
        ("crf", {"tags": [None]}),
    ],
)
def test_an_invalid_state_is_refused(pipeline: EntityPipeline, key: str, value: Any) -> None:
    state = json.loads(json.dumps(pipeline.to_state()))
    state[key] = value
    with pytest.raises(EntityStateError):
        EntityPipeline.from_state(state)


def test_a_bad_regex_in_the_data_is_a_training_error() -> None:
    with pytest.raises(EntityTrainingError, match="booking_ref"):
        EntityPipeline.train(TrainingData(regexes={"booking_ref": ("([a-z",)}))


# -- input that must not hurt ----------------------------------------------------------------------

ODD_INPUT = [
    "",
    " ",
    "\x00\x01\x02tomorrow\x7f at\x1b 3pm\u200b",
    "😀😀😀 tomorrow 🙂 at 3pm 🎉",
    "فردا ساعت ۳ بعد از ظهر، شماره ۰۹۱۲۳۴۵۶۷۸۹",
    "Завтра в 3pm, 明天下午三点, tomorrow at 3",
    "\ud800 lone surrogate at 3pm",
    "İSTANBUL ſunday Kelvin \u212a at ３pm",
    "@" * 500,
    "1" * 5000,
    "/" * 300 + "12/12/12/12/12",
    "in " * 300 + "two weeks",
]


@pytest.mark.parametrize("text", ODD_INPUT)
def test_odd_input_never_raises(pipeline: EntityPipeline, text: str) -> None:
    for entity in pipeline.extract(text, CONTEXT):
        assert 0 <= entity.start < entity.end <= len(text)
        json.dumps(entity.to_rasa(text))


def test_persian_context_reads_persian_digits(pipeline: EntityPipeline) -> None:
    text = "برای ۲ نفر"
    persian = ParseContext(REFERENCE, CONTEXT.timezone, "fa")
    assert [(text[e.start : e.end], e.value) for e in pipeline.extract(text, persian)] == [("۲", 2)]


def test_a_100k_character_message_takes_reasonable_time(pipeline: EntityPipeline) -> None:
    unit = "can I come tomorrow at 3pm, call 07700 900123 or anna@example.com 😀 ۱۲ "
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    started = time.perf_counter()
    entities = pipeline.extract(text, CONTEXT)
    elapsed = time.perf_counter() - started
    assert len(text) == 100_000
    assert entities and all(0 <= e.start < e.end <= len(text) for e in entities)
    assert elapsed < 5.0, f"100,000 characters took {elapsed:.2f} s"  # about 1 s measured


_ALPHABET = st.sampled_from(
    [
        *"0123456789 :/.-@,+()'\n\t\x00",
        *"aAmMpPtTsS",
        "۳",
        "😀",
        " at ",
        " on ",
        "tomorrow",
        "Friday",
        "May",
        "sun",
        "3pm",
        "noon",
        "the 5th",
        "of December",
        "after",
        "between",
        "and",
        "morning",
        "next",
        "week",
        "in two",
        "half past",
        "Dr Patel",
        "filling",
        "check up",
        "FD-123456",
        "anna@example.com",
        "07700 900123",
        "twenty-one",
    ]
)


@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(_ALPHABET, max_size=30), noise=st.text(max_size=20))
def test_extract_never_raises_and_spans_lie_inside_the_text(
    pipeline: EntityPipeline, pieces: list[str], noise: str
) -> None:
    text = "".join(pieces) + noise
    entities = pipeline.extract(text, CONTEXT)
    taken: set[int] = set()
    for entity in entities:
        assert 0 <= entity.start < entity.end <= len(text)
        covered = set(range(entity.start, entity.end))
        assert not covered & taken  # the pipeline returns no overlapping entities
        taken |= covered
