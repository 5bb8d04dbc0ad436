"""Rasa NLU training data in YAML: read files and folders (merged), and write it back.

Every problem is a `TrainingDataError` naming the file, the line and the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nlu.annotations import AnnotationError, parse_annotated, render_annotated
from nlu.errors import TrainingDataError
from nlu.types import Example, TrainingData

SUFFIXES = (".yml", ".yaml")
FORMAT_VERSION = "3.1"
_ITEM_KINDS = ("intent", "synonym", "regex", "lookup")
_ITEM_KEYS = {"intent": {"examples", "metadata"}, "synonym": {"examples"}}


def load_training_data(paths: Iterable[str | Path]) -> TrainingData:
    """Read and merge every Rasa NLU file named, or found (recursively) in a folder named."""
    merged = _Merger()
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES):
                _read_file(file, merged, required=False)
        elif path.is_file():
            _read_file(path, merged, required=True)
        else:
            raise TrainingDataError(str(path), None, "no such file or folder")
    return merged.result()


def _read_file(path: Path, merged: _Merger, *, required: bool) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingDataError(str(path), None, f"cannot be read: {exc}") from exc
    _parse_into(text, str(path), merged, required=required)


def parse_yaml(text: str, source: str = "<string>", *, required: bool = True) -> TrainingData:
    """Training data from one YAML document; `required=False` accepts a file without `nlu:`."""
    merged = _Merger()
    _parse_into(text, source, merged, required=required)
    return merged.result()


def _parse_into(text: str, source: str, merged: _Merger, *, required: bool) -> None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise TrainingDataError(source, line, f"not valid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise TrainingDataError(source, None, f"not valid YAML: {exc}") from exc
    if root is None or not isinstance(root, MappingNode):
        if required:
            raise TrainingDataError(source, _line(root), "expected a mapping with an nlu: key")
        return
    _FileReader(source, merged).read(root, required=required)


@dataclass
class _Merger:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    synonym_sources: dict[str, str] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)

    def add_synonym(self, surface: str, value: str, source: str) -> None:
        key = surface.lower()
        known = self.synonyms.get(key)
        if known is not None and known != value:
            file, _, line = source.rpartition(":")
            raise TrainingDataError(
                file or source,
                int(line) if line.isdigit() else None,
                f"{surface!r} is a synonym of {value!r} here but of {known!r} at "
                f"{self.synonym_sources[key]}",
            )
        self.synonyms[key] = value
        self.synonym_sources.setdefault(key, source)

    def result(self) -> TrainingData:
        return TrainingData(
            examples=tuple(self.examples),
            synonyms=dict(self.synonyms),
            regexes={k: tuple(v) for k, v in self.regexes.items()},
            lookups={k: tuple(v) for k, v in self.lookups.items()},
        )


def _extend_unique(target: list[str], items: Iterable[str]) -> None:
    for item in items:
        if item not in target:
            target.append(item)


class _FileReader:
    def __init__(self, source: str, merged: _Merger) -> None:
        self.source = source
        self.merged = merged

    def error(self, node: Node | None, reason: str) -> TrainingDataError:
        return TrainingDataError(self.source, _line(node), reason)

    def read(self, root: MappingNode, *, required: bool) -> None:
        top = {_key(k): v for k, v in root.value}
        if "nlu" not in top:
            if required:
                raise self.error(root, "no nlu: section")
            return
        if "version" in top:
            self.check_version(top["version"])
        items = top["nlu"]
        if isinstance(items, ScalarNode) and items.tag.endswith(":null"):
            return
        if not isinstance(items, SequenceNode):
            raise self.error(items, "nlu: must be a list of intent/synonym/regex/lookup items")
        for item in items.value:
            self.read_item(item)

    def check_version(self, node: Node) -> None:
        version = _value(node)
        if not isinstance(version, str) or version.split(".")[0] not in ("2", "3"):
            raise self.error(node, f'unsupported version {version!r}; write version: "3.1"')

    def read_item(self, item: Node) -> None:
        if not isinstance(item, MappingNode):
            raise self.error(item, "each nlu: item must be a mapping (intent:, synonym:, ...)")
        fields = {_key(k): v for k, v in item.value}
        kinds = [kind for kind in _ITEM_KINDS if kind in fields]
        if len(kinds) != 1:
            raise self.error(item, "each nlu: item needs exactly one of " + ", ".join(_ITEM_KINDS))
        kind = kinds[0]
        unknown = sorted(set(fields) - {kind} - _ITEM_KEYS.get(kind, {"examples"}))
        if unknown:
            raise self.error(item, f"unknown key(s) in the {kind} item: {', '.join(unknown)}")
        name = _value(fields[kind])
        if not isinstance(name, str) or not name.strip():
            raise self.error(fields[kind], f"the {kind} needs a name")
        examples = fields.get("examples")
        if examples is None:
            raise self.error(item, f"the {kind} {name!r} has no examples:")
        if kind == "intent":
            meta = _value(fields["metadata"]) if "metadata" in fields else None
            self.read_intent(name.strip(), examples, meta)
            return
        for line, text in self.block_lines(examples, kind, name):
            self.add_listed(kind, name.strip(), text, line)

    def add_listed(self, kind: str, name: str, text: str, line: int) -> None:
        where = f"{self.source}:{line}"
        if kind == "synonym":
            self.merged.add_synonym(text, name, where)
        elif kind == "lookup":
            _extend_unique(self.merged.lookups.setdefault(name, []), [text])
        else:
            self.check_regex(text, line)
            _extend_unique(self.merged.regexes.setdefault(name, []), [text])

    def check_regex(self, pattern: str, line: int) -> None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise TrainingDataError(self.source, line, f"invalid regex {pattern!r}: {exc}") from exc

    def read_intent(self, intent: str, examples: Node, intent_meta: Any) -> None:
        if isinstance(examples, SequenceNode):
            for entry in examples.value:
                text, meta = self.listed_example(entry, intent)
                self.add_example(intent, text, _line(entry) or 0, meta, intent_meta)
            return
        for line, text in self.block_lines(examples, "intent", intent):
            self.add_example(intent, text, line, None, intent_meta)

    def listed_example(self, entry: Node, intent: str) -> tuple[str, Any]:
        data = _value(entry)
        if isinstance(data, str):
            return data, None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise self.error(entry, f"an example of {intent!r} needs text:")
        unknown = sorted(set(data) - {"text", "metadata"})
        if unknown:
            raise self.error(entry, f"unknown key(s) in an example: {', '.join(unknown)}")
        return data["text"], data.get("metadata")

    def add_example(self, intent: str, marked: str, line: int, meta: Any, intent_meta: Any) -> None:
        try:
            annotated = parse_annotated(marked.strip())
        except AnnotationError as exc:
            raise TrainingDataError(self.source, line, str(exc)) from exc
        if not annotated.text.strip():
            raise TrainingDataError(self.source, line, f"an empty example of {intent!r}")
        for surface, value in annotated.synonyms.items():
            self.merged.add_synonym(surface, value, f"{self.source}:{line}")
        metadata = _metadata(meta, intent_meta)
        self.merged.examples.append(
            Example(
                text=annotated.text,
                intent=intent,
                entities=annotated.entities,
                metadata=metadata,
                source=f"{self.source}:{line}",
            )
        )

    def block_lines(self, node: Node, kind: str, name: str) -> Iterator[tuple[int, str]]:
        """(line, text) of each `- ` line of a block of examples."""
        if not isinstance(node, ScalarNode) or not isinstance(_value(node), str):
            reason = f"the examples of the {kind} {name!r} must be a block of - lines"
            raise self.error(node, reason)
        first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
        for offset, raw in enumerate(str(node.value).splitlines()):
            line = first + offset if node.style in ("|", ">") else first
            stripped = raw.strip()
            if not stripped:
                continue
            if not stripped.startswith("-"):
                raise TrainingDataError(self.source, line, f"expected '- example', got {raw!r}")
            text = stripped[1:].strip()
            if not text:
                raise TrainingDataError(self.source, line, f"an empty example of {name!r}")
            yield line, text


def _metadata(meta: Any, intent_meta: Any) -> dict[str, Any] | None:
    """Rasa's shape: {"example": ..., "intent": ...}, only the parts that were given."""
    if meta is None and intent_meta is None:
        return None
    data: dict[str, Any] = {}
    if meta is not None:
        data["example"] = meta
    if intent_meta is not None:
        data["intent"] = intent_meta
    return data


def _key(node: Node) -> str:
    return str(node.value) if isinstance(node, ScalarNode) else ""


def _line(node: Node | None) -> int | None:
    return None if node is None else node.start_mark.line + 1


def _value(node: Node) -> Any:
    constructor = SafeConstructor()
    return constructor.construct_object(node, deep=True)


# -- writing ---------------------------------------------------------------------------------------


def dump_yaml(data: TrainingData) -> str:
    """Rasa NLU YAML (version 3.1) that reads back into the same TrainingData."""
    lines = [f'version: "{FORMAT_VERSION}"', "", "nlu:"]
    for (intent, intent_meta), examples in _by_intent(data.examples).items():
        lines.extend(_intent_item(intent, json.loads(intent_meta), examples))
    for value, surfaces in _by_value(data.synonyms).items():
        lines.extend(_block_item("synonym", value, surfaces))
    for name, patterns in data.regexes.items():
        lines.extend(_block_item("regex", name, patterns))
    for name, elements in data.lookups.items():
        lines.extend(_block_item("lookup", name, elements))
    return "\n".join(lines) + "\n"


def write_yaml(data: TrainingData, path: Path) -> None:
    path.write_text(dump_yaml(data), encoding="utf-8")


def _by_intent(examples: Iterable[Example]) -> dict[tuple[str, str], list[Example]]:
    groups: dict[tuple[str, str], list[Example]] = {}
    for example in examples:
        intent_meta = (example.metadata or {}).get("intent")
        key = (example.intent, json.dumps(intent_meta, sort_keys=True))
        groups.setdefault(key, []).append(example)
    return groups


def _by_value(synonyms: dict[str, str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for surface, value in synonyms.items():
        groups.setdefault(value, []).append(surface)
    return groups


def _intent_item(intent: str, intent_meta: Any, examples: list[Example]) -> list[str]:
    lines = [f"- intent: {_scalar(intent)}"]
    if intent_meta is not None:
        lines.append("  metadata: " + json.dumps(intent_meta, ensure_ascii=False))
    texts = [render_annotated(example) for example in examples]
    if all(e.metadata is None or "example" not in e.metadata for e in examples) and all(
        _fits_block(text) for text in texts
    ):
        return [*lines, "  examples: |", *(f"    - {text}" for text in texts)]
    lines.append("  examples:")
    for example, text in zip(examples, texts, strict=True):
        lines.append("    - text: " + json.dumps(text, ensure_ascii=False))
        if example.metadata is not None and "example" in example.metadata:
            meta = json.dumps(example.metadata["example"], ensure_ascii=False)
            lines.append("      metadata: " + meta)
    return lines


def _block_item(kind: str, name: str, entries: Iterable[str]) -> list[str]:
    entries = list(entries)
    lines = [f"- {kind}: {_scalar(name)}"]
    if all(_fits_block(entry) for entry in entries):
        return [*lines, "  examples: |", *(f"    - {entry}" for entry in entries)]
    raise TrainingDataError(kind, None, f"{name!r} has an entry that cannot be written as - line")


def _fits_block(text: str) -> bool:
    return text == text.strip() and "\n" not in text and "\r" not in text and bool(text)


def _scalar(text: str) -> str:
    """A YAML scalar for a name: plain when safe, JSON-quoted otherwise."""
    try:
        plain = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        plain = None
    if isinstance(plain, str) and plain == text and ":" not in text and "#" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)
