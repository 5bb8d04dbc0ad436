"""Training and parsing with the sparse pipeline: intents, ranking, fallback, shortcuts, bad input,
determinism, and the model file's safety."""

from __future__ import annotations

import io
import pickle
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from nlu.config import PipelineConfig, RuntimeConfig
from nlu.entities import ParseContext
from nlu.errors import ModelFileError, TrainingDataError
from nlu.model import NluModel, clean_text
from nlu.model_file import load_model, save_model
from nlu.shortcut import parse_shortcut
from nlu.training import train_model
from nlu.training_data import parse_yaml
from nlu.types import FALLBACK_INTENT, TrainingData
from tests.unit.test_nlu_data import CLINIC_YAML

CONTEXT = ParseContext(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), ZoneInfo("Europe/London"))
RUNTIME = RuntimeConfig(fallback_threshold=0.3, max_text_chars=200)


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return parse_yaml(CLINIC_YAML)


@pytest.fixture(scope="module")
def model(data: TrainingData) -> NluModel:
    return train_model(data, PipelineConfig(seed=3))


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hello there", "greet"),
        ("I want to book a cleaning", "book_appointment"),
        ("please cancel my appointment", "cancel_appointment"),
        ("how much does a filling cost", "ask_price"),
        ("bye, see you", "goodbye"),
        ("what's the weather in london", "out_of_scope"),
    ],
)
def test_parses_unseen_sentences(model: NluModel, text: str, intent: str) -> None:
    result = model.parse(text, CONTEXT, RuntimeConfig(fallback_threshold=0.0))
    assert result.intent.name == intent
    assert result.text == text


def test_ranking_is_a_sorted_distribution_led_by_the_intent(model: NluModel) -> None:
    result = model.parse("how much is a check-up", CONTEXT, RuntimeConfig(fallback_threshold=0))
    ranking = result.intent_ranking
    assert len(ranking) == 6
    assert ranking[0] == result.intent
    assert [s.confidence for s in ranking] == sorted((s.confidence for s in ranking), reverse=True)
    assert all(0 <= s.confidence <= 1 for s in ranking)
    assert sum(s.confidence for s in ranking) == pytest.approx(1.0, abs=1e-6)
    assert sorted(s.name for s in ranking) == list(model.intents)
    rasa = result.to_rasa()
    assert rasa["intent"] == {"name": "ask_price", "confidence": ranking[0].confidence}
    assert len(rasa["intent_ranking"]) == 6


def test_low_confidence_becomes_nlu_fallback_as_in_rasa(model: NluModel) -> None:
    text = "zxq vprt klm"
    raw = model.parse(text, CONTEXT, RuntimeConfig(fallback_threshold=0.0))
    strict = model.parse(text, CONTEXT, RuntimeConfig(fallback_threshold=0.99))
    assert raw.intent.name != FALLBACK_INTENT
    assert strict.intent.name == FALLBACK_INTENT
    assert strict.intent.confidence == 0.99
    assert strict.intent_ranking[0] == strict.intent
    assert strict.intent_ranking[1:] == raw.intent_ranking[:9]


def test_confidences_are_higher_for_familiar_text(model: NluModel) -> None:
    runtime = RuntimeConfig(fallback_threshold=0.0)
    familiar = model.parse("I'd like to book a cleaning", CONTEXT, runtime).intent.confidence
    garbled = model.parse("qqq www eee", CONTEXT, runtime).intent.confidence
    assert familiar > 0.6
    assert garbled < familiar


@pytest.mark.parametrize(
    ("text", "intent", "confidence", "entities"),
    [
        ("/greet", "greet", 1.0, []),
        ('/book_appointment{"service": "cleaning"}', "book_appointment", 1.0,
         [("service", "cleaning")]),
        ('/inform@0.8{"service": ["filling", "physio"]}', "inform", 0.8,
         [("service", "filling"), ("service", "physio")]),
        ("/book_appointment{not json}", "book_appointment", 1.0, []),
        ("/deny@7", "deny", 1.0, []),
    ],
)  # fmt: skip
def test_intent_shortcuts_skip_the_classifier(
    model: NluModel, text: str, intent: str, confidence: float, entities: list[tuple[str, str]]
) -> None:
    result = model.parse(text, CONTEXT, RUNTIME)
    assert (result.intent.name, result.intent.confidence) == (intent, confidence)
    assert [(e.entity, e.value) for e in result.entities] == entities
    assert result.intent_ranking == (result.intent,)
    if entities:
        start = text.index("{")
        assert {(e.start, e.end) for e in result.entities} == {(start, len(text))}


def test_text_that_only_starts_with_a_slash_is_classified() -> None:
    assert parse_shortcut("/ hello") is None
    assert parse_shortcut("and/or cancel") is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "x" * 100_000,
        "book\x00 a\x07 clean\x1bing\r\n",
        "book a cleaning 🦷😁👍🏽",
        "cancel 予約 запись موعد please",
        "\ud800 lone surrogate",
        "[cleaning](service)",
        "/",
        "{}",
    ],
)
def test_bad_input_never_crashes(model: NluModel, text: str) -> None:
    result = model.parse(text, CONTEXT, RUNTIME)
    assert len(result.text) <= RUNTIME.max_text_chars
    assert result.text.isprintable() or result.text.strip() == ""
    assert 0.0 <= result.intent.confidence <= 1.0
    assert result.to_rasa()["text"] == result.text
    for entity in result.entities:
        assert 0 <= entity.start <= entity.end <= len(result.text)


def test_empty_text_is_fallback_with_nothing_ranked(model: NluModel) -> None:
    result = model.parse("  ", CONTEXT, RUNTIME)
    assert (result.intent.name, result.intent.confidence) == (FALLBACK_INTENT, 0.0)
    assert result.intent_ranking == ()
    assert result.entities == ()


def test_clean_text_keeps_offsets() -> None:
    assert clean_text("a\x00b\tc\ud800", 100) == "a b c\ufffd"
    assert clean_text("abcdef", 3) == "abc"
    assert clean_text("emoji 🦷 ok", 100) == "emoji 🦷 ok"


def test_training_needs_two_intents() -> None:
    data = parse_yaml("nlu:\n- intent: only\n  examples: |\n    - a\n    - b\n")
    with pytest.raises(TrainingDataError, match="at least two intents"):
        train_model(data, PipelineConfig())


def test_tiny_intents_with_one_example_still_train() -> None:
    text = "nlu:\n- intent: a\n  examples: |\n    - alpha\n- intent: b\n  examples: |\n    - beta\n"
    model = train_model(parse_yaml(text), PipelineConfig())
    assert model.parse("alpha", CONTEXT, RuntimeConfig(fallback_threshold=0)).intent.name == "a"


# -- determinism and the model file ----------------------------------------------------------------


def probabilities(model: NluModel, texts: list[str]) -> np.ndarray:
    return model.classifier.predict(model.inputs(texts)).probabilities


def test_training_is_deterministic_for_a_seed(data: TrainingData, model: NluModel) -> None:
    again = train_model(data, PipelineConfig(seed=3))
    texts = ["book a cleaning", "bye", "weather?", "how much"]
    assert np.array_equal(probabilities(again, texts), probabilities(model, texts))
    assert np.array_equal(again.classifier.weights.coef, model.classifier.weights.coef)
    assert again.info.data_fingerprint == model.info.data_fingerprint


def test_model_file_round_trip(tmp_path: Path, model: NluModel) -> None:
    path = tmp_path / "models" / "nlu-model.npz"
    save_model(model, path)
    loaded = load_model(path)
    texts = ["book a cleaning", "cancel it", "🦷"]
    assert np.array_equal(probabilities(loaded, texts), probabilities(model, texts))
    assert loaded.intents == model.intents
    assert loaded.info == model.info
    text = "I want to book a cleaning"
    assert loaded.parse(text, CONTEXT, RUNTIME) == model.parse(text, CONTEXT, RUNTIME)
    assert [p.name for p in path.parent.iterdir()] == ["nlu-model.npz"]  # no temp files left


def test_missing_model_file_says_to_train(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="frontdesk nlu train"):
        load_model(tmp_path / "nlu-model.npz")


def test_edited_model_file_is_refused(tmp_path: Path, model: NluModel) -> None:
    path = tmp_path / "m.npz"
    save_model(model, path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO()
    np.save(buffer, np.load(io.BytesIO(members["intercept.npy"])) + 1.0)
    members["intercept.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(ModelFileError, match="checksum"):
        load_model(path)


def test_pickles_and_garbage_are_refused_without_running_them(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pickle ran",))

    path = tmp_path / "m.npz"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ModelFileError, match="not a readable"):
        load_model(path)
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array([Boom()], dtype=object), __sha256__=np.zeros(1, np.uint8))
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ModelFileError, match="not a readable"):
        load_model(path)
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ModelFileError):
        load_model(path)
