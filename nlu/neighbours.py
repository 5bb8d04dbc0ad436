"""Per-intent similarity to the nearest training examples (cosine, mean of the top k).

It sharpens the intent scores and, above all, tells familiar text from text unlike anything in
the training data: a low similarity to every intent is the mark of an out-of-scope message.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
_CHUNK = 256


def unit_rows(matrix: npt.NDArray[np.floating]) -> FloatArray:
    """Rows scaled to unit length (zero rows stay zero)."""
    dense = np.asarray(matrix, np.float32)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    result: FloatArray = (dense / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return result


class Neighbours:
    """Training embeddings grouped by intent, padded into a (n_intents, largest intent) table."""

    def __init__(
        self,
        vectors: npt.NDArray[np.floating],
        labels: npt.NDArray[np.int32],
        n_classes: int,
        k: int,
    ) -> None:
        self.vectors = unit_rows(vectors)
        self.labels = np.asarray(labels, np.int32)
        self.n_classes = n_classes
        self.k = max(1, k)
        self.slots = _slots(self.labels, n_classes)
        self._transposed = np.ascontiguousarray(self.vectors.T)

    def similarity(self, queries: npt.NDArray[np.floating]) -> FloatArray:
        """(n_queries, n_classes): mean cosine to each intent's k nearest training examples."""
        queries = unit_rows(queries)
        out = np.full((queries.shape[0], self.n_classes), -1.0, np.float32)
        for start in range(0, queries.shape[0], _CHUNK):
            out[start : start + _CHUNK] = self._chunk(queries[start : start + _CHUNK])
        return out

    def _chunk(self, queries: FloatArray) -> FloatArray:
        sims = queries @ self._transposed
        padded = np.concatenate([sims, np.full((sims.shape[0], 1), -np.inf, np.float32)], axis=1)
        table = padded[:, self.slots]  # (q, classes, width); padding is -inf
        k = min(self.k, table.shape[2])
        top = -np.partition(-table, k - 1, axis=2)[:, :, :k]
        present = np.isfinite(top)
        counts = present.sum(axis=2)
        sums = np.where(present, top, 0.0).sum(axis=2)
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), -1.0)
        result: FloatArray = mean.astype(np.float32)
        return result

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {"nb_vectors": self.vectors, "nb_labels": self.labels}

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[Any]], n_classes: int, k: int) -> Neighbours:
        vectors = arrays["nb_vectors"].astype(np.float32)
        labels = arrays["nb_labels"].astype(np.int32)
        if vectors.ndim != 2 or vectors.shape[0] != len(labels):
            raise ValueError("the neighbour table does not match its labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError("the neighbour table names unknown intents")
        return cls(vectors, labels, n_classes, k)


def _slots(labels: npt.NDArray[np.int32], n_classes: int) -> npt.NDArray[np.int64]:
    """Row indices per class, padded with len(labels) (the NaN column)."""
    counts = np.bincount(labels, minlength=n_classes)
    width = max(1, int(counts.max()) if len(counts) else 1)
    slots = np.full((n_classes, width), len(labels), np.int64)
    fill = np.zeros(n_classes, np.int64)
    for row, label in enumerate(labels):
        slots[label, fill[label]] = row
        fill[label] += 1
    return slots
