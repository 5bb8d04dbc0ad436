"""Scoring: accuracy, macro-F1, out-of-scope recall, calibration error, the threshold choice,
and the CSV / CLINC150 loaders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nlu.calibration import Platt, fit_temperature
from nlu.datasets import load_clinc, load_csv
from nlu.errors import TrainingDataError
from nlu.evaluation import calibration_error, choose_threshold, score
from nlu.types import FALLBACK_INTENT, OUT_OF_SCOPE_INTENT, IntentScore


def answers(*pairs: tuple[str, float]) -> list[IntentScore]:
    return [IntentScore(name, confidence) for name, confidence in pairs]


def test_scores_by_hand() -> None:
    gold = ["a", "a", "b", "b", OUT_OF_SCOPE_INTENT, OUT_OF_SCOPE_INTENT]
    said = answers(
        ("a", 0.9), ("b", 0.8), ("b", 0.7), ("b", 0.2), (OUT_OF_SCOPE_INTENT, 0.9), ("a", 0.3)
    )
    scores = score(gold, said, threshold=0.25)
    # predicted: a, b, b, oos (0.2 < 0.25), oos, a
    assert scores.accuracy == pytest.approx(3 / 6)
    assert scores.in_scope_accuracy == pytest.approx(2 / 4)
    assert scores.oos_recall == pytest.approx(1 / 2)
    assert scores.per_intent["a"].precision == pytest.approx(1 / 2)
    assert scores.per_intent["a"].recall == pytest.approx(1 / 2)
    assert scores.per_intent["b"].precision == pytest.approx(1 / 2)
    assert scores.per_intent[OUT_OF_SCOPE_INTENT].precision == pytest.approx(1 / 2)
    assert scores.macro_f1 == pytest.approx(0.5)
    assert scores.confusions[0][2] == 1
    assert len(scores.confusions) == 3


def test_nlu_fallback_counts_as_out_of_scope() -> None:
    scores = score([OUT_OF_SCOPE_INTENT, "a"], answers((FALLBACK_INTENT, 0.4), ("a", 0.9)), 0.0)
    assert scores.oos_recall == 1.0
    assert scores.accuracy == 1.0
    assert score(["a"], answers(("a", 1.0)), 0.0).oos_recall is None


def test_calibration_error() -> None:
    assert calibration_error(np.array([0.8] * 10), np.array([True] * 8 + [False] * 2)) == 0.0
    assert calibration_error(np.array([1.0, 1.0]), np.array([False, False])) == 1.0


def test_threshold_choice_keeps_in_scope_accuracy_within_budget() -> None:
    gold = ["a"] * 100 + [OUT_OF_SCOPE_INTENT] * 10
    confidences = np.linspace(0.5, 1.0, 100)
    said = answers(*(("a", float(c)) for c in confidences), *(("a", 0.1 * i) for i in range(10)))
    threshold = choose_threshold(said, gold, budget=0.02)  # may drop 2 in-scope answers
    chosen = score(gold, said, threshold)
    assert chosen.in_scope_accuracy >= 0.98
    assert chosen.oos_recall == pytest.approx(0.6)  # 0.0 ... 0.5 fall below it
    assert choose_threshold(said, gold, budget=0.0) == pytest.approx(0.5)
    assert choose_threshold(said[:100], gold[:100]) == 0.0  # no out-of-scope examples


def test_temperature_and_platt_fit_known_answers() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 3)) * 3
    truth = np.array([rng.choice(3, p=np.exp(r) / np.exp(r).sum()) for r in logits])
    assert fit_temperature(logits * 2, truth) == pytest.approx(2.0, rel=0.15)
    x = rng.normal(size=5000)
    correct = rng.random(5000) < 1 / (1 + np.exp(-(2 * x - 1)))
    platt = Platt.fit(x, correct)
    assert platt.slope == pytest.approx(2.0, rel=0.15)
    assert platt.offset == pytest.approx(-1.0, abs=0.2)
    assert Platt.fit(np.array([1.0, 2.0, 3.0]), np.array([True] * 3)).slope < 10


def test_csv_loader(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text('text,category\n"hi, there",greet\nbye,goodbye\n')
    data = load_csv(path)
    assert [(e.text, e.intent) for e in data.examples] == [
        ("hi, there", "greet"),
        ("bye", "goodbye"),
    ]
    path.write_text("sentence,label\nhi,greet\n")
    with pytest.raises(TrainingDataError, match="text,category"):
        load_csv(path)
    path.write_text("text,category\nhi,\n")
    with pytest.raises(TrainingDataError, match=r":2: a row needs"):
        load_csv(path)


def test_clinc_loader_maps_oos_and_keeps_splits_apart(tmp_path: Path) -> None:
    data = {
        "train": [["a", "x"]],
        "oos_train": [["b", "oos"]],
        "val": [["c", "x"]],
        "oos_val": [["d", "oos"]],
        "test": [["e", "x"]],
        "oos_test": [["f", "oos"]],
    }
    path = tmp_path / "data_full.json"
    path.write_text(json.dumps(data))
    splits = load_clinc(path)
    assert [(e.text, e.intent) for e in splits.train.examples] == [
        ("a", "x"),
        ("b", OUT_OF_SCOPE_INTENT),
    ]
    assert [e.text for e in splits.validation] == ["c", "d"]
    assert [e.text for e in splits.test] == ["e", "f"]
    path.write_text(json.dumps({**data, "val": [["only text"]]}))
    with pytest.raises(TrainingDataError, match=r"val\[0\] is not"):
        load_clinc(path)
