"""Measuring a pipeline: accuracy, macro-F1, per-intent precision/recall, confusions,
out-of-scope recall, calibration, training time and parse latency.

A prediction of nlu_fallback or out_of_scope counts as "out of scope" for scoring.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from nlu.classifier import assign_folds
from nlu.config import PipelineConfig, RuntimeConfig
from nlu.entities import ParseContext
from nlu.model import NluModel
from nlu.training import TrainingProgress, train_model
from nlu.types import FALLBACK_INTENT, OUT_OF_SCOPE_INTENT, Example, IntentScore, TrainingData

LATENCY_SAMPLE = 300
WORST_CONFUSIONS = 10
MAX_CANDIDATES = 2000
IN_SCOPE_LOSS_BUDGET = 0.01  # threshold choice: give up at most 1 point of in-scope accuracy


@dataclass(frozen=True, slots=True)
class IntentStats:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Scores:
    accuracy: float
    macro_f1: float
    in_scope_accuracy: float
    oos_recall: float | None  # None when the test data has no out-of-scope examples
    expected_calibration_error: float
    per_intent: dict[str, IntentStats]
    confusions: list[tuple[str, str, int]]  # (true, predicted, count), worst first


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    scores: Scores
    threshold: float
    train_seconds: float
    parse_p50_ms: float
    parse_p99_ms: float
    n_train: int
    n_test: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self.scores)
        data["confusions"] = [
            {"true": t, "predicted": p, "count": n} for t, p, n in self.scores.confusions
        ]
        data.update(
            threshold=self.threshold,
            train_seconds=round(self.train_seconds, 2),
            parse_p50_ms=round(self.parse_p50_ms, 3),
            parse_p99_ms=round(self.parse_p99_ms, 3),
            n_train=self.n_train,
            n_test=self.n_test,
            **self.extra,
        )
        return data


def is_out_of_scope(intent: str) -> bool:
    return intent in (FALLBACK_INTENT, OUT_OF_SCOPE_INTENT)


def score(gold: Sequence[str], answers: Sequence[IntentScore], threshold: float) -> Scores:
    """Scores of raw top answers (name, confidence) after applying `threshold`."""
    predicted = [
        OUT_OF_SCOPE_INTENT if a.confidence < threshold or is_out_of_scope(a.name) else a.name
        for a in answers
    ]
    truth = [OUT_OF_SCOPE_INTENT if is_out_of_scope(g) else g for g in gold]
    hits = np.array([p == t for p, t in zip(predicted, truth, strict=True)], bool)
    oos = np.array([t == OUT_OF_SCOPE_INTENT for t in truth], bool)
    per_intent = _per_intent(truth, predicted)
    raw_hits = np.array([a.name == g for a, g in zip(answers, gold, strict=True)], bool)
    confidences = np.array([a.confidence for a in answers], np.float64)
    return Scores(
        accuracy=float(hits.mean()) if len(hits) else 0.0,
        macro_f1=float(np.mean([s.f1 for s in per_intent.values()])) if per_intent else 0.0,
        in_scope_accuracy=float(hits[~oos].mean()) if (~oos).any() else 0.0,
        oos_recall=float(hits[oos].mean()) if oos.any() else None,
        expected_calibration_error=calibration_error(confidences[~oos], raw_hits[~oos]),
        per_intent=per_intent,
        confusions=_confusions(truth, predicted),
    )


def _per_intent(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, IntentStats]:
    pairs = Counter(zip(truth, predicted, strict=True))
    gold_count = Counter(truth)
    predicted_count = Counter(predicted)
    stats = {}
    for intent in sorted(gold_count):
        hit = pairs[(intent, intent)]
        precision = hit / predicted_count[intent] if predicted_count[intent] else 0.0
        recall = hit / gold_count[intent]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        stats[intent] = IntentStats(precision, recall, f1, gold_count[intent])
    return stats


def _confusions(truth: Sequence[str], predicted: Sequence[str]) -> list[tuple[str, str, int]]:
    wrong = Counter((t, p) for t, p in zip(truth, predicted, strict=True) if t != p)
    ranked = sorted(wrong.items(), key=lambda item: (-item[1], item[0]))
    return [(t, p, n) for (t, p), n in ranked[:WORST_CONFUSIONS]]


def calibration_error(confidence: np.ndarray[Any, Any], correct: np.ndarray[Any, Any]) -> float:
    """Expected calibration error over 10 equal-width confidence bins."""
    if len(confidence) == 0:
        return 0.0
    bins = np.minimum((confidence * 10).astype(int), 9)
    error = 0.0
    for b in np.unique(bins):
        members = bins == b
        error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def choose_threshold(
    answers: Sequence[IntentScore], gold: Sequence[str], budget: float = IN_SCOPE_LOSS_BUDGET
) -> float:
    """On validation data: the threshold catching the most out-of-scope messages while in-scope
    accuracy stays within `budget` of its value without a threshold."""
    confidence = np.array([a.confidence for a in answers], np.float64)
    said_oos = np.array([is_out_of_scope(a.name) for a in answers], bool)
    oos = np.array([is_out_of_scope(g) for g in gold], bool)
    right = np.array([a.name == g for a, g in zip(answers, gold, strict=True)], bool) & ~said_oos
    if oos.all() or not oos.any():
        return 0.0
    candidates = np.unique(np.concatenate([[0.0], confidence]))
    if len(candidates) > MAX_CANDIDATES:
        candidates = np.unique(np.quantile(candidates, np.linspace(0, 1, MAX_CANDIDATES)))
    kept = confidence[None, :] >= candidates[:, None]  # (candidates, examples)
    in_scope = (kept[:, ~oos] & right[~oos]).mean(axis=1)
    recall = (~kept[:, oos] | said_oos[oos]).mean(axis=1)
    allowed = in_scope >= in_scope[0] - budget
    best = int(np.argmax(np.where(allowed, recall, -1.0)))
    return float(candidates[best])


def parse_latency(model: NluModel, texts: Sequence[str]) -> tuple[float, float]:
    """(p50, p99) in milliseconds of single full parses (entities included)."""
    context = ParseContext(datetime.now(UTC), ZoneInfo("UTC"))
    runtime = RuntimeConfig()
    sample = list(texts[:LATENCY_SAMPLE])
    for text in sample[:5]:
        model.parse(text, context, runtime)  # warm-up
    timings = []
    with model.serving():
        for text in sample:
            start = time.perf_counter()
            model.parse(text, context, runtime)
            timings.append((time.perf_counter() - start) * 1000)
    if not timings:
        return 0.0, 0.0
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 99))


def timed_training(
    data: TrainingData, config: PipelineConfig, progress: TrainingProgress | None
) -> tuple[NluModel, float]:
    start = time.perf_counter()
    model = train_model(data, config, progress)
    return model, time.perf_counter() - start


def evaluate(
    train: TrainingData,
    test: Sequence[Example],
    config: PipelineConfig,
    *,
    threshold: float,
    validation: Sequence[Example] = (),
    progress: TrainingProgress | None = None,
) -> EvaluationReport:
    """Train on `train`; with `validation`, choose the threshold there; report on `test`."""
    model, seconds = timed_training(train, config, progress)
    if validation:
        answers = model.classify([e.text for e in validation], 0.0)
        threshold = choose_threshold(answers, [e.intent for e in validation])
    texts = [e.text for e in test]
    answers = model.classify(texts, 0.0)
    p50, p99 = parse_latency(model, texts)
    return EvaluationReport(
        scores=score([e.intent for e in test], answers, threshold),
        threshold=threshold,
        train_seconds=seconds,
        parse_p50_ms=p50,
        parse_p99_ms=p99,
        n_train=len(train.examples),
        n_test=len(test),
    )


def cross_validate(
    data: TrainingData,
    folds: int,
    config: PipelineConfig,
    *,
    threshold: float,
    progress: TrainingProgress | None = None,
) -> EvaluationReport:
    """k-fold cross-validation (stratified by intent); predictions pooled over the folds."""
    examples = data.examples
    intents = sorted({e.intent for e in examples})
    labels = np.array([intents.index(e.intent) for e in examples], np.int32)
    assignment = assign_folds(labels, folds, config.seed)
    answers: list[IntentScore | None] = [None] * len(examples)
    seconds: list[float] = []
    latencies: list[tuple[float, float]] = []
    for fold in range(folds):
        held_out = [i for i in range(len(examples)) if assignment[i] == fold]
        kept = tuple(e for i, e in enumerate(examples) if assignment[i] != fold)
        if not held_out:
            continue
        part = TrainingData(kept, data.synonyms, data.regexes, data.lookups)
        model, elapsed = timed_training(part, config, progress)
        seconds.append(elapsed)
        texts = [examples[i].text for i in held_out]
        for i, answer in zip(held_out, model.classify(texts, 0.0), strict=True):
            answers[i] = answer
        latencies.append(parse_latency(model, texts))
    done = [a for a in answers if a is not None]
    return EvaluationReport(
        scores=score([e.intent for e in examples], done, threshold),
        threshold=threshold,
        train_seconds=float(np.mean(seconds)),
        parse_p50_ms=float(np.median([p for p, _ in latencies])),
        parse_p99_ms=float(max(p for _, p in latencies)),
        n_train=len(examples) - len(examples) // folds,
        n_test=len(examples),
        extra={"folds": folds},
    )
