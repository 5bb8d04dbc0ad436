"""Evaluation data in other shapes: `text,category` CSV (Banking77) and CLINC150's JSON.

CLINC150's out-of-scope label "oos" becomes our OUT_OF_SCOPE_INTENT.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from nlu.errors import TrainingDataError
from nlu.types import OUT_OF_SCOPE_INTENT, Example, TrainingData

CLINC_OOS = "oos"


def load_csv(path: Path) -> TrainingData:
    """A CSV file with a header and the columns text, category."""
    examples = []
    try:
        with path.open(encoding="utf-8", newline="") as file:
            reader = csv.DictReader(file)
            if reader.fieldnames is None or not {"text", "category"} <= set(reader.fieldnames):
                raise TrainingDataError(str(path), 1, "expected the header text,category")
            for row in reader:
                text, category = row.get("text"), row.get("category")
                if not text or not category:
                    reason = "a row needs both text and category"
                    raise TrainingDataError(str(path), reader.line_num, reason)
                examples.append(Example(text, category, source=f"{path}:{reader.line_num}"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TrainingDataError(str(path), None, f"cannot be read: {exc}") from exc
    return TrainingData(tuple(examples))


@dataclass(frozen=True, slots=True)
class ClincSplits:
    train: TrainingData  # train + oos_train
    validation: tuple[Example, ...]  # val + oos_val: only for choosing the threshold
    test: tuple[Example, ...]  # test + oos_test: only for the reported figures


def load_clinc(path: Path) -> ClincSplits:
    """CLINC150's data_full.json: keys train/val/test and oos_train/oos_val/oos_test."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TrainingDataError(str(path), None, f"cannot be read as JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise TrainingDataError(str(path), None, "expected CLINC150's data_full.json object")

    def split(name: str) -> tuple[Example, ...]:
        rows = data.get(name)
        if not isinstance(rows, list):
            raise TrainingDataError(str(path), None, f"no {name!r} list")
        examples = []
        for i, row in enumerate(rows):
            if not (
                isinstance(row, list) and len(row) == 2 and all(isinstance(v, str) for v in row)
            ):
                raise TrainingDataError(str(path), None, f"{name}[{i}] is not [text, intent]")
            intent = OUT_OF_SCOPE_INTENT if row[1] == CLINC_OOS else row[1]
            examples.append(Example(row[0], intent, source=f"{path}:{name}[{i}]"))
        return tuple(examples)

    return ClincSplits(
        train=TrainingData(split("train") + split("oos_train")),
        validation=split("val") + split("oos_val"),
        test=split("test") + split("oos_test"),
    )
