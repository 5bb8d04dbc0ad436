"""The NLU's own settings, as plain dataclasses (the application fills them from config.yml)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """How a model is trained. Changing any of these needs `frontdesk nlu train` again.

    The defaults were chosen by 5-fold cross-validation on Banking77's *train* split.
    """

    dense: bool = False  # add MiniLM sentence embeddings (needs the optional packages)
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    regularisation: float = 0.5  # LinearSVC's C
    dense_weight: float = 2.0  # scale of the embedding block beside the sparse blocks
    neighbours: int = 3  # nearest training examples per intent
    neighbour_weight: float = 2.0  # weight of the per-intent similarity in an intent's score
    novelty_weight: float = 2.0  # extra weight of that similarity in the confidence
    calibration_folds: int = 2  # out-of-fold predictions for the confidence calibration
    seed: int = 0
    n_jobs: int = 1  # parallel fits (processes) during calibration


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """How a trained model answers; may change without retraining."""

    fallback_threshold: float = 0.4  # below this confidence the intent is nlu_fallback
    max_text_chars: int = 2000  # longer messages are cut to this many characters
    timezone: str = "UTC"  # for relative dates when a parse names no time zone
    language: str = "en"
