"""A trained NLU model: featurizers, intent classifier and entity pipeline, answering parses."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nlu.classifier import Inputs, IntentClassifier
from nlu.config import PipelineConfig, RuntimeConfig
from nlu.dense import SentenceEncoder, load_encoder
from nlu.entities import EntityPipeline, ParseContext
from nlu.featurizers import SparseFeaturizer
from nlu.shortcut import parse_shortcut
from nlu.types import FALLBACK_INTENT, IntentScore, ParseResult

RANKING_SIZE = 10


def clean_text(text: str, max_chars: int) -> str:
    """Cut to `max_chars`; control characters become spaces, lone surrogates U+FFFD.

    Each replacement is one character for one, so offsets still index the text as sent.
    """
    text = text[:max_chars]
    if text.isprintable():
        return text
    return "".join(_clean_char(c) for c in text)


def _clean_char(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cc":
        return " "
    if category == "Cs":
        return "\ufffd"
    return char


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a model was trained on and how (kept in the model file)."""

    trained_at: str
    n_examples: int
    data_fingerprint: str
    extra: dict[str, Any] = field(default_factory=dict)


class NluModel:
    def __init__(
        self,
        pipeline: PipelineConfig,
        featurizer: SparseFeaturizer,
        classifier: IntentClassifier,
        entities: EntityPipeline,
        info: ModelInfo,
        encoder: SentenceEncoder | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.featurizer = featurizer
        self.classifier = classifier
        self.entities = entities
        self.info = info
        self.encoder = encoder
        if pipeline.dense and encoder is None:
            self.encoder = load_encoder(_encoder_name(info))

    @property
    def intents(self) -> tuple[str, ...]:
        return self.classifier.classes

    def serving(self) -> AbstractContextManager[None]:
        """Open while parsing messages one by one (see SentenceEncoder.serving)."""
        return nullcontext() if self.encoder is None else self.encoder.serving()

    def inputs(self, texts: Sequence[str]) -> Inputs:
        dense = None if self.encoder is None else self.encoder.encode(texts)
        return Inputs(self.featurizer.transform(texts), dense)

    def parse(self, text: str, context: ParseContext, runtime: RuntimeConfig) -> ParseResult:
        """The meaning of one message (blocking: call it from an executor)."""
        text = clean_text(text, runtime.max_text_chars)
        shortcut = parse_shortcut(text)
        if shortcut is not None:
            return shortcut
        if not text.strip():
            return ParseResult(text=text, intent=IntentScore(FALLBACK_INTENT, 0.0))
        prediction = self.classifier.predict(self.inputs([text]))
        top = int(prediction.top[0])
        ranked = np.argsort(-prediction.probabilities[0], kind="stable")[:RANKING_SIZE]
        order = [top, *(int(i) for i in ranked if i != top)][:RANKING_SIZE]
        ranking = tuple(
            IntentScore(self.intents[i], float(prediction.probabilities[0, i])) for i in order
        )
        entities = tuple(self.entities.extract(text, context))
        return with_fallback(
            ParseResult(text, ranking[0], entities, ranking), runtime.fallback_threshold
        )

    def classify(self, texts: Sequence[str], threshold: float) -> list[IntentScore]:
        """Top intents of many texts at once (no entities, no shortcuts): for evaluation."""
        prediction = self.classifier.predict(self.inputs(texts))
        answers = []
        for top, confidence in zip(prediction.top, prediction.confidence, strict=True):
            if confidence < threshold:
                answers.append(IntentScore(FALLBACK_INTENT, float(confidence)))
            else:
                answers.append(IntentScore(self.intents[int(top)], float(confidence)))
        return answers


def with_fallback(result: ParseResult, threshold: float) -> ParseResult:
    """Rasa's FallbackClassifier: below the threshold the intent is nlu_fallback, ranked first,
    with the threshold as its confidence."""
    if result.intent.confidence >= threshold:
        return result
    fallback = IntentScore(FALLBACK_INTENT, threshold)
    ranking = (fallback, *result.intent_ranking)[:RANKING_SIZE]
    return ParseResult(result.text, fallback, result.entities, ranking)


def _encoder_name(info: ModelInfo) -> str:
    return str(info.extra.get("encoder", ""))
