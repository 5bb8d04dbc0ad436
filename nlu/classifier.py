"""The intent classifier: a linear SVM over the features, sharpened by nearest neighbours.

score(intent) = w_intent . features + b_intent + neighbour_weight * similarity(intent)

(similarity: to the intent's nearest training examples in the embedding space; dense models
only, so a sparse-only model has score = w . features + b.)

The confidence of the top intent is a calibrated probability (see nlu.calibration) of the
novelty-aware score `top score + novelty_weight * similarity(top intent)`, so text unlike any
training example gets a low confidence even when the SVM's margin looks comfortable. The other
intents in the ranking share the rest in proportion to a temperature-scaled softmax.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from joblib import Parallel, delayed
from scipy.special import softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from nlu.calibration import Platt, fit_temperature
from nlu.config import PipelineConfig
from nlu.neighbours import Neighbours

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]
ABSENT = -1e4  # the score of an intent a fold never saw
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Inputs:
    """Features of some texts: the sparse block and, in a dense model, the embeddings."""

    sparse: sp.csr_matrix
    dense: FloatArray | None = None

    def rows(self, index: npt.NDArray[np.int_]) -> Inputs:
        dense = None if self.dense is None else self.dense[index]
        return Inputs(self.sparse[index], dense)


@dataclass(frozen=True, slots=True)
class Prediction:
    top: IntArray  # index of the top intent per text
    confidence: npt.NDArray[np.float64]  # calibrated confidence of the top intent
    probabilities: npt.NDArray[np.float64]  # per intent; the top one equals `confidence`


@dataclass(frozen=True, slots=True)
class Weights:
    coef: FloatArray  # (n_features, n_classes), transposed for sparse @ dense
    intercept: FloatArray  # (n_classes,)


class IntentClassifier:
    def __init__(
        self,
        classes: tuple[str, ...],
        weights: Weights,
        neighbours: Neighbours | None,
        config: PipelineConfig,
        temperature: float = 1.0,
        platt: Platt | None = None,
    ) -> None:
        self.classes = classes
        self.weights = weights
        self.neighbours = neighbours
        self.config = config
        self.temperature = temperature
        self.platt = platt or Platt()

    # -- training ----------------------------------------------------------------------------

    @classmethod
    def fit(
        cls, inputs: Inputs, labels: list[str], config: PipelineConfig, progress: Progress
    ) -> IntentClassifier:
        classes = tuple(sorted(set(labels)))
        if len(classes) < 2:
            raise ValueError("the training data needs at least two intents")
        index = {name: i for i, name in enumerate(classes)}
        y = np.array([index[label] for label in labels], np.int32)
        features = _design(inputs, config)
        folds = assign_folds(y, config.calibration_folds, config.seed)
        jobs = [np.flatnonzero(folds != f) for f in range(config.calibration_folds)]
        progress(f"fitting {len(jobs)} calibration folds and the final model")
        fitted = Parallel(n_jobs=config.n_jobs)(  # the final model first: it takes longest
            delayed(_fit_svm)(features[rows], y[rows], len(classes), config)
            for rows in [np.arange(len(y)), *jobs]
        )
        progress("calibrating confidences")
        draft = cls(classes, fitted[0], _neighbours(inputs, y, classes, config), config)
        scores = np.zeros((len(y), len(classes)), np.float32)
        similarity = np.zeros_like(scores)
        for fold, weights in enumerate(fitted[1:]):
            held_out = np.flatnonzero(folds == fold)
            if len(held_out) == 0:
                continue
            neighbours = _neighbours(inputs.rows(jobs[fold]), y[jobs[fold]], classes, config)
            part = cls(classes, weights, neighbours, config)
            scores[held_out], similarity[held_out] = part.scores(inputs.rows(held_out))
        draft.calibrate(scores, similarity, y)
        return draft

    def calibrate(self, scores: FloatArray, similarity: FloatArray, y: IntArray) -> None:
        """Fit the temperature and the confidence on out-of-fold scores."""
        self.temperature = fit_temperature(scores, y)
        top = scores.argmax(axis=1)
        self.platt = Platt.fit(self._novelty(scores, top, similarity), top == y)

    # -- prediction --------------------------------------------------------------------------

    def scores(self, inputs: Inputs) -> tuple[FloatArray, FloatArray]:
        """(intent scores, per-intent similarity), each (n_texts, n_classes)."""
        linear = np.asarray(_design(inputs, self.config) @ self.weights.coef, np.float32)
        linear += self.weights.intercept
        if self.neighbours is None or inputs.dense is None:
            return linear, np.zeros_like(linear)
        similarity = self.neighbours.similarity(inputs.dense)
        return linear + self.config.neighbour_weight * similarity, similarity

    def predict(self, inputs: Inputs) -> Prediction:
        scores, similarity = self.scores(inputs)
        top = scores.argmax(axis=1).astype(np.int32)
        confidence = self.platt(self._novelty(scores, top, similarity))
        shares = softmax(scores.astype(np.float64) / self.temperature, axis=1)
        rows = np.arange(len(top))
        rest = np.maximum(1.0 - shares[rows, top], 1e-12)
        probabilities = shares / rest[:, None] * (1.0 - confidence)[:, None]
        probabilities = np.minimum(probabilities, confidence[:, None])
        probabilities[rows, top] = confidence
        return Prediction(top, confidence, probabilities)

    def _novelty(
        self, scores: FloatArray, top: npt.NDArray[np.int_], similarity: FloatArray
    ) -> npt.NDArray[np.float64]:
        """The score the confidence is calibrated on: the top score plus extra similarity."""
        rows = np.arange(len(top))
        extra = self.config.novelty_weight * similarity[rows, top]
        result: npt.NDArray[np.float64] = scores[rows, top].astype(np.float64) + extra
        return result

    # -- persistence -------------------------------------------------------------------------

    def to_state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        state = {
            "classes": list(self.classes),
            "temperature": self.temperature,
            "platt": [self.platt.slope, self.platt.offset],
        }
        arrays = {"coef": self.weights.coef, "intercept": self.weights.intercept}
        if self.neighbours is not None:
            arrays.update(self.neighbours.to_arrays())
        return state, arrays

    @classmethod
    def from_state(
        cls, state: dict[str, Any], arrays: dict[str, npt.NDArray[Any]], config: PipelineConfig
    ) -> IntentClassifier:
        classes = tuple(str(c) for c in state["classes"])
        coef = arrays["coef"].astype(np.float32)
        intercept = arrays["intercept"].astype(np.float32)
        if coef.ndim != 2 or coef.shape[1] != len(classes) or intercept.shape != (len(classes),):
            raise ValueError("classifier weights do not match its intents")
        neighbours = None
        if config.dense:
            neighbours = Neighbours.from_arrays(arrays, len(classes), config.neighbours)
        slope, offset = (float(v) for v in state["platt"])
        return cls(
            classes,
            Weights(coef, intercept),
            neighbours,
            config,
            float(state["temperature"]),
            Platt(slope, offset),
        )


def assign_folds(y: IntArray, k: int, seed: int) -> IntArray:
    """Stratified folds: each intent's examples shuffled and dealt out in turn."""
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(y), np.int32)
    start = 0
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        folds[members] = (np.arange(len(members)) + start) % k
        start += len(members)
    return folds


def _design(inputs: Inputs, config: PipelineConfig) -> sp.csr_matrix:
    if inputs.dense is None:
        return inputs.sparse
    dense = sp.csr_matrix(inputs.dense * np.float32(config.dense_weight))
    return sp.hstack([inputs.sparse, dense], format="csr", dtype=np.float32)


def _neighbours(
    inputs: Inputs, y: IntArray, classes: tuple[str, ...], config: PipelineConfig
) -> Neighbours | None:
    """Neighbours in the embedding space; none in a sparse-only model (there they cost more
    time per parse than they bring: cross-validation on Banking77 showed no gain)."""
    if inputs.dense is None:
        return None
    return Neighbours(inputs.dense, y, len(classes), config.neighbours)


def _fit_svm(
    features: sp.csr_matrix, y: IntArray, n_classes: int, config: PipelineConfig
) -> Weights:
    """One-vs-rest LinearSVC; intents absent from `y` score ABSENT."""
    present = np.unique(y)
    coef = np.zeros((features.shape[1], n_classes), np.float32)
    intercept = np.full(n_classes, ABSENT, np.float32)
    if len(present) == 1:
        intercept[present[0]] = 1.0
        return Weights(coef, intercept)
    svm = LinearSVC(C=config.regularisation, random_state=config.seed, max_iter=5000)
    with warnings.catch_warnings():  # an unconverged solution is still a usable one
        warnings.simplefilter("ignore", ConvergenceWarning)
        svm.fit(features, y)
    w = svm.coef_.astype(np.float32)
    b = svm.intercept_.astype(np.float32)
    if len(present) == 2:  # binary: one hyperplane for the second class
        w, b = np.vstack([-w, w]), np.concatenate([-b, b])
    coef[:, present] = w.T
    intercept[present] = b
    return Weights(coef, intercept)
