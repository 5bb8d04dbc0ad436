"""`frontdesk nlu train` and `frontdesk nlu evaluate`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.config import Settings
from bot.nlu_backend import pipeline_config, trained_model_path
from nlu.config import PipelineConfig
from nlu.datasets import load_clinc, load_csv
from nlu.errors import NluError
from nlu.evaluation import EvaluationReport, cross_validate, evaluate
from nlu.model_file import save_model
from nlu.training import train_model
from nlu.training_data import load_training_data
from nlu.types import TrainingData


class BarProgress:
    """Training progress on stderr: a line per stage, a bar where the steps are known."""

    def __init__(self) -> None:
        self._bar: tqdm[Any] | None = None
        self._started = time.perf_counter()

    def stage(self, name: str, total: int | None = None) -> None:
        self.close()
        elapsed = time.perf_counter() - self._started
        print(f"[{elapsed:6.1f}s] {name}", file=sys.stderr, flush=True)
        if total:
            self._bar = tqdm(total=total, file=sys.stderr, disable=None, leave=False)

    def advance(self, count: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


async def nlu_train(settings: Settings, args: argparse.Namespace) -> int:
    config = _config(settings, args)
    paths = args.data or list(settings.nlu.training_data)
    out = Path(args.out) if args.out else trained_model_path(settings)
    progress = BarProgress()
    try:
        data = await asyncio.to_thread(load_training_data, paths)
        print(f"{len(data.examples)} examples of {len(data.intents)} intents", file=sys.stderr)
        model = await asyncio.to_thread(train_model, data, config, progress)
        progress.stage(f"writing {out}")
        await asyncio.to_thread(save_model, model, out)
    except NluError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        progress.close()
    dense = "sparse + dense (MiniLM)" if config.dense else "sparse"
    print(f"NLU model ({dense}, {len(model.intents)} intents) written to {out}")
    return 0


async def nlu_evaluate(settings: Settings, args: argparse.Namespace) -> int:
    config = _config(settings, args)
    threshold = settings.nlu.fallback_threshold if args.threshold is None else args.threshold
    progress = BarProgress()
    try:
        report = await asyncio.to_thread(_evaluate, args, config, threshold, progress)
    except NluError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        progress.close()
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(format_report(report))
    return 0


def _evaluate(
    args: argparse.Namespace, config: PipelineConfig, threshold: float, progress: BarProgress
) -> EvaluationReport:
    if args.format == "clinc":
        splits = load_clinc(Path(args.train))
        return evaluate(
            splits.train,
            splits.test,
            config,
            threshold=threshold,
            validation=splits.validation,
            progress=progress,
        )
    train = _load(args.format, args.train)
    if args.cross_validate:
        return cross_validate(
            train, args.cross_validate, config, threshold=threshold, progress=progress
        )
    if not args.test:
        raise NluError("--test is needed (or --cross-validate K)")
    test = _load(args.format, args.test)
    return evaluate(train, test.examples, config, threshold=threshold, progress=progress)


def _load(kind: str, path: str) -> TrainingData:
    return load_csv(Path(path)) if kind == "csv" else load_training_data([path])


def _config(settings: Settings, args: argparse.Namespace) -> PipelineConfig:
    config = pipeline_config(settings, dense=args.dense)
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    return config


def format_report(report: EvaluationReport) -> str:
    s = report.scores
    oos = "n/a (no out-of-scope examples)" if s.oos_recall is None else f"{s.oos_recall:.2%}"
    lines = [
        f"examples: {report.n_train} train, {report.n_test} test; threshold {report.threshold:.3f}",
        f"accuracy            {s.accuracy:.2%}",
        f"macro-F1            {s.macro_f1:.2%}",
        f"in-scope accuracy   {s.in_scope_accuracy:.2%}",
        f"out-of-scope recall {oos}",
        f"calibration error   {s.expected_calibration_error:.3f} (ECE, in-scope)",
        f"training            {report.train_seconds:.1f} s",
        f"parse latency       p50 {report.parse_p50_ms:.2f} ms, p99 {report.parse_p99_ms:.2f} ms",
        "",
        f"{'intent':<32} {'precision':>9} {'recall':>7} {'F1':>6} {'n':>5}",
    ]
    for intent, stats in s.per_intent.items():
        lines.append(
            f"{intent[:32]:<32} {stats.precision:>9.2%} {stats.recall:>7.2%} "
            f"{stats.f1:>6.2%} {stats.support:>5}"
        )
    if s.confusions:
        lines += ["", "worst confusions (true -> predicted: count)"]
        lines += [f"  {t} -> {p}: {n}" for t, p, n in s.confusions]
    return "\n".join(lines)


def register(groups: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the `nlu` command group."""
    nlu = groups.add_parser("nlu", help="language understanding").add_subparsers(required=True)
    train = command(nlu, "train", nlu_train, "train the NLU model from the training data")
    train.add_argument(
        "--data", action="append", help="a file or folder of Rasa NLU YAML (repeatable)"
    )
    train.add_argument("--out", help="the model file (default: <nlu.model_dir>/nlu-model.npz)")
    _pipeline_options(train)

    check = command(nlu, "evaluate", nlu_evaluate, "measure the NLU pipeline on labelled data")
    check.add_argument("--train", required=True, help="training data (file or folder)")
    check.add_argument("--test", help="test data (not needed for clinc or --cross-validate)")
    check.add_argument("--format", choices=["rasa", "csv", "clinc"], default="rasa")
    check.add_argument("--cross-validate", type=int, metavar="K", help="k-fold on --train")
    check.add_argument("--threshold", type=float, help="fallback threshold (clinc: from val)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    _pipeline_options(check)


def _pipeline_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dense",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add MiniLM sentence embeddings (default: nlu.dense in config.yml)",
    )
    parser.add_argument("--seed", type=int, help="random seed (default: nlu.seed)")
