"""NLU benchmark: Banking77 and CLINC150, sparse-only and sparse + dense, beside published anchors.

    .venv/bin/python bench/nlu.py [--datasets ../shared/datasets] [--only banking77|clinc150]
                                  [--no-dense] [--json results.json]

Training uses the train splits only; CLINC150's threshold is chosen on val + oos_val; the figures
are measured on the test splits. Dense rows need the optional packages (docs/nlu.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlu.config import PipelineConfig
from nlu.datasets import load_clinc, load_csv
from nlu.evaluation import EvaluationReport, evaluate

DEFAULT_DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
ANCHORS = [  # (dataset, system, accuracy, in-scope accuracy, out-of-scope recall), in %
    ("banking77", "BERT fine-tuned (Casanueva et al. 2020)", 93.66, None, None),
    ("banking77", "USE+ConveRT (Casanueva et al. 2020)", 93.36, None, None),
    ("clinc150", "BERT + threshold (Larson et al. 2019)", None, 96.2, 52.3),
    ("clinc150", "best out-of-scope recall in the paper", None, None, 66.0),
]
TARGETS = "targets: Banking77 >= 94.0; CLINC150 in-scope >= 95.5 with oos recall >= 70"


def run_banking77(root: Path, config: PipelineConfig) -> EvaluationReport:
    train = load_csv(root / "banking77" / "train.csv")
    test = load_csv(root / "banking77" / "test.csv")
    return evaluate(train, test.examples, config, threshold=0.0)  # no out-of-scope class


def run_clinc150(root: Path, config: PipelineConfig) -> EvaluationReport:
    splits = load_clinc(root / "clinc150" / "data_full.json")
    return evaluate(splits.train, splits.test, config, threshold=0.0, validation=splits.validation)


def percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--only", choices=["banking77", "clinc150"])
    parser.add_argument("--no-dense", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()
    base = PipelineConfig(n_jobs=2)
    variants = [("sparse", base)]
    if not args.no_dense:
        variants.append(("sparse+dense", replace(base, dense=True)))
    runs = {"banking77": run_banking77, "clinc150": run_clinc150}
    rows: list[dict[str, Any]] = []
    for name, run in runs.items():
        if args.only and args.only != name:
            continue
        for label, config in variants:
            print(f"running {name} ({label}) ...", file=sys.stderr, flush=True)
            report = run(args.datasets, config)
            rows.append({"dataset": name, "system": f"Frontdesk {label}", **report.to_json()})
    header = (
        f"{'dataset':<10} {'system':<40} {'acc':>6} {'in-sc':>6} {'oos-r':>6} {'F1':>6} "
        f"{'ECE':>5} {'thr':>5} {'train s':>7} {'p50 ms':>7} {'p99 ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['dataset']:<10} {row['system']:<40} {percent(row['accuracy']):>6} "
            f"{percent(row['in_scope_accuracy']):>6} {percent(row['oos_recall']):>6} "
            f"{percent(row['macro_f1']):>6} {row['expected_calibration_error']:>5.3f} "
            f"{row['threshold']:>5.3f} {row['train_seconds']:>7.1f} "
            f"{row['parse_p50_ms']:>7.2f} {row['parse_p99_ms']:>7.2f}"
        )
    for dataset, system, acc, in_scope, oos in ANCHORS:
        if args.only and args.only != dataset:
            continue
        cells = [f"{v:.2f}" if v is not None else "" for v in (acc, in_scope, oos)]
        print(f"{dataset:<10} {system:<40} {cells[0]:>6} {cells[1]:>6} {cells[2]:>6}")
    print(TARGETS)
    if args.json:
        for row in rows:
            row.pop("per_intent", None)
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
