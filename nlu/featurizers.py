"""Sparse features: TF-IDF of word n-grams and of character n-grams, plus regex and lookup flags.

Tokenising reuses scikit-learn's analyzers; the vocabulary and the IDF weights are ours, so a
model stores them as plain lists and arrays and one message is featurized without scikit-learn's
per-call overhead.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from nlu.types import TrainingData

Analyzer = Callable[[str], list[str]]
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]
SparseVector = tuple[IntArray, FloatArray]


def word_analyzer(ngrams: tuple[int, int]) -> Analyzer:
    analyzer: Analyzer = TfidfVectorizer(ngram_range=ngrams).build_analyzer()
    return analyzer


def char_analyzer(ngrams: tuple[int, int]) -> Analyzer:
    analyzer: Analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=ngrams).build_analyzer()
    return analyzer


@dataclass(frozen=True, slots=True)
class TermBlock:
    """One TF-IDF block: sublinear term frequency times smoothed IDF, L2-normalised."""

    terms: tuple[str, ...]
    idf: FloatArray
    analyzer: Analyzer
    index: dict[str, int]

    @classmethod
    def fit(cls, analyzer: Analyzer, texts: Iterable[str]) -> TermBlock:
        document_frequency: Counter[str] = Counter()
        count = 0
        for text in texts:
            document_frequency.update(set(analyzer(text)))
            count += 1
        terms = tuple(sorted(document_frequency))
        df = np.array([document_frequency[t] for t in terms], dtype=np.float64)
        idf = (np.log((1 + count) / (1 + df)) + 1).astype(np.float32)
        return cls.restore(analyzer, terms, idf)

    @classmethod
    def restore(cls, analyzer: Analyzer, terms: Sequence[str], idf: FloatArray) -> TermBlock:
        if len(terms) != len(idf):
            raise ValueError(f"{len(terms)} terms but {len(idf)} IDF weights")
        index = {term: i for i, term in enumerate(terms)}
        return cls(tuple(terms), idf.astype(np.float32), analyzer, index)

    def vector(self, text: str) -> SparseVector:
        counts = Counter(t for t in self.analyzer(text) if t in self.index)
        if not counts:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        indices = np.fromiter((self.index[t] for t in counts), np.int32, len(counts))
        tf = np.fromiter((1 + math.log(c) for c in counts.values()), np.float32, len(counts))
        values = tf * self.idf[indices]
        values /= np.linalg.norm(values)
        order = np.argsort(indices)
        return indices[order], values[order]


@dataclass(frozen=True, slots=True)
class Flag:
    """A binary feature: a regex of the training data, or a lookup table, matches the text."""

    kind: str  # "regex" or "lookup"
    name: str
    pattern: re.Pattern[str]


def flags_from(data: TrainingData) -> tuple[Flag, ...]:
    flags = [
        Flag("regex", name, re.compile("|".join(f"(?:{p})" for p in patterns)))
        for name, patterns in sorted(data.regexes.items())
    ]
    for name, elements in sorted(data.lookups.items()):
        flags.append(Flag("lookup", name, lookup_pattern(elements)))
    return tuple(flags)


def lookup_pattern(elements: Iterable[str]) -> re.Pattern[str]:
    """Whole words, case-insensitively; longer elements first."""
    alternatives = sorted({re.escape(e.strip()) for e in elements if e.strip()}, key=len)
    body = "|".join(reversed(alternatives)) or r"(?!x)x"
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


class SparseFeaturizer:
    """[word TF-IDF | char TF-IDF | flags]; each TF-IDF block has unit length."""

    def __init__(self, word: TermBlock, char: TermBlock, flags: Sequence[Flag]) -> None:
        self.word = word
        self.char = char
        self.flags = tuple(flags)
        self.offsets = (0, len(word.terms), len(word.terms) + len(char.terms))
        self.n_features = self.offsets[2] + len(self.flags)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        data: TrainingData,
        word_ngrams: tuple[int, int],
        char_ngrams: tuple[int, int],
    ) -> SparseFeaturizer:
        word = TermBlock.fit(word_analyzer(word_ngrams), texts)
        char = TermBlock.fit(char_analyzer(char_ngrams), texts)
        return cls(word, char, flags_from(data))

    def vector(self, text: str) -> SparseVector:
        word_idx, word_val = self.word.vector(text)
        char_idx, char_val = self.char.vector(text)
        flag_idx = [i for i, flag in enumerate(self.flags) if flag.pattern.search(text)]
        indices = np.concatenate(
            [
                word_idx,
                char_idx + self.offsets[1],
                np.asarray(flag_idx, np.int32) + self.offsets[2],
            ]
        ).astype(np.int32)
        values = np.concatenate([word_val, char_val, np.ones(len(flag_idx), np.float32)])
        return indices, values.astype(np.float32)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        vectors = [self.vector(text) for text in texts]
        indptr = np.zeros(len(vectors) + 1, np.int64)
        indptr[1:] = np.cumsum([len(i) for i, _ in vectors])
        indices = np.concatenate([i for i, _ in vectors]) if vectors else np.zeros(0, np.int32)
        values = np.concatenate([v for _, v in vectors]) if vectors else np.zeros(0, np.float32)
        shape = (len(vectors), self.n_features)
        return sp.csr_matrix((values, indices, indptr), shape=shape)

    # -- persistence: JSON-able state plus arrays ----------------------------------------------

    def to_state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        state = {
            "word_terms": list(self.word.terms),
            "char_terms": list(self.char.terms),
            "flags": [[f.kind, f.name, f.pattern.pattern] for f in self.flags],
        }
        return state, {"word_idf": self.word.idf, "char_idf": self.char.idf}

    @classmethod
    def from_state(
        cls,
        state: dict[str, Any],
        arrays: dict[str, npt.NDArray[Any]],
        word_ngrams: tuple[int, int],
        char_ngrams: tuple[int, int],
    ) -> SparseFeaturizer:
        word = TermBlock.restore(
            word_analyzer(word_ngrams), state["word_terms"], arrays["word_idf"]
        )
        char = TermBlock.restore(
            char_analyzer(char_ngrams), state["char_terms"], arrays["char_idf"]
        )
        flags = []
        for kind, name, pattern in state["flags"]:
            flags.append(Flag(str(kind), str(name), re.compile(pattern, _flag_options(kind))))
        return cls(word, char, flags)


def _flag_options(kind: str) -> int:
    return re.IGNORECASE if kind == "lookup" else 0
