"""`frontdesk nlu train` / `nlu evaluate`, and the app serving /model/parse from a trained model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.cli import main
from bot.config_loader import load_settings
from bot.resources import open_crm
from nlu.errors import ModelFileError
from nlu.model_file import MODEL_FILENAME
from tests.conftest import ROOT
from tests.unit.test_nlu_data import CLINIC_YAML

EVALUATION_KEYS = {
    "accuracy",
    "macro_f1",
    "in_scope_accuracy",
    "oos_recall",
    "train_seconds",
    "parse_p50_ms",
    "parse_p99_ms",
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yml").write_text(
        (ROOT / "config.yml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    for folder in ("templates", "kb"):  # what the rest of the app reads, relative to here
        if (ROOT / folder).is_dir():
            (tmp_path / folder).symlink_to(ROOT / folder)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "clinic.yml").write_text(CLINIC_YAML, encoding="utf-8")
    return tmp_path


def env(workdir: Path) -> dict[str, str]:
    return {
        "FRONTDESK_NLU_MODEL_DIR": str(workdir / "models"),
        "FRONTDESK_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'app.db'}",
    }


def run(workdir: Path, *args: str) -> int:
    return main(["--config", str(workdir / "config.yml"), *args], environ=env(workdir))


def test_train_writes_the_model_and_reports(workdir: Path, capsys: pytest.CaptureFixture[str]):
    assert run(workdir, "nlu", "train", "--data", "data", "--seed", "4") == 0
    captured = capsys.readouterr()
    assert (workdir / "models" / MODEL_FILENAME).is_file()
    assert "6 intents" in captured.out and "sparse" in captured.out
    assert "50 examples of 6 intents" in captured.err
    assert "calibrating confidences" in captured.err  # the stages are shown


def test_train_names_the_broken_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "data" / "broken.yml").write_text(
        "nlu:\n- intent: x\n  examples: |\n    - fine\n    not a list item\n"
    )
    assert run(workdir, "nlu", "train", "--data", "data") == 1
    assert "error: data/broken.yml:5: expected '- example'" in capsys.readouterr().err
    assert not (workdir / "models").exists()


def test_evaluate_prints_the_figures(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    test = workdir / "test.yml"
    test.write_text(
        "nlu:\n- intent: greet\n  examples: |\n    - hello there friend\n"
        "- intent: ask_price\n  examples: |\n    - how much does a cleaning cost\n"
        "- intent: out_of_scope\n  examples: |\n    - who is the president of france\n"
    )
    args = ("nlu", "evaluate", "--train", "data", "--test", str(test), "--threshold", "0")
    assert run(workdir, *args) == 0
    out = capsys.readouterr().out
    for label in ("accuracy", "macro-F1", "in-scope accuracy", "out-of-scope recall", "p99"):
        assert label in out
    assert run(workdir, *args, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= EVALUATION_KEYS
    assert report["n_test"] == 3
    assert report["accuracy"] == pytest.approx(1.0)
    assert report["oos_recall"] == pytest.approx(1.0)


def test_cross_validation_on_a_rasa_folder(workdir: Path, capsys: pytest.CaptureFixture[str]):
    args = ("nlu", "evaluate", "--train", "data", "--cross-validate", "5", "--threshold", "0")
    args = (*args, "--json")
    assert run(workdir, *args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["folds"] == 5
    assert report["n_test"] == 50
    assert 0.65 <= report["accuracy"] <= 1.0
    assert sum(s["support"] for s in report["per_intent"].values()) == 50


def test_evaluate_csv_and_clinc_formats(workdir: Path, capsys: pytest.CaptureFixture[str]):
    rows = ["text,category"]
    phrases = {
        "card_lost": ["I lost my card", "my card is missing", "can't find my card", "card gone"],
        "top_up": ["top up my account", "add money", "how do I top up", "put money in"],
    }
    rows += [f"{t},{c}" for c, texts in phrases.items() for t in texts]
    csv_path = workdir / "bank.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    args = ("nlu", "evaluate", "--format", "csv", "--train", str(csv_path), "--json")
    assert run(workdir, *args, "--test", str(csv_path), "--threshold", "0") == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(1.0)

    def split(*texts: str, intent: str) -> list[list[str]]:
        return [[t, intent] for t in texts]

    clinc = {
        "train": split("I lost my card", "card missing", "where is my card", intent="card")
        + split("top up please", "add money", "load my account", intent="topup"),
        "oos_train": split("what's the weather", "tell me a joke", intent="oos"),
        "val": split("lost card", intent="card") + split("add funds", intent="topup"),
        "oos_val": split("who won the match", intent="oos"),
        "test": split("my card is lost", intent="card") + split("top up now", intent="topup"),
        "oos_test": split("sing me a song", intent="oos"),
    }
    clinc_path = workdir / "data_full.json"
    clinc_path.write_text(json.dumps(clinc))
    assert run(workdir, "nlu", "evaluate", "--format", "clinc", "--train", str(clinc_path)) == 0
    assert "out-of-scope recall" in capsys.readouterr().out


def test_evaluate_reports_bad_files(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = workdir / "nope.csv"
    assert run(workdir, "nlu", "evaluate", "--format", "csv", "--train", str(missing)) == 1
    assert "error:" in capsys.readouterr().err
    assert run(workdir, "nlu", "evaluate", "--train", "data") == 1
    assert "--test is needed" in capsys.readouterr().err


async def test_the_app_serves_model_parse(workdir: Path) -> None:
    assert await asyncio.to_thread(run, workdir, "nlu", "train", "--data", "data") == 0
    settings = load_settings(workdir / "config.yml", env(workdir))
    async with open_crm(settings, migrate=True):
        pass
    client = TestClient(TestServer(build_app(settings)))
    try:
        await client.start_server()
    except BaseException:
        await client.close()
        raise
    try:
        response = await client.post("/model/parse", json={"text": "cancel my appointment"})
        assert response.status == 200
        assert (await response.json())["intent"]["name"] == "cancel_appointment"
        response = await client.post("/model/parse", data=b"{oops")
        assert response.status == 400
    finally:
        await client.close()


async def test_the_app_refuses_to_start_without_a_model(workdir: Path) -> None:
    settings = load_settings(workdir / "config.yml", env(workdir))
    async with open_crm(settings, migrate=True):
        pass
    client = TestClient(TestServer(build_app(settings)))
    with pytest.raises(ModelFileError, match="run `frontdesk nlu train` first"):
        try:
            await client.start_server()
        finally:
            await client.close()
