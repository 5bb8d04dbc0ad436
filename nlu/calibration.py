"""Turning raw scores into probabilities that mean what they say.

* `fit_temperature`: one temperature for the softmax over intent scores (the ranking), fitted by
  minimising the negative log-likelihood of out-of-fold scores.
* `Platt`: the confidence of the top intent, a logistic function of a novelty-aware score,
  fitted on whether out-of-fold top intents were right. "0.8" then means "right about 80% of
  the time" on data like the training data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, log_softmax

FloatArray = npt.NDArray[np.float64]


def fit_temperature(scores: npt.NDArray[np.floating], truth: npt.NDArray[np.integer]) -> float:
    """The T minimising the NLL of softmax(scores / T); 1.0 when there is nothing to fit."""
    rows = np.isfinite(scores[np.arange(len(truth)), truth]) if len(truth) else np.zeros(0, bool)
    if rows.sum() < 2:
        return 1.0
    s = np.where(np.isfinite(scores[rows]), scores[rows], -1e9).astype(np.float64)
    t = truth[rows]

    def nll(log_t: float) -> float:
        return float(-log_softmax(s / np.exp(log_t), axis=1)[np.arange(len(t)), t].mean())

    found = minimize_scalar(nll, bounds=(np.log(1e-3), np.log(1e2)), method="bounded")
    return float(np.exp(found.x))


@dataclass(frozen=True, slots=True)
class Platt:
    """confidence = sigmoid(slope * score + offset)."""

    slope: float = 1.0
    offset: float = 0.0

    def __call__(self, score: npt.NDArray[np.floating]) -> FloatArray:
        result: FloatArray = expit(self.slope * np.asarray(score, np.float64) + self.offset)
        return result

    @classmethod
    def fit(cls, score: npt.NDArray[np.floating], correct: npt.NDArray[np.bool_]) -> Platt:
        """Maximum likelihood with a light prior (stable when every answer is right)."""
        if len(score) < 2:
            return cls()
        x = np.asarray(score, np.float64)
        # Platt's targets: a little off 0 and 1, as in his paper, so one class cannot diverge
        positives = int(correct.sum())
        negatives = len(correct) - positives
        y = np.where(correct, (positives + 1) / (positives + 2), 1 / (negatives + 2))

        def loss(params: FloatArray) -> tuple[float, FloatArray]:
            slope, offset = params
            p = np.clip(expit(slope * x + offset), 1e-12, 1 - 1e-12)
            value = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + 1e-4 * slope**2
            residual = p - y
            grad = np.array([np.mean(residual * x) + 2e-4 * slope, np.mean(residual)], np.float64)
            return float(value), grad

        found = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        slope, offset = (float(v) for v in found.x)
        return cls(slope, offset)
