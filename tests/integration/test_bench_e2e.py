"""`frontdesk bench e2e` in a tiny configuration: SQLite + memory and the echo ceiling only.

Real processes: a `frontdesk run` server on a seeded throwaway SQLite file, the echo server and
the load generator, each in its own process. Nothing here asserts a time: only that the figures
are there, positive, and that every message got a 200.
"""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from bot.bench_e2e import ECHO, SQLITE
from bot.bench_load import Spec, body, conversation
from bot.channels.identity import verified_user_id
from bot.cli import main
from tests.conftest import ROOT

HEADLINE = ("msgs_per_s", "p50_ms", "p99_ms", "echo_msgs_per_s", "ratio")
ROW = ("msgs_per_s", "p50_ms", "p99_ms", "ratio", "server_cpu_ms_per_msg", "load_cpu_ms_per_msg")


def test_the_mix_covers_every_kind_and_signs_listing_customers() -> None:
    spec = Spec(("http://x",), 10, 4, secret="s3", web_ids=("web-0001", "web-0002"))
    seen = [conversation(spec, worker, 0) for worker in range(4)]
    texts = {text for _, script, _ in seen for text in script}
    assert {"/affirm", "/list_appointments", "what can you do?"} <= texts
    assert any("gums" in text for text in texts)
    (signed,) = [(sender, script) for sender, script, signed in seen if signed]
    sent = json.loads(body(spec, signed[0], signed[1][0], True))
    assert verified_user_id(sent["metadata"]["identity"], SecretStr("s3")) == signed[0]
    anonymous = [sender for sender, _, signed in seen if not signed]
    assert len(set(anonymous)) == 3 and all(s.startswith("bench-") for s in anonymous)


@pytest.mark.slow
def test_bench_e2e_json_on_sqlite_and_echo(
    nlu_model: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # config.yml names its folders (templates, kb) relative to here
    args = ["--messages", "40", "--conversations", "4", "--customers", "12"]
    code = main(
        [
            "--config", str(ROOT / "config.yml"), "bench", "e2e", "--json", "--setups", "sqlite",
            "--nlu-model-dir", nlu_model, *args,
        ],
        environ={},
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    for key in HEADLINE:
        assert result[key] > 0, key
    assert result["setup"] == SQLITE
    assert set(result["setups"]) == {SQLITE, ECHO}
    for name, row in result["setups"].items():
        assert row["messages"] == 40, name
        assert row["errors"] == 0, name
        for key in ROW:
            assert row[key] >= 0, (name, key)
        assert row["p99_ms"] >= row["p50_ms"] > 0, name
    assert result["setups"][ECHO]["ratio"] == 1.0
    assert result["cpu_cores"] >= 1


def test_an_unknown_setup_is_refused_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = str(ROOT / "config.yml")
    assert main(["--config", config, "bench", "e2e", "--setups", "sqlite,mysql"], environ={}) == 2
    assert "unknown set-ups ['mysql']" in capsys.readouterr().err
