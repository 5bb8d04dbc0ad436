"""`CRFEntityExtractor`: entities learned from annotated examples (BIO tags, roles, groups).

A tag is one label of a single layer that carries the entity, its role and its group together
(Rasa keeps role and group as separate CRF layers; one combined layer is simpler and, on the
small data sets a front desk has, loses little). Entity names that a built-in extractor owns
(time, number, email, phone-number) are not learned: the built-ins resolve them better.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlu.entities.context import ParseContext
from nlu.entities.crf import LinearChainCRF
from nlu.entities.crf_features import Token, token_features, tokenize
from nlu.entities.crf_train import Sequence, TrainingConfig, fit
from nlu.entities.errors import EntityStateError, EntityTrainingError
from nlu.entities.from_data import Patterns
from nlu.entities.names import ExtractorName
from nlu.entities.normalise import english_normaliser
from nlu.types import Entity, Example

_NORMALISER = english_normaliser()  # the shared rewrites only: same at training and parsing
MAX_TOKENS = 1_000  # tokens read per message (longer texts: the rest has no learned entities)


@dataclass(frozen=True, slots=True)
class Tag:
    prefix: str  # "B", "I" (position 0 of the tag list is "O", stored as None)
    entity: str
    role: str | None = None
    group: str | None = None

    def same_entity(self, other: Tag) -> bool:
        return (self.entity, self.role, self.group) == (other.entity, other.role, other.group)

    def to_state(self) -> list[str | None]:
        return [self.prefix, self.entity, self.role, self.group]


class CRFEntityExtractor:
    name = ExtractorName.CRF.value

    def __init__(self, model: LinearChainCRF, tags: list[Tag | None], patterns: Patterns) -> None:
        if len(tags) != model.weights.labels or tags[0] is not None:
            raise EntityStateError("CRF tags do not match the model's labels")
        self._model = model
        self._tags = tags
        self._patterns = patterns

    @classmethod
    def train(
        cls,
        examples: Iterable[Example],
        patterns: Patterns,
        *,
        seed: int,
        skip: frozenset[str] = frozenset(),
        config: TrainingConfig | None = None,
    ) -> CRFEntityExtractor | None:
        """A trained extractor, or None when no example annotates a learnable entity."""
        tagged = [(ex, _tokens_and_tags(ex, skip)) for ex in examples]
        tags: list[Tag | None] = [None]
        tag_ids: dict[Tag, int] = {}
        for _, (_, example_tags) in tagged:
            for tag in example_tags:
                if tag is not None and tag not in tag_ids:
                    tag_ids[tag] = len(tags)
                    tags.append(tag)
        if len(tags) == 1:
            return None
        vocabulary: dict[str, int] = {}
        sequences = []
        for example, (tokens, example_tags) in tagged:
            rows = token_features(_NORMALISER.normalise(example.text), tokens, patterns)
            ids = [[vocabulary.setdefault(f, len(vocabulary)) for f in row] for row in rows]
            labels = [0 if t is None else tag_ids[t] for t in example_tags]
            sequences.append(_sequence(ids, labels))
        weights = fit(sequences, len(vocabulary), len(tags), seed=seed, config=config)
        return cls(LinearChainCRF(list(vocabulary), weights), tags, patterns)

    def extract(self, text: str, context: ParseContext) -> list[Entity]:
        normal = _NORMALISER.normalise(text)
        tokens = tokenize(normal, MAX_TOKENS)
        if not tokens:
            return []
        scores = self._model.emissions(token_features(normal, tokens, self._patterns))
        path = self._model.viterbi(scores)
        if not any(path):
            return []  # all "O": no need for the marginals
        marginals = self._model.marginals(scores)
        confidences = [float(marginals[i, label]) for i, label in enumerate(path)]
        return [
            Entity(
                entity=tag.entity,
                value=text[tokens[first].start : tokens[last].end],
                start=tokens[first].start,
                end=tokens[last].end,
                extractor=self.name,
                confidence_entity=round(min(confidences[first : last + 1]), 6),
                role=tag.role,
                group=tag.group,
            )
            for tag, first, last in _spans([self._tags[label] for label in path])
        ]

    def to_state(self) -> dict[str, Any]:
        return {
            "tags": [None if t is None else t.to_state() for t in self._tags],
            "model": self._model.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], patterns: Patterns) -> CRFEntityExtractor:
        try:
            tags = [None if t is None else Tag(*t) for t in state["tags"]]
            model_state = state["model"]
        except (KeyError, TypeError) as exc:
            raise EntityStateError(f"invalid CRF extractor state: {exc}") from exc
        return cls(LinearChainCRF.from_state(model_state), tags, patterns)


def _sequence(ids: list[list[int]], labels: list[int]) -> Sequence:
    offsets = np.cumsum([0] + [len(row) for row in ids[:-1]]).astype(np.intp)
    flat = np.array([i for row in ids for i in row], dtype=np.intp)
    return Sequence(flat, offsets, np.array(labels, dtype=np.intp))


def _tokens_and_tags(
    example: Example, skip: frozenset[str]
) -> tuple[list[Token], list[Tag | None]]:
    tokens = tokenize(_NORMALISER.normalise(example.text))
    tags: list[Tag | None] = [None] * len(tokens)
    for entity in example.entities:
        if not 0 <= entity.start < entity.end <= len(example.text):
            where = example.source or repr(example.text)
            raise EntityTrainingError(f"{where}: entity {entity.entity!r} lies outside its text")
        if entity.entity in skip:
            continue
        inside = [i for i, t in enumerate(tokens) if t.start < entity.end and t.end > entity.start]
        for position, index in enumerate(inside):
            prefix = "B" if position == 0 else "I"
            tags[index] = Tag(prefix, entity.entity, entity.role, entity.group)
    return tokens, tags


def _spans(tags: list[Tag | None]) -> list[tuple[Tag, int, int]]:
    """(tag, first token, last token) of each entity in a BIO sequence (a stray I- begins one)."""
    spans: list[tuple[Tag, int, int]] = []
    for index, tag in enumerate(tags):
        if tag is None:
            continue
        if (
            tag.prefix == "I"
            and spans
            and spans[-1][2] == index - 1
            and spans[-1][0].same_entity(tag)
        ):
            spans[-1] = (spans[-1][0], spans[-1][1], index)
        else:
            spans.append((Tag("B", tag.entity, tag.role, tag.group), index, index))
    return spans
