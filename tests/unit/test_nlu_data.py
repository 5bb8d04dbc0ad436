"""Rasa NLU YAML: reading (markup, offsets, synonyms, merging), errors that name the line, and
writing back (round trip). Also holds the tiny clinic data the other NLU tests train on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlu.annotations import parse_annotated, render_annotated
from nlu.errors import TrainingDataError
from nlu.training_data import dump_yaml, load_training_data, parse_yaml
from nlu.types import Entity, Example, TrainingData

CLINIC_YAML = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
    - hey
    - hello, anyone there?
    - hi, good afternoon
    - hiya
    - good evening
    - morning!
- intent: book_appointment
  examples: |
    - I'd like to book a [cleaning](service)
    - can I get an appointment for a [check-up](service:checkup)
    - book me in for [physio](service) please
    - I need to see a dentist
    - is there a slot for a [filling](service) next week
    - I want to make an appointment
    - could you book a [vaccination](service) for my son
    - schedule a [GP consultation](service:gp-consult) for me
    - I need an appointment with [Dr Hartley]{"entity": "practitioner", "value": "dr-hartley"}
- intent: cancel_appointment
  examples: |
    - cancel my appointment
    - I can't make it tomorrow, please cancel
    - please cancel the [cleaning](service) I booked
    - I want to cancel my booking
    - call off my visit on friday
    - drop my appointment
    - cancel my [check-up](service:checkup) please
    - I won't be coming, cancel it
- intent: ask_price
  examples: |
    - how much is a [cleaning](service)
    - what does a [filling](service) cost
    - price of [teeth whitening](service:whitening)?
    - how much do you charge for [physio](service)
    - what are your prices
    - is a [check-up](service:checkup) expensive
    - cost of a [GP consultation](service:gp-consult)
    - how much will it cost me
- intent: goodbye
  examples: |
    - bye
    - goodbye
    - see you later
    - thanks, bye
    - have a nice day
    - cheers, that's all
    - talk to you soon
    - bye bye
- intent: out_of_scope
  examples: |
    - what's the weather like in paris
    - who won the football last night
    - tell me a joke about cats
    - can you recommend a good film
    - what is the capital of peru
    - how do I bake sourdough bread
    - play some music
    - what's the stock price of apple
- synonym: checkup
  examples: |
    - check up
- regex: phone
  examples: |
    - \\+?\\d[\\d ]{8,14}\\d
- lookup: service
  examples: |
    - cleaning
    - filling
    - physio
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def without_sources(data: TrainingData) -> list[Example]:
    return [dataclasses.replace(e, source=None) for e in data.examples]


# -- markup ----------------------------------------------------------------------------------------


def test_markup_is_removed_and_offsets_index_the_plain_text() -> None:
    annotated = parse_annotated("book a [cleaning](service) for [tomorrow](time)")
    assert annotated.text == "book a cleaning for tomorrow"
    assert [(e.entity, e.value, e.start, e.end) for e in annotated.entities] == [
        ("service", "cleaning", 7, 15),
        ("time", "tomorrow", 20, 28),
    ]
    for entity in annotated.entities:
        assert annotated.text[entity.start : entity.end] == entity.value
    assert annotated.synonyms == {}


def test_a_value_other_than_the_text_records_a_synonym() -> None:
    annotated = parse_annotated("a [Check-Up](service:checkup) please")
    assert annotated.entities[0].value == "checkup"
    assert annotated.text[annotated.entities[0].start : annotated.entities[0].end] == "Check-Up"
    assert annotated.synonyms == {"check-up": "checkup"}


def test_json_annotations_carry_role_and_group() -> None:
    marked = 'from [Leeds]{"entity": "city", "role": "from", "group": "1", "value": "LDS"} today'
    annotated = parse_annotated(marked)
    entity = annotated.entities[0]
    assert (entity.entity, entity.value, entity.role, entity.group) == ("city", "LDS", "from", "1")
    assert (entity.start, entity.end) == (5, 10)
    assert annotated.synonyms == {"leeds": "LDS"}


@pytest.mark.parametrize(
    "marked",
    [
        "plain text",
        "a [cleaning](service) now",
        "see [Dr Hartley](practitioner:dr-hartley)",
        'from [Leeds]{"entity": "city", "role": "from"} to [York]{"entity": "city", "role": "to"}',
        'the [v](e:a:b) and [x]{"entity": "n", "value": 3}',
    ],
)
def test_markup_round_trips(marked: str) -> None:
    annotated = parse_annotated(marked)
    example = Example(annotated.text, "i", annotated.entities)
    again = parse_annotated(render_annotated(example))
    assert again.text == annotated.text
    assert again.entities == annotated.entities


# -- reading files ---------------------------------------------------------------------------------


def test_reads_every_item_kind(tmp_path: Path) -> None:
    data = load_training_data([write(tmp_path, "nlu.yml", CLINIC_YAML)])
    assert data.intents == [
        "ask_price",
        "book_appointment",
        "cancel_appointment",
        "goodbye",
        "greet",
        "out_of_scope",
    ]
    assert len(data.examples) == 50
    assert data.synonyms["check-up"] == "checkup"
    assert data.synonyms["check up"] == "checkup"
    assert data.synonyms["dr hartley"] == "dr-hartley"
    assert data.regexes == {"phone": (r"\+?\d[\d ]{8,14}\d",)}
    assert data.lookups == {"service": ("cleaning", "filling", "physio")}
    first = data.examples[0]
    assert (first.text, first.intent, first.source) == ("hello", "greet", f"{tmp_path}/nlu.yml:5")


def test_examples_as_a_list_with_metadata(tmp_path: Path) -> None:
    text = """\
version: "3.1"
nlu:
- intent: greet
  metadata: {channel: web}
  examples:
  - text: hello [Ann](name)
    metadata: {sentiment: neutral}
  - hi
"""
    data = load_training_data([write(tmp_path, "a.yml", text)])
    first, second = data.examples
    assert first.text == "hello Ann"
    assert first.entities[0].value == "Ann"
    assert first.metadata == {"example": {"sentiment": "neutral"}, "intent": {"channel": "web"}}
    assert second.metadata == {"intent": {"channel": "web"}}
    assert (first.source, second.source) == (f"{tmp_path}/a.yml:6", f"{tmp_path}/a.yml:8")


def test_files_and_folders_merge(tmp_path: Path) -> None:
    write(
        tmp_path / "data", "one.yml", 'version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - x\n'
    )
    write(tmp_path / "data", "sub/two.yaml", "nlu:\n- intent: b\n  examples: |\n    - y\n")
    write(tmp_path / "data", "domain.yml", "intents: [a, b]\n")  # no nlu: skipped in a folder
    write(tmp_path / "data", "notes.md", "- intent: ignored")
    extra = write(tmp_path, "extra.yml", "nlu:\n- lookup: city\n  examples: |\n    - Leeds\n")
    data = load_training_data([tmp_path / "data", extra])
    assert [(e.text, e.intent) for e in data.examples] == [("x", "a"), ("y", "b")]
    assert data.lookups == {"city": ("Leeds",)}


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("nlu:\n- intent: a\n  examples: |\n    - ok\n    oops\n", 5, "expected '- example'"),
        ("nlu:\n- intent: a\n  examples: |\n    - [x]{bad json}\n", 4, "not valid JSON"),
        ('nlu:\n- intent: a\n  examples: |\n    - [x]{"value": 1}\n', 4, 'no "entity"'),
        ("nlu:\n- intent: a\n  exmples: |\n    - x\n", 2, "unknown key(s)"),
        ("nlu:\n- intent: a\n  examples: |\n    - x\n  - y\n", 5, "not valid YAML"),
        ("nlu:\n- regex: r\n  examples: |\n    - (unclosed\n", 4, "invalid regex"),
        ("nlu:\n- intent: a\n- intent: b\n  examples: |\n    - x\n", 2, "has no examples"),
        ('version: "1.0"\nnlu: []\n', 1, "unsupported version"),
        ("nlu: {intent: a}\n", 1, "must be a list"),
        ("nlu:\n- intent: a\n  synonym: b\n  examples: |\n    - x\n", 2, "exactly one of"),
        ("nlu:\n- intent: a\n  examples: |\n    - x\n    -\n", 5, "an empty example"),
    ],
)
def test_errors_name_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = write(tmp_path, "bad.yml", text)
    with pytest.raises(TrainingDataError) as caught:
        load_training_data([path])
    assert caught.value.source == str(path)
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_conflicting_synonyms_name_both_places(tmp_path: Path) -> None:
    write(tmp_path / "d", "a.yml", "nlu:\n- synonym: x\n  examples: |\n    - foo\n")
    write(tmp_path / "d", "b.yml", "nlu:\n- intent: i\n  examples: |\n    - a [Foo](e:y)\n")
    with pytest.raises(TrainingDataError, match=r"a\.yml:4") as caught:
        load_training_data([tmp_path / "d"])
    assert caught.value.line == 4
    assert caught.value.source.endswith("b.yml")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="no such file"):
        load_training_data([tmp_path / "nope.yml"])
    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"\xff\xfe\x00nlu")
    with pytest.raises(TrainingDataError, match="cannot be read"):
        load_training_data([binary])
    with pytest.raises(TrainingDataError, match="no nlu: section"):
        load_training_data([write(tmp_path, "domain.yml", "intents: [a]\n")])


# -- writing ---------------------------------------------------------------------------------------


def test_round_trip_of_the_clinic_data(tmp_path: Path) -> None:
    data = parse_yaml(CLINIC_YAML)
    text = dump_yaml(data)
    assert text.startswith('version: "3.1"\n')
    again = parse_yaml(text)
    assert without_sources(again) == without_sources(data)
    assert (again.synonyms, again.regexes, again.lookups) == (
        data.synonyms,
        data.regexes,
        data.lookups,
    )
    assert dump_yaml(again) == text


words = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="[]{}()"
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and s.strip() != "" and not s.startswith(("-", "#")))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(words, st.booleans(), st.sampled_from(["a", "b"])), min_size=1))
def test_round_trip_of_generated_examples(parts: list[tuple[str, bool, str]]) -> None:
    examples = []
    for i, (word, annotate, intent) in enumerate(parts):
        text = f"{i} {word}"
        entities: tuple[Entity, ...] = ()
        if annotate:
            entities = (Entity("thing", word, len(text) - len(word), len(text), "training_data"),)
        examples.append(Example(text, intent, entities))
    data = TrainingData(tuple(examples))
    again = parse_yaml(dump_yaml(data))
    first = {e.intent: i for i, e in reversed(list(enumerate(data.examples)))}
    grouped = sorted(without_sources(data), key=lambda e: first[e.intent])  # intent by intent
    assert without_sources(again) == grouped
