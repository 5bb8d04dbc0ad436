"""Running the `frontdesk` command in-process (with the `config` fixture of conftest.py)."""

from __future__ import annotations

from pathlib import Path

from bot.cli import main


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> int:
    return main(["--config", str(config), *args], environ=env or {})
