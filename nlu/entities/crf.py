"""A linear-chain CRF in numpy whose weights are plain JSON: decoding and marginals.

Why not python-crfsuite: its model is a binary file, which the JSON model state could only hold
as an opaque base64 blob, and it adds a compiled dependency; the model here is small (one weight
row per feature string, a label-to-label transition matrix, start and end weights), trains with
AdaGrad on the exact log-likelihood (crf_train.py) and decodes with Viterbi. Confidence is the
marginal probability of the decoded label (forward-backward).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from nlu.entities.errors import EntityStateError

Matrix = npt.NDArray[np.float64]
_TINY = 1e-300


@dataclass(frozen=True, slots=True)
class CrfWeights:
    emission: Matrix  # features x labels
    transition: Matrix  # labels x labels (from, to)
    start: Matrix  # labels
    end: Matrix  # labels

    @property
    def labels(self) -> int:
        return int(self.transition.shape[0])


class LinearChainCRF:
    """Feature strings -> label sequence (Viterbi) and per-token label marginals."""

    def __init__(self, features: list[str], weights: CrfWeights) -> None:
        if weights.emission.shape != (len(features), weights.labels):
            raise EntityStateError("CRF emission weights do not match its features and labels")
        self.features = list(features)
        self.weights = weights
        self._index = {feature: i for i, feature in enumerate(self.features)}
        self._exp_transition = np.exp(weights.transition - weights.transition.max())
        # the emission rows plus a row of zeros that every token gets (so none has no row)
        self._rows = np.vstack([weights.emission, np.zeros((1, weights.labels))])

    def emissions(self, rows: list[list[str]]) -> Matrix:
        """Each token's label scores: the sum of its known features' weight rows."""
        zero, lookup = len(self.features), self._index.get
        ids: list[int] = []
        offsets: list[int] = []
        for row in rows:
            offsets.append(len(ids))
            ids.append(zero)
            ids.extend(i for i in map(lookup, row) if i is not None)
        if not rows:
            return np.zeros((0, self.weights.labels))
        scores: Matrix = np.add.reduceat(self._rows[ids], offsets, axis=0)
        return scores

    def viterbi(self, scores: Matrix) -> list[int]:
        weights = self.weights
        best = weights.start + scores[0]
        back: list[npt.NDArray[np.intp]] = []
        for position in range(1, len(scores)):
            candidates = best[:, None] + weights.transition
            back.append(candidates.argmax(axis=0))
            best = candidates.max(axis=0) + scores[position]
        path = [int((best + weights.end).argmax())]
        for pointers in reversed(back):
            path.append(int(pointers[path[-1]]))
        return path[::-1]

    def marginals(self, scores: Matrix) -> Matrix:
        """P(label at each position | text), by scaled forward-backward."""
        weights = self.weights
        potentials = np.exp(scores - scores.max(axis=1, keepdims=True))
        size = len(scores)
        alpha = np.empty_like(potentials)
        beta = np.empty_like(potentials)
        alpha[0] = _normalised(np.exp(weights.start - weights.start.max()) * potentials[0])
        for t in range(1, size):
            alpha[t] = _normalised((alpha[t - 1] @ self._exp_transition) * potentials[t])
        beta[size - 1] = _normalised(np.exp(weights.end - weights.end.max()))
        for t in range(size - 2, -1, -1):
            beta[t] = _normalised(self._exp_transition @ (potentials[t + 1] * beta[t + 1]))
        joint = alpha * beta
        totals: Matrix = np.maximum(joint.sum(axis=1, keepdims=True), _TINY)
        result: Matrix = joint / totals
        return result

    def to_state(self) -> dict[str, Any]:
        weights = self.weights
        return {
            "features": list(self.features),
            "emission": weights.emission.tolist(),
            "transition": weights.transition.tolist(),
            "start": weights.start.tolist(),
            "end": weights.end.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LinearChainCRF:
        try:
            features = [str(f) for f in state["features"]]
            labels = len(state["start"])
            emission = np.array(state["emission"], dtype=np.float64).reshape(len(features), labels)
            weights = CrfWeights(
                emission=emission,
                transition=np.array(state["transition"], dtype=np.float64).reshape(labels, labels),
                start=np.array(state["start"], dtype=np.float64).reshape(labels),
                end=np.array(state["end"], dtype=np.float64).reshape(labels),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EntityStateError(f"invalid CRF state: {exc}") from exc
        if not all(np.isfinite(m).all() for m in (emission, weights.transition)):
            raise EntityStateError("CRF weights must be finite numbers")
        return cls(features, weights)


def _normalised(vector: Matrix) -> Matrix:
    total = float(vector.sum())
    if not total > _TINY:
        return np.full_like(vector, 1.0 / len(vector))
    result: Matrix = vector / total
    return result
