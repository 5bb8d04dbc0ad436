"""Fixtures for the integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped config.yml in a temporary folder (the working directory: the database too)."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config.yml"
    path.write_text((ROOT / "config.yml").read_text(encoding="utf-8"), encoding="utf-8")
    return path
