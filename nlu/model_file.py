"""The model file: one NumPy .npz archive of plain arrays plus a JSON document, with a checksum.

Loading runs no code from the file: `np.load(..., allow_pickle=False)` refuses object arrays,
the JSON is parsed as data, regexes are compiled as patterns, and every array's name, dtype and
shape is checked. A SHA-256 over the JSON and every array (name, dtype, shape, bytes) is stored
beside them and verified before anything is used, so a truncated, damaged or edited file is
refused with a clear error instead of giving odd answers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nlu.classifier import IntentClassifier
from nlu.config import PipelineConfig
from nlu.entities import EntityError, EntityPipeline
from nlu.errors import DenseFeaturesUnavailable, ModelFileError
from nlu.featurizers import SparseFeaturizer
from nlu.model import ModelInfo, NluModel

FORMAT = "frontdesk-nlu-model"
VERSION = 1
MODEL_FILENAME = "nlu-model.npz"
_META = "__meta__"
_DIGEST = "__sha256__"
_ALLOWED_KINDS = "fiub"  # float, signed/unsigned int, bool: never object arrays


def model_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / MODEL_FILENAME


def save_model(model: NluModel, path: Path) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    meta, arrays = _to_parts(model)
    meta_bytes = json.dumps(meta, sort_keys=True, ensure_ascii=False).encode()
    digest = _digest(meta_bytes, arrays)
    payload = {
        **arrays,
        _META: np.frombuffer(meta_bytes, np.uint8),
        _DIGEST: np.frombuffer(digest.encode(), np.uint8),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".nlu-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez_compressed(file, **payload)  # type: ignore[arg-type]
        Path(temporary).chmod(0o644)  # mkstemp makes it private; a model is no secret
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_model(path: Path) -> NluModel:
    if not path.is_file():
        raise ModelFileError(f"no NLU model at {path}: run `frontdesk nlu train` first")
    try:
        raw = path.read_bytes()
        meta_bytes, arrays = _read_archive(raw)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{path} is not a readable NLU model file: {exc}") from exc
    try:
        meta = json.loads(meta_bytes)
        return _from_parts(meta, arrays)
    except DenseFeaturesUnavailable:
        raise
    except (KeyError, ValueError, TypeError, IndexError, EntityError) as exc:
        raise ModelFileError(f"{path} is damaged or from another version: {exc!r}") from exc


def _read_archive(raw: bytes) -> tuple[bytes, dict[str, npt.NDArray[Any]]]:
    with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
        names = set(archive.files)
        if not {_META, _DIGEST} <= names:
            raise ValueError("it has no metadata or checksum")
        arrays = {name: archive[name] for name in sorted(names - {_META, _DIGEST})}
        meta_bytes = archive[_META].tobytes()
        stored = archive[_DIGEST].tobytes().decode("ascii", "replace")
    for name, array in arrays.items():
        if array.dtype.kind not in _ALLOWED_KINDS:
            raise ValueError(f"array {name!r} has the disallowed dtype {array.dtype}")
    if _digest(meta_bytes, arrays) != stored:
        raise ValueError("the checksum does not match (the file was damaged or edited)")
    return meta_bytes, arrays


def _digest(meta_bytes: bytes, arrays: dict[str, npt.NDArray[Any]]) -> str:
    digest = hashlib.sha256(meta_bytes)
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"\0{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _to_parts(model: NluModel) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    featurizer_state, featurizer_arrays = model.featurizer.to_state()
    classifier_state, classifier_arrays = model.classifier.to_state()
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "pipeline": dataclasses.asdict(model.pipeline),
        "info": dataclasses.asdict(model.info),
        "featurizer": featurizer_state,
        "classifier": classifier_state,
        "entities": model.entities.to_state(),
    }
    return meta, {**featurizer_arrays, **classifier_arrays}


def _from_parts(meta: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> NluModel:
    if meta.get("format") != FORMAT:
        raise ValueError("not a Frontdesk NLU model")
    if meta.get("version") != VERSION:
        raise ValueError(f"model format version {meta.get('version')}, expected {VERSION}")
    pipeline = _pipeline(meta["pipeline"])
    featurizer = SparseFeaturizer.from_state(
        meta["featurizer"], arrays, pipeline.word_ngrams, pipeline.char_ngrams
    )
    classifier = IntentClassifier.from_state(meta["classifier"], arrays, pipeline)
    info = ModelInfo(**meta["info"])
    entities = EntityPipeline.from_state(meta["entities"])
    model = NluModel(pipeline, featurizer, classifier, entities, info)
    dense = model.encoder.dimension if model.encoder is not None else 0
    if classifier.weights.coef.shape[0] != featurizer.n_features + dense:
        raise ValueError("the classifier's weights do not match its features")
    return model


def _pipeline(data: dict[str, Any]) -> PipelineConfig:
    fields = {f.name for f in dataclasses.fields(PipelineConfig)}
    values: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in fields
    }
    return PipelineConfig(**values)
