"""The front desk's NLU training data (nlu/data/<lang>/*.yml, Rasa 3.1 YAML).

Checks the files with PyYAML alone (not the engine's reader): the format, the intents and how
many examples each has, that no example sits in two intents, that entity markup is well formed
and names known entities, and that synonym/lookup values are config.yml keys. Then measures how
separable the intents are with 5-fold cross-validation of a TF-IDF word+char n-gram LinearSVC.
Run with -s to see the accuracy, per-intent F1 and the top confusions.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "nlu" / "data"
CONFIG = ROOT / "config.yml"

# Every language folder holding YAML files is checked; English must exist.
LANGUAGES = sorted(p.name for p in DATA.iterdir() if p.is_dir() and any(p.glob("*.yml")))

INTENTS = (
    "greet",
    "goodbye",
    "affirm",
    "deny",
    "thank",
    "bot_challenge",
    "identify",
    "book_appointment",
    "reschedule_appointment",
    "cancel_appointment",
    "list_appointments",
    "check_availability",
    "ask_advice",
    "opening_hours",
    "location",
    "prices",
    "insurance",
    "emergency",
    "request_human",
    "complain",
    "ticket_status",
    "feedback",
    "out_of_scope",
)
MIN_EXAMPLES = 40
MIN_EXAMPLES_BY_INTENT = {
    "out_of_scope": 80,
    "book_appointment": 50,
    "reschedule_appointment": 50,
    "cancel_appointment": 50,
    "check_availability": 50,
}
ENTITIES = frozenset(
    {
        "service",
        "practitioner",
        "time",
        "name",
        "phone",
        "email",
        "birth_date",
        "symptom",
        "appointment_ref",
    }
)
ROLES = {"time": frozenset({"from", "to"})}
# Entities whose values must resolve to a config.yml key (through synonyms or "value").
KEYED_ENTITIES = {"service": "services", "practitioner": "resources"}
# Where each entity may be annotated (identity data only in identify, symptoms only in
# health questions), so mislabelled spans are caught.
ENTITY_INTENTS = {
    "name": {"identify"},
    "phone": {"identify"},
    "email": {"identify"},
    "birth_date": {"identify"},
    "symptom": {"ask_advice", "emergency"},
}
MIN_CV_ACCURACY = 0.95
MIN_INTENT_F1 = 0.85

# [text](entity) or [text]{"entity": ..., "value": ..., "role": ..., "group": ...}
ANNOTATION = re.compile(r"\[(?P<text>[^\[\]{}()]+)\](?:\((?P<name>[^()]*)\)|(?P<json>\{[^{}]*\}))")
MARKUP_CHARS = re.compile(r"[\[\]{}]")
JSON_KEYS = frozenset({"entity", "value", "role", "group"})


@dataclass(frozen=True)
class Annotation:
    text: str
    entity: str
    value: str | None
    role: str | None
    start: int
    end: int


@dataclass(frozen=True)
class Example:
    raw: str
    text: str
    intent: str
    source: str
    annotations: tuple[Annotation, ...]


@dataclass
class LanguageData:
    files: list[Path] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def parse_markup(raw: str) -> tuple[str, list[Annotation], list[str]]:
    """Strip Rasa entity markup; returns plain text, the annotations and any problems."""
    problems: list[str] = []
    parts: list[str] = []
    annotations: list[Annotation] = []
    position = 0
    length = 0
    for match in ANNOTATION.finditer(raw):
        before = raw[position : match.start()]
        parts.append(before)
        length += len(before)
        span = match["text"]
        value = role = None
        if match["name"] is not None:
            entity = match["name"]
        else:
            try:
                spec = json.loads(match["json"])
            except json.JSONDecodeError as exc:
                problems.append(f"bad JSON {match['json']!r}: {exc}")
                spec = {}
            if not isinstance(spec, dict):
                problems.append(f"JSON is not an object: {match['json']!r}")
                spec = {}
            unknown = set(spec) - JSON_KEYS
            if unknown:
                problems.append(f"unknown keys {sorted(unknown)} in {match['json']!r}")
            entity = spec.get("entity", "")
            value = spec.get("value")
            role = spec.get("role")
            if value is not None and not isinstance(value, str):
                problems.append(f"value must be a string in {match['json']!r}")
                value = str(value)
        if span != span.strip() or not span.strip():
            problems.append(f"entity span {span!r} is empty or has outer spaces")
        annotations.append(Annotation(span, entity, value, role, length, length + len(span)))
        parts.append(span)
        length += len(span)
        position = match.end()
    parts.append(raw[position:])
    text = "".join(parts)
    if MARKUP_CHARS.search(text):
        problems.append("unbalanced or malformed markup (stray [ ] { } left after parsing)")
    for a in annotations:
        # Spans must start and end on word boundaries or tokenizers misalign them.
        if a.start > 0 and text[a.start - 1].isalnum():
            problems.append(f"entity {a.text!r} starts inside a word")
        if a.end < len(text) and text[a.end].isalnum():
            problems.append(f"entity {a.text!r} ends inside a word")
    return text, annotations, problems


def block_items(block: Any) -> list[str]:
    """The `- item` lines of an `examples: |` block."""
    if not isinstance(block, str):
        raise TypeError(f"examples must be a literal block string, not {type(block).__name__}")
    items = []
    for line in block.splitlines():
        if not line.strip():
            continue
        if not line.startswith("- "):
            raise ValueError(f"example line does not start with '- ': {line!r}")
        items.append(line[2:].strip())
    return items


@cache
def load_language(lang: str) -> LanguageData:
    data = LanguageData()
    for path in sorted((DATA / lang).glob("*.yml")):
        data.files.append(path)
        where = path.relative_to(ROOT)
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            data.problems.append(f"{where}: not a mapping")
            continue
        if document.get("version") != "3.1":
            data.problems.append(f"{where}: version must be the string '3.1'")
        if set(document) - {"version", "nlu"}:
            data.problems.append(
                f"{where}: unexpected keys {sorted(set(document) - {'version', 'nlu'})}"
            )
        for item in document.get("nlu") or []:
            kinds = {"intent", "synonym", "lookup", "regex"} & set(item)
            if len(kinds) != 1 or set(item) - kinds - {"examples"}:
                data.problems.append(f"{where}: bad item keys {sorted(item)}")
                continue
            kind = kinds.pop()
            name = item[kind]
            try:
                entries = block_items(item.get("examples"))
            except (TypeError, ValueError) as exc:
                data.problems.append(f"{where}: {kind} {name}: {exc}")
                continue
            if kind == "intent":
                for raw in entries:
                    text, annotations, problems = parse_markup(raw)
                    data.problems.extend(f"{where}: {name}: {raw!r}: {p}" for p in problems)
                    data.examples.append(Example(raw, text, name, str(where), tuple(annotations)))
            else:
                table = {"synonym": data.synonyms, "lookup": data.lookups, "regex": data.regexes}
                if name in table[kind]:
                    data.problems.append(f"{where}: {kind} {name!r} defined twice")
                table[kind][name] = entries
    return data


@cache
def config_keys() -> dict[str, frozenset[str]]:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    return {
        section: frozenset(entry["key"] for entry in config[section])
        for section in ("services", "resources")
    }


def synonym_map(data: LanguageData) -> dict[str, str]:
    return {variant.lower(): key for key, variants in data.synonyms.items() for variant in variants}


def normalised(text: str) -> str:
    """For duplicate detection: case, spacing and trailing punctuation do not make a new example."""
    return " ".join(text.lower().split()).rstrip(" .!?")


def resolve(annotation: Annotation, synonyms: dict[str, str]) -> str:
    if annotation.value is not None:
        return annotation.value
    return synonyms.get(annotation.text.lower(), annotation.text.lower())


languages = pytest.mark.parametrize("lang", LANGUAGES)


def test_english_exists() -> None:
    assert "en" in LANGUAGES


@languages
def test_files_parse_as_rasa_3_1(lang: str) -> None:
    data = load_language(lang)
    assert data.files
    assert not data.problems, "\n".join(data.problems)


@languages
def test_every_intent_has_enough_examples(lang: str) -> None:
    counts = Counter(example.intent for example in load_language(lang).examples)
    missing = [intent for intent in INTENTS if intent not in counts]
    assert not missing, f"intents without examples: {missing}"
    unknown = sorted(set(counts) - set(INTENTS))
    assert not unknown, f"intents not in the list (add them to INTENTS): {unknown}"
    short = {
        intent: counts[intent]
        for intent in INTENTS
        if counts[intent] < MIN_EXAMPLES_BY_INTENT.get(intent, MIN_EXAMPLES)
    }
    assert not short, f"too few examples: {short}"


@languages
def test_no_example_is_repeated(lang: str) -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for example in load_language(lang).examples:
        seen[normalised(example.text)].append(f"{example.intent} ({example.source})")
    repeated = {text: where for text, where in seen.items() if len(where) > 1}
    assert not repeated, "\n".join(f"{text!r}: {where}" for text, where in repeated.items())


@languages
def test_entities_are_known_and_used_in_the_right_intents(lang: str) -> None:
    problems = []
    for example in load_language(lang).examples:
        for a in example.annotations:
            if a.entity not in ENTITIES:
                problems.append(f"{example.raw!r}: unknown entity {a.entity!r}")
            if a.role is not None and a.role not in ROLES.get(a.entity, ()):
                problems.append(f"{example.raw!r}: unknown role {a.role!r} for {a.entity}")
            allowed = ENTITY_INTENTS.get(a.entity)
            if allowed is not None and example.intent not in allowed:
                problems.append(f"{example.raw!r}: {a.entity} in intent {example.intent}")
    assert not problems, "\n".join(problems)


@languages
def test_service_and_practitioner_values_are_config_keys(lang: str) -> None:
    data = load_language(lang)
    keys = config_keys()
    synonyms = synonym_map(data)
    problems = []
    for entity, section in KEYED_ENTITIES.items():
        for example in data.examples:
            for a in example.annotations:
                if a.entity == entity and resolve(a, synonyms) not in keys[section]:
                    problems.append(
                        f"{example.raw!r}: {a.text!r} does not resolve to a {section} key"
                    )
        for entry in data.lookups.get(entity, []):
            if synonyms.get(entry.lower(), entry.lower()) not in keys[section]:
                problems.append(f"lookup {entity}: {entry!r} does not resolve to a {section} key")
    every_key = keys["services"] | keys["resources"]
    problems.extend(
        f"synonym {name!r} is not a service or resource key"
        for name in data.synonyms
        if name not in every_key
    )
    assert not problems, "\n".join(problems)
    assert set(data.lookups) == set(KEYED_ENTITIES), "need service and practitioner lookups"


@languages
def test_a_variant_maps_to_one_value_only(lang: str) -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for key, variants in load_language(lang).synonyms.items():
        for variant in variants:
            owners[variant.lower()].add(key)
    clashes = {variant: keys for variant, keys in owners.items() if len(keys) > 1}
    assert not clashes, clashes


@languages
def test_regexes_compile_and_name_entities(lang: str) -> None:
    for name, patterns in load_language(lang).regexes.items():
        assert name in ENTITIES, name
        for pattern in patterns:
            re.compile(pattern)


def cross_validate(
    examples: list[Example],
) -> tuple[float, dict[str, float], Counter[tuple[str, str]]]:
    texts = [example.text for example in examples]
    labels = [example.intent for example in examples]
    model = make_pipeline(
        FeatureUnion(
            [
                ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)),
                (
                    "char",
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
                ),
            ]
        ),
        LinearSVC(C=1.0),
    )
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    predicted = cross_val_predict(model, texts, labels, cv=folds)
    intents = sorted(set(labels))
    scores = f1_score(labels, predicted, labels=intents, average=None)
    confusions = Counter((t, p) for t, p in zip(labels, predicted, strict=True) if t != p)
    return (
        float(accuracy_score(labels, predicted)),
        dict(zip(intents, (float(s) for s in scores), strict=True)),
        confusions,
    )


@languages
def test_intents_are_separable(lang: str) -> None:
    examples = load_language(lang).examples
    accuracy, f1, confusions = cross_validate(examples)
    counts = Counter(example.intent for example in examples)
    print(f"\n[{lang}] {len(examples)} examples, 5-fold CV accuracy {accuracy:.4f}")
    for intent, score in sorted(f1.items(), key=lambda item: item[1]):
        print(f"  {intent:24} n={counts[intent]:3}  F1 {score:.3f}")
    print("  top confusions (true -> predicted):")
    for (true, guess), count in confusions.most_common(12):
        print(f"    {count:2}  {true} -> {guess}")
    assert accuracy >= MIN_CV_ACCURACY, f"CV accuracy {accuracy:.4f} < {MIN_CV_ACCURACY}"
    worst = min(f1, key=f1.__getitem__)
    assert f1[worst] >= MIN_INTENT_F1, f"{worst} F1 {f1[worst]:.3f} < {MIN_INTENT_F1}"


def test_parse_markup_catches_mistakes() -> None:
    """The checker itself: good markup parses, broken markup is reported."""
    text, annotations, problems = parse_markup(
        'move [Monday]{"entity": "time", "role": "from"} to [Wednesday](time)'
    )
    assert text == "move Monday to Wednesday"
    assert not problems
    assert [(a.entity, a.role, text[a.start : a.end]) for a in annotations] == [
        ("time", "from", "Monday"),
        ("time", None, "Wednesday"),
    ]
    for broken in (
        "book a [cleaning(service)",
        "book a cleaning](service)",
        'book a [cleaning]{"entity": service}',
        "book a [clean]ing(service)",
        "book a [clean](service)ing",
    ):
        assert parse_markup(broken)[2], broken
