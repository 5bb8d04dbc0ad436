"""Training the linear-chain CRF: exact log-likelihood, batched forward-backward, AdaGrad.

Deterministic for a seed: weights start at zero and the seed only orders the mini-batches.
Training stops after `epochs` passes or when the mean loss stops improving by `tolerance`.
Weights are rounded to 6 decimals at the end so the JSON state is the model exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nlu.entities.crf import CrfWeights, Matrix

Ints = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class Sequence:
    """One sentence: its tokens' feature ids (concatenated), where each token's ids start, tags."""

    ids: Ints
    offsets: Ints
    tags: Ints

    @property
    def size(self) -> int:
        return len(self.tags)


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    epochs: int = 60
    learning_rate: float = 0.3
    l2: float = 0.01
    batch_size: int = 16
    tolerance: float = 1e-3  # an epoch that improves the best mean loss by less is stale
    patience: int = 5  # stale epochs in a row before training stops


@dataclass(slots=True)
class _Adagrad:
    weights: CrfWeights
    squares: list[Matrix]

    @classmethod
    def zeros(cls, features: int, labels: int) -> _Adagrad:
        weights = CrfWeights(
            emission=np.zeros((features, labels)),
            transition=np.zeros((labels, labels)),
            start=np.zeros(labels),
            end=np.zeros(labels),
        )
        squares = [np.zeros_like(m) for m in (weights.transition, weights.start, weights.end)]
        return cls(weights, [np.zeros_like(weights.emission), *squares])


def _logsumexp(values: Matrix, axis: int) -> Matrix:
    peak = values.max(axis=axis, keepdims=True)
    summed: Matrix = np.log(np.exp(values - peak).sum(axis=axis, keepdims=True)) + peak
    return np.squeeze(summed, axis=axis)


def fit(
    sequences: list[Sequence],
    features: int,
    labels: int,
    *,
    seed: int,
    config: TrainingConfig | None = None,
) -> CrfWeights:
    config = config or TrainingConfig()
    state = _Adagrad.zeros(features, labels)
    usable = [s for s in sequences if s.size > 0]
    rng = np.random.default_rng(seed)
    best, stale = float("inf"), 0
    for _ in range(config.epochs):
        order = rng.permutation(len(usable))
        loss = 0.0
        for begin in range(0, len(order), config.batch_size):
            batch = [usable[i] for i in order[begin : begin + config.batch_size]]
            loss += _step(state, batch, config, len(usable))
        mean = loss / max(1, len(usable))
        stale = stale + 1 if best - mean < config.tolerance * max(1.0, mean) else 0
        best = min(best, mean)
        if stale >= config.patience:
            break
    weights = state.weights
    return CrfWeights(
        *(
            np.round(m, 6)
            for m in (weights.emission, weights.transition, weights.start, weights.end)
        )
    )


def _emissions(
    weights: CrfWeights, batch: list[Sequence]
) -> tuple[Matrix, npt.NDArray[np.bool_], Ints]:
    longest = max(s.size for s in batch)
    scores = np.zeros((len(batch), longest, weights.labels))
    mask = np.zeros((len(batch), longest), dtype=bool)
    gold = np.zeros((len(batch), longest), dtype=np.intp)
    for b, sequence in enumerate(batch):
        scores[b, : sequence.size] = np.add.reduceat(
            weights.emission[sequence.ids], sequence.offsets, axis=0
        )
        mask[b, : sequence.size] = True
        gold[b, : sequence.size] = sequence.tags
    return scores, mask, gold


def _forward_backward(
    weights: CrfWeights, scores: Matrix, mask: npt.NDArray[np.bool_]
) -> tuple[Matrix, Matrix, Matrix]:
    longest = scores.shape[1]
    alpha = np.empty_like(scores)
    beta = np.empty_like(scores)
    alpha[:, 0] = weights.start + scores[:, 0]
    for t in range(1, longest):
        step = _logsumexp(alpha[:, t - 1, :, None] + weights.transition, axis=1) + scores[:, t]
        alpha[:, t] = np.where(mask[:, t, None], step, alpha[:, t - 1])
    log_z = _logsumexp(alpha[:, longest - 1] + weights.end, axis=1)
    beta[:, longest - 1] = weights.end
    for t in range(longest - 2, -1, -1):
        ahead = (scores[:, t + 1] + beta[:, t + 1])[:, None, :]
        step = _logsumexp(weights.transition + ahead, axis=2)
        beta[:, t] = np.where(mask[:, t + 1, None], step, weights.end)
    return alpha, beta, log_z


def _step(state: _Adagrad, batch: list[Sequence], config: TrainingConfig, total: int) -> float:
    """One AdaGrad step on a mini-batch; returns the batch's negative log-likelihood."""
    weights = state.weights
    scores, mask, gold = _emissions(weights, batch)
    alpha, beta, log_z = _forward_backward(weights, scores, mask)
    marginals = np.exp(alpha + beta - log_z[:, None, None]) * mask[..., None]
    onehot = np.zeros_like(scores)
    np.put_along_axis(onehot, gold[..., None], 1.0, axis=2)
    onehot *= mask[..., None]
    rows = np.arange(len(batch))
    last = mask.sum(axis=1) - 1
    transition_grad, gold_transitions = _transition_terms(
        weights, scores, mask, gold, alpha, beta, log_z
    )
    gold_score = (
        (scores * onehot).sum(axis=(1, 2))
        + weights.start[gold[:, 0]]
        + weights.end[gold[rows, last]]
        + gold_transitions
    )
    labels = weights.labels
    start_grad = marginals[:, 0].sum(axis=0) - np.bincount(gold[:, 0], minlength=labels)
    end_grad = marginals[rows, last].sum(axis=0) - np.bincount(gold[rows, last], minlength=labels)
    _update_emission(state, batch, marginals - onehot, config, len(batch) / total)
    penalty = config.l2 * len(batch) / total
    dense = [
        (weights.transition, transition_grad),
        (weights.start, start_grad),
        (weights.end, end_grad),
    ]
    for (matrix, grad), squares in zip(dense, state.squares[1:], strict=True):
        _adagrad(matrix, grad + penalty * matrix, squares, config.learning_rate)
    return float((log_z - gold_score).sum())


def _transition_terms(
    weights: CrfWeights,
    scores: Matrix,
    mask: npt.NDArray[np.bool_],
    gold: Ints,
    alpha: Matrix,
    beta: Matrix,
    log_z: Matrix,
) -> tuple[Matrix, Matrix]:
    """The transition gradient (expected - gold counts) and each sequence's gold transitions."""
    gradient = np.zeros_like(weights.transition)
    gold_score = np.zeros(len(scores))
    for t in range(1, scores.shape[1]):
        live = mask[:, t]
        ahead = (scores[:, t] + beta[:, t])[:, None, :]
        pair = alpha[:, t - 1, :, None] + weights.transition + ahead
        gradient += (np.exp(pair - log_z[:, None, None]) * live[:, None, None]).sum(axis=0)
        np.add.at(gradient, (gold[live, t - 1], gold[live, t]), -1.0)
        gold_score += np.where(live, weights.transition[gold[:, t - 1], gold[:, t]], 0.0)
    return gradient, gold_score


def _update_emission(
    state: _Adagrad, batch: list[Sequence], diff: Matrix, config: TrainingConfig, share: float
) -> None:
    ids = np.concatenate([s.ids for s in batch])
    rows = np.concatenate(
        [
            np.repeat(diff[b, : s.size], np.diff(np.append(s.offsets, len(s.ids))), axis=0)
            for b, s in enumerate(batch)
        ]
    )
    touched, inverse = np.unique(ids, return_inverse=True)
    labels = state.weights.labels
    grad = np.stack(
        [np.bincount(inverse, weights=rows[:, j], minlength=len(touched)) for j in range(labels)],
        axis=1,
    )
    emission = state.weights.emission
    grad += config.l2 * share * emission[touched]
    squares = state.squares[0]
    squares[touched] += grad**2
    emission[touched] -= config.learning_rate * grad / (np.sqrt(squares[touched]) + 1e-8)


def _adagrad(matrix: Matrix, grad: Matrix, squares: Matrix, rate: float) -> None:
    squares += grad**2
    matrix -= rate * grad / (np.sqrt(squares) + 1e-8)
