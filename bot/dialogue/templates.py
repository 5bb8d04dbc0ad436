"""The bot's words: one YAML file per language in the templates folder, English as the fallback."""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

DEFAULT_LANGUAGE = "en"


class TemplateError(ValueError):
    """A template file is broken, or a message key or field is missing."""


class Templates:
    def __init__(self, messages: Mapping[str, Mapping[str, str]]) -> None:
        if DEFAULT_LANGUAGE not in messages:
            raise TemplateError(f"templates need a {DEFAULT_LANGUAGE}.yml")
        self._messages = messages

    @classmethod
    def load(cls, folder: Path) -> Templates:
        messages: dict[str, dict[str, str]] = {}
        for path in sorted(folder.glob("*.yml")):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise TemplateError(f"{path}: {exc}") from exc
            if not isinstance(data, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in data.items()
            ):
                raise TemplateError(f"{path}: expected 'key: message' lines")
            messages[path.stem] = data
        return cls(messages)

    @property
    def languages(self) -> list[str]:
        return sorted(self._messages)

    def has(self, key: str) -> bool:
        return key in self._messages[DEFAULT_LANGUAGE]

    def render(self, language: str, key: str, **fields: Any) -> str:
        table = self._messages.get(language, {})
        text = table.get(key) or self._messages[DEFAULT_LANGUAGE].get(key)
        if text is None:
            raise TemplateError(f"no message {key!r} in the templates")
        try:
            return string.Formatter().vformat(text, (), fields)
        except (KeyError, IndexError) as exc:
            raise TemplateError(f"message {key!r} needs the field {exc}") from exc
