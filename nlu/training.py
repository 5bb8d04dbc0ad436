"""Training: Rasa training data in, an `NluModel` out (deterministic for a given seed)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Protocol

from nlu.classifier import Inputs, IntentClassifier
from nlu.config import PipelineConfig
from nlu.dense import default_encoder, load_encoder
from nlu.entities import EntityPipeline
from nlu.errors import TrainingDataError
from nlu.featurizers import SparseFeaturizer
from nlu.model import ModelInfo, NluModel, clean_text
from nlu.types import TrainingData

MAX_TRAINING_TEXT = 2000


class TrainingProgress(Protocol):
    def stage(self, name: str, total: int | None = None) -> None:
        """A new stage starts; `total` steps will follow when known."""

    def advance(self, count: int = 1) -> None:
        """`count` steps of the current stage are done."""


class SilentProgress:
    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


def train_model(
    data: TrainingData, config: PipelineConfig, progress: TrainingProgress | None = None
) -> NluModel:
    """Fit featurizers, intent classifier and entity extractors on `data`."""
    progress = progress or SilentProgress()
    texts = [clean_text(e.text, MAX_TRAINING_TEXT) for e in data.examples]
    labels = [e.intent for e in data.examples]
    if len(set(labels)) < 2:
        raise TrainingDataError("training data", None, "needs examples of at least two intents")
    progress.stage("sparse features", len(texts))
    featurizer = SparseFeaturizer.fit(texts, data, config.word_ngrams, config.char_ngrams)
    sparse = featurizer.transform(texts)
    progress.advance(len(texts))
    encoder = None
    dense = None
    if config.dense:
        encoder = load_encoder(default_encoder())
        progress.stage(f"sentence embeddings ({encoder.name})", len(texts))
        dense = encoder.encode(texts, progress=progress.advance)
    classifier = IntentClassifier.fit(
        Inputs(sparse, dense), labels, config, lambda name: progress.stage(name)
    )
    progress.stage("entity extractors")
    entities = EntityPipeline.train(data, seed=config.seed)
    info = ModelInfo(
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        n_examples=len(texts),
        data_fingerprint=fingerprint(data),
        extra={"encoder": encoder.name if encoder else None},
    )
    return NluModel(config, featurizer, classifier, entities, info, encoder)


def fingerprint(data: TrainingData) -> str:
    """SHA-256 of the training data's content (not of where it came from)."""
    digest = hashlib.sha256()
    for example in data.examples:
        entities = [
            (e.entity, str(e.value), e.start, e.end, e.role, e.group) for e in example.entities
        ]
        digest.update(json.dumps([example.text, example.intent, entities]).encode())
    for part in (data.synonyms, data.regexes, data.lookups):
        digest.update(json.dumps(part, sort_keys=True, default=list).encode())
    return digest.hexdigest()
