"""The CRF entity extractor: learns services, practitioners, roles and groups; JSON state."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from nlu.entities import CRFEntityExtractor, EntityStateError, EntityTrainingError
from nlu.entities.crf_extractor import Tag, _spans
from nlu.types import Entity, Example

from .test_entities_data import CONTEXT, clinic_data


@pytest.fixture(scope="module")
def crf() -> CRFEntityExtractor:
    trained = CRFEntityExtractor.train(clinic_data().examples, {}, seed=0)
    assert trained is not None
    return trained


def spans(extractor: CRFEntityExtractor, text: str) -> list[tuple[str, str, str | None]]:
    return [(text[e.start : e.end], e.entity, e.role) for e in extractor.extract(text, CONTEXT)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "can I get a scale and polish with Dr Okafor",
            [("scale and polish", "service", None), ("Dr Okafor", "practitioner", None)],
        ),
        ("I need a root canal", [("root canal", "service", None)]),
        (
            "can I see Dr Smith for teeth whitening",  # a name never seen in training
            [("Dr Smith", "practitioner", None), ("teeth whitening", "service", None)],
        ),
        (
            "I want a crown with Dr Smith",
            [("crown", "service", None), ("Dr Smith", "practitioner", None)],
        ),
        ("thank you so much", []),
    ],
)
def test_learns_services_and_practitioners(
    crf: CRFEntityExtractor, text: str, expected: list[tuple[str, str, None]]
) -> None:
    assert spans(crf, text) == expected


@pytest.mark.parametrize(
    ("text", "current", "wanted"),
    [
        ("move me from Dr Patel to Dr Okafor", "Dr Patel", "Dr Okafor"),
        ("switch from Dr Okafor to Dr Jones", "Dr Okafor", "Dr Jones"),
        ("swap Dr Jones for Dr Patel please", "Dr Jones", "Dr Patel"),
    ],
)
def test_learns_roles(crf: CRFEntityExtractor, text: str, current: str, wanted: str) -> None:
    assert spans(crf, text) == [
        (current, "practitioner", "current"),
        (wanted, "practitioner", "wanted"),
    ]


def test_entities_carry_rasa_fields_and_marginal_confidence(crf: CRFEntityExtractor) -> None:
    text = "I need a filling with Dr Patel"
    entities = crf.extract(text, CONTEXT)
    assert [e.value for e in entities] == ["filling", "Dr Patel"]
    for entity in entities:
        assert entity.extractor == "CRFEntityExtractor"
        assert entity.confidence_entity is not None
        assert 0.5 < entity.confidence_entity <= 1.0


def _grouped(marked: list[tuple[str, str, str]]) -> Example:
    text, entities = "", []
    for piece, entity, group in marked:
        if entity:
            entities.append(
                Entity(entity, piece, len(text), len(text) + len(piece), "m", group=group)
            )
        text += piece
    return Example(text, "book", tuple(entities))


def test_learns_groups() -> None:
    sentences = []
    pairs = [("filling", "Dr Patel"), ("check-up", "Dr Jones"), ("crown", "Dr Okafor")]
    for first, second in zip(pairs, pairs[1:] + pairs[:1], strict=True):
        sentences.append(
            _grouped(
                [
                    ("a ", "", ""),
                    (first[0], "service", "1"),
                    (" with ", "", ""),
                    (first[1], "practitioner", "1"),
                    (" and a ", "", ""),
                    (second[0], "service", "2"),
                    (" with ", "", ""),
                    (second[1], "practitioner", "2"),
                ]
            )
        )
    trained = CRFEntityExtractor.train(sentences, {}, seed=0)
    assert trained is not None
    text = "a crown with Dr Jones and a check-up with Dr Okafor"
    assert [(text[e.start : e.end], e.group) for e in trained.extract(text, CONTEXT)] == [
        ("crown", "1"),
        ("Dr Jones", "1"),
        ("check-up", "2"),
        ("Dr Okafor", "2"),
    ]


def test_training_is_deterministic_for_a_seed() -> None:
    first = CRFEntityExtractor.train(clinic_data().examples, {}, seed=7)
    second = CRFEntityExtractor.train(clinic_data().examples, {}, seed=7)
    assert first is not None and second is not None
    assert first.to_state() == second.to_state()


def test_no_learnable_annotation_means_no_model() -> None:
    examples = [Example("at 3pm", "book", (Entity("time", "3pm", 3, 6, "m"),))]
    assert CRFEntityExtractor.train(examples, {}, seed=0, skip=frozenset({"time"})) is None
    assert CRFEntityExtractor.train([Example("hello", "greet")], {}, seed=0) is None


def test_an_annotation_outside_its_text_is_a_training_error() -> None:
    bad = Example("hi", "greet", (Entity("service", "x", 1, 9, "m"),), source="nlu.yml:3")
    with pytest.raises(EntityTrainingError, match=r"nlu\.yml:3"):
        CRFEntityExtractor.train([bad], {}, seed=0)


def test_state_is_plain_json_and_round_trips(crf: CRFEntityExtractor) -> None:
    state = crf.to_state()
    assert json.loads(json.dumps(state)) == state
    loaded = CRFEntityExtractor.from_state(json.loads(json.dumps(state)), {})
    for text in ["move me from Dr Patel to Dr Okafor", "a crown please", "", "Dr Dr Dr"]:
        assert loaded.extract(text, CONTEXT) == crf.extract(text, CONTEXT)


def _tampered(state: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    copy: Any = json.loads(json.dumps(state))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return dict(copy)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["model", "emission"], [[0.0]]),
        (["model", "transition", 0, 0], math.nan),
        (["model", "features"], "not a list"),
        (["tags"], [["B", "service", None, None]]),
        (["tags"], None),
        (["model"], None),
    ],
)
def test_a_tampered_state_is_refused(
    crf: CRFEntityExtractor, path: list[str | int], value: Any
) -> None:
    with pytest.raises(EntityStateError):
        CRFEntityExtractor.from_state(_tampered(crf.to_state(), path, value), {})


def test_bio_decoding_starts_an_entity_at_a_stray_inside_tag() -> None:
    service, doctor = Tag("I", "service"), Tag("B", "practitioner")
    tags: list[Tag | None] = [service, Tag("I", "service"), None, Tag("I", "service"), doctor]
    assert _spans(tags) == [
        (Tag("B", "service"), 0, 1),
        (Tag("B", "service"), 3, 3),
        (Tag("B", "practitioner"), 4, 4),
    ]
