"""The `frontdesk` command, run in-process against a temporary SQLite database."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

from tests.integration.cli_support import run


def test_config_check_prints_the_resolved_config_with_secrets_masked(config, capsys) -> None:
    secret = "s3cr3t-webchat-key"
    assert run(config, "config", "check", env={"WEBCHAT_IDENTITY_SECRET": secret}) == 0
    out = capsys.readouterr().out
    assert secret not in out
    data = json.loads(out)
    assert data["business"]["name"] == "Lindenhof Clinic"
    assert data["channels"]["webchat"]["identity_secret"] == "**********"


def test_config_check_names_file_line_key_and_reason(config, capsys) -> None:
    text = config.read_text(encoding="utf-8").replace(
        "  currency: GBP", "  currency: GBP\n  colour: teal"
    )
    config.write_text(text, encoding="utf-8")
    assert run(config, "config", "check") == 2
    err = capsys.readouterr().err
    line = text.splitlines().index("  colour: teal") + 1
    assert f"config.yml:{line}" in err and "business.colour" in err


def test_serving_an_unmigrated_database_is_refused(config, capsys) -> None:
    assert run(config, "crm", "segment") == 1
    assert "frontdesk db upgrade" in capsys.readouterr().err


def test_demo_seed_export_erase_and_agents(config, capsys) -> None:
    assert run(config, "db", "upgrade") == 0
    assert run(config, "demo", "seed", "--customers", "40") == 0
    out = capsys.readouterr().out
    assert "40 created" in out
    for tier in ("platinum", "gold", "iron", "lead"):
        assert f"{tier} " in out, out
    assert run(config, "demo", "seed") == 0
    assert "already seeded" in capsys.readouterr().out

    # Anna Weber, the documented persona, is customer 1: gold, one cleaning in the coming week.
    assert run(config, "crm", "export", "1") == 0
    anna = json.loads(capsys.readouterr().out)
    assert anna["profile"]["full_name"] == "Anna Weber"
    assert anna["profile"]["birth_date"] == "1985-03-12"
    assert anna["profile"]["tier"] == "gold"
    ids = {(i["channel"], i["external_id"]) for i in anna["identities"]}
    assert {("web", "anna"), ("phone", "+447700900001"), ("email", "anna@example.com")} <= ids
    booked = [a for a in anna["appointments"] if a["status"] == "booked"]
    assert [a["service_name"] for a in booked] == ["Dental cleaning"]
    from datetime import datetime

    start = datetime.fromisoformat(booked[0]["start_at"])
    exported = datetime.fromisoformat(anna["exported_at"])
    assert timedelta(0) < start - exported < timedelta(days=8)

    assert run(config, "crm", "erase", "1") == 2  # needs --yes
    assert run(config, "crm", "erase", "1", "--yes") == 0
    assert run(config, "crm", "export", "1", "--output", "anna.json") == 0
    assert "Anna" not in Path("anna.json").read_text(encoding="utf-8")
    assert run(config, "crm", "export", "9999") == 1
    assert "customer 9999 not found" in capsys.readouterr().err

    assert run(config, "crm", "segment") == 0
    assert "lead" in capsys.readouterr().out


def test_agent_create_reads_the_password_from_stdin(config, capsys, monkeypatch) -> None:
    assert run(config, "db", "upgrade") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert (
        run(
            config,
            "agent",
            "create",
            "maria",
            "--role",
            "supervisor",
            "--skill",
            "billing",
            "--password-stdin",
        )
        == 0
    )
    assert "agent maria created" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert run(config, "agent", "create", "tom", "--password-stdin") == 1
    assert "password" in capsys.readouterr().err


def test_crm_import_reports_bad_rows_by_line_and_keeps_good_ones(config, capsys) -> None:
    assert run(config, "db", "upgrade") == 0
    csv_file = config.parent / "people.csv"
    csv_file.write_text(
        "name,phone,email\n"
        "Anna Weber,07700 900001,anna@example.com\n"
        "Bad Phone,12,bad@example.com\n"
        "مریم رضایی,+98 912 345 6789,maryam@example.org\n",
        encoding="utf-8",
    )
    assert run(config, "crm", "import", "customers", str(csv_file)) == 1
    captured = capsys.readouterr()
    assert f"{csv_file}:3: phone:" in captured.err
    assert "3 rows: 2 created, 0 updated, 0 unchanged, 1 rejected" in captured.out
    assert run(config, "crm", "import", "customers", str(csv_file)) == 1
    assert "3 rows: 0 created, 0 updated, 2 unchanged, 1 rejected" in capsys.readouterr().out
    missing = config.parent / "missing.csv"
    assert run(config, "crm", "import", "customers", str(missing)) == 1
    assert "missing.csv" in capsys.readouterr().err
