"""Loading config.yml: ${VAR} substitution, YAML line numbers, and errors that name them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.config import Loc, Settings, _dotted, _Problems


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    path: str  # dotted key path such as "queues[2].sla_policy"; "" for the whole file
    line: int | None  # 1-based
    reason: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.reason}" if self.path else f"{where}: {self.reason}"


class ConfigError(Exception):
    """The configuration is wrong; file/path/line/reason describe the first of `problems`."""

    def __init__(self, file: str, path: str, line: int | None, reason: str,
                 problems: Sequence[ConfigProblem] = ()) -> None:  # fmt: skip
        self.problems = tuple(problems) or (ConfigProblem(file, path, line, reason),)
        self.file, self.path, self.line, self.reason = file, path, line, reason
        super().__init__("\n".join(map(str, self.problems)))

    @classmethod
    def of(cls, problems: Sequence[ConfigProblem]) -> ConfigError:
        first = problems[0]
        return cls(first.file, first.path, first.line, first.reason, problems)


def load_settings(path: str | Path, environ: Mapping[str, str]) -> Settings:
    """Read config.yml, fill ${VAR} and ${VAR:-default} from `environ`, validate into Settings."""
    file = str(path)
    reader = _YamlReader(file, environ)
    data = reader.read_file()
    problems: dict[Loc, tuple[int | None, str]] = {
        loc: (line, reason) for loc, line, reason in reader.problems
    }
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:  # re-raised below without the inputs, which may hold secrets
        for loc, reason in _validation_problems(exc):
            if loc in reader.unset:
                reason += f" (it comes from ${{{reader.unset[loc]}}}, which is not set)"
            problems.setdefault(loc, (_line(loc, reader.lines), reason))
    if settings is not None and not problems:
        return settings
    found = [ConfigProblem(file, _dotted(loc), line, reason)
             for loc, (line, reason) in problems.items()]  # fmt: skip
    raise ConfigError.of(sorted(found, key=lambda problem: problem.line or 0))


_REFERENCE = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|(\{))")


class _YamlReader:
    """Turns YAML nodes into plain data, noting the line of every key and list item."""

    def __init__(self, file: str, environ: Mapping[str, str]) -> None:
        self.file, self.environ = file, environ
        self.lines: dict[Loc, int] = {}
        self.problems: list[tuple[Loc, int, str]] = []
        self.unset: dict[Loc, str] = {}  # values that were exactly ${NAME} with NAME unset

    def read_file(self) -> Any:
        try:
            text = Path(self.file).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(self.file, "", None, "file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(self.file, "", None, f"cannot read the file: {exc}") from None
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            data = None if root is None else self._value(loader, root, ())
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            raise ConfigError(self.file, "", line, f"invalid YAML: {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(self.file, "", None, f"invalid YAML: {exc}") from None
        finally:
            loader.dispose()
        if data is None:
            raise ConfigError(self.file, "", None, "the file is empty")
        if not isinstance(data, dict):
            raise ConfigError(self.file, "", 1, "expected a mapping of sections at the top level")
        return data

    def _value(self, loader: yaml.SafeLoader, node: yaml.Node, loc: Loc) -> Any:
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[(*loc, i)] = item.start_mark.line + 1
            return [self._value(loader, item, (*loc, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return self._mapping(loader, node, loc)
        value = loader.construct_object(node)
        return self._substitute(value, loc, node) if isinstance(value, str) else value

    def _mapping(self, loader: yaml.SafeLoader, node: yaml.MappingNode, loc: Loc) -> Any:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            mark, line = key_node.start_mark, key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.MarkedYAMLError(problem="keys must be plain text", problem_mark=mark)
            key = loader.construct_object(key_node)
            if isinstance(key, bool) or not isinstance(key, str | int):
                key = str(key_node.value)  # "yes:", "2026-01-01:" stay as written
            if key in result:
                reason = f"duplicate key (first written on line {self.lines[(*loc, key)]})"
                self.problems.append(((*loc, key), line, reason))
            self.lines[(*loc, key)] = line  # a repeated key counts from its last occurrence
            result[key] = self._value(loader, value_node, (*loc, key))
        return result

    def _substitute(self, text: str, loc: Loc, node: yaml.Node) -> str | None:
        whole = _REFERENCE.fullmatch(text)
        if whole and whole[2] and whole[3] is None and not self.environ.get(whole[2]):
            self.unset[loc] = whole[2]
            return None  # an unset secret such as token: ${TELEGRAM_BOT_TOKEN} stays empty

        def replace(match: re.Match[str]) -> str:
            escaped, name, default, malformed = match.groups()
            if escaped or malformed:
                if malformed:
                    reason = "malformed ${...}: write ${NAME} or ${NAME:-default}, $$ for a $"
                    self.problems.append((loc, node.start_mark.line + 1, reason))
                return "$"
            value = self.environ.get(name)
            if default is not None and not value:
                return default
            if value is None:
                reason = f"environment variable {name} is not set"
                self.problems.append((loc, node.start_mark.line + 1, reason))
            return value or ""

        return _REFERENCE.sub(replace, text)


def _validation_problems(exc: ValidationError) -> Iterable[tuple[Loc, str]]:
    errors = exc.errors()
    for error in errors:
        loc = tuple(part for part in error["loc"] if part != "[key]")
        deeper = (len(o["loc"]) > len(loc) and o["loc"][: len(loc)] == loc for o in errors)
        if error["type"] == "too_short" and any(deeper):
            continue  # pydantic also counts the items that failed as missing; say it once
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, _Problems):
            yield from (((*loc, *inner), reason) for inner, reason in cause.problems)
        elif error["type"] == "extra_forbidden":
            yield loc, "unknown key"
        elif error["type"] == "missing":
            yield loc, "required key is missing"
        else:
            message = error["msg"].removeprefix("Value error, ")
            yield loc, message[:1].lower() + message[1:]


def _line(loc: Loc, lines: Mapping[Loc, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
