"""The advice knowledge base: Markdown articles, their passages, and retrieval over them.

An article is one ``.md`` file: YAML front matter (``title``, ``tags``, ``queue``) between
``---`` lines, then Markdown. Each ``## `` section is a passage (text before the first heading
is a passage headed by the title). ``KnowledgeBase.load`` reads and indexes a folder once at
start-up; after that everything is pure, synchronous and fast, so the dialogue calls
``answer`` directly on the event loop.

Ranking (BM25, see knowledge_index): an article scores by its topic (title and tags), its whole
text and its best passage; its passages then rank below that by the question's words they hold,
the article's title words counting less (they say what the article is about, not which section
answers). Confidence is the share of the question's words, weighted by rarity, that the best
passage (with its article's topic) and its article contain: a question about something the
knowledge base does not cover keeps unmatched words and stays below ``SURE_THRESHOLD``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from bot.dialogue.knowledge_index import Analyzer, Bm25Index, FloatArray, SpellingCorrector

# Chosen on the tuning questions in tests/unit/kb_questions.py (never on the test questions):
# the middle of the range of thresholds with the lowest cost there, where being sure and wrong
# costs twice as much as being unsure and right. See test_knowledge.py.
SURE_THRESHOLD = 0.51
ALTERNATIVES = 2
# Bounds on the work one question can cause (a web chat message may be 2,000 characters).
MAX_QUERY_WORDS = 64
MAX_CORRECTIONS = 6


class KnowledgeBaseError(Exception):
    """An article that cannot be read: names the file and, where it helps, the line."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class Article:
    slug: str
    title: str
    tags: tuple[str, ...]
    queue: str
    body: str
    path: Path


@dataclass(frozen=True, slots=True)
class Passage:
    article_slug: str
    article_title: str
    heading: str
    text: str
    queue: str


@dataclass(frozen=True, slots=True)
class ScoredPassage:
    passage: Passage
    score: float


@dataclass(frozen=True, slots=True)
class KbAnswer:
    """The best passage (None when no passage shares a word with the question), how sure."""

    passage: Passage | None
    confidence: float  # 0..1
    sure: bool
    alternatives: tuple[Passage, ...]  # the next best passages, from other articles


@dataclass(frozen=True, slots=True)
class RankingWeights:
    """How the ranker weighs fields and evidence; tuned on the tuning questions."""

    heading: float = 2.0  # a passage's heading counts as this many times its words
    title: float = 2.0  # in the topic (title + tags) of an article, likewise
    tags: float = 1.0
    topic: float = 1.0  # share of the topic's BM25 score added to each passage of the article
    article: float = 0.5  # share of the whole article's BM25 score, likewise
    on_title: float = 0.3  # within an article: a passage's score for a word of the title
    passage_match: float = 0.5  # in confidence: a word in the passage or topic, vs the article
    corrected: float = 0.7  # in confidence: credit for a word matched only after a typo fix


class KnowledgeBase:
    """Articles, their passages, and a ranker over them. Build once; query from any thread."""

    def __init__(
        self,
        articles: Iterable[Article],
        *,
        sure_threshold: float = SURE_THRESHOLD,
        weights: RankingWeights | None = None,
    ) -> None:
        self._articles = tuple(sorted(articles, key=lambda a: a.slug))
        self._by_slug = {article.slug: article for article in self._articles}
        if not self._articles or len(self._by_slug) != len(self._articles):
            raise ValueError("a knowledge base needs articles, each with its own slug")
        self.sure_threshold = sure_threshold
        self.weights = weights or RankingWeights()
        self._analyzer = Analyzer()
        passages: list[Passage] = []
        owners: list[int] = []
        for i, article in enumerate(self._articles):
            for heading, text, _line in _sections(article.title, article.body.splitlines(), 1):
                if text:
                    passages.append(
                        Passage(article.slug, article.title, heading, text, article.queue)
                    )
                    owners.append(i)
        if set(owners) != set(range(len(self._articles))):
            raise ValueError("every article needs at least one passage of text")
        self._passages = tuple(passages)
        self._owner = np.array(owners)
        self._first_passages = np.searchsorted(self._owner, np.arange(len(self._articles)))
        self._passage_index = Bm25Index([self._passage_document(p) for p in passages])
        self._topic_index = Bm25Index([self._topic_document(a) for a in self._articles])
        self._title_index = Bm25Index([self._weighted((a.title, 1.0)) for a in self._articles])
        self._article_index = Bm25Index([self._article_document(a) for a in self._articles])
        self._speller = SpellingCorrector(self._word_frequencies())

    @classmethod
    def load(
        cls,
        folder: Path,
        queues: Collection[str] | None = None,
        *,
        sure_threshold: float = SURE_THRESHOLD,
    ) -> KnowledgeBase:
        """Read every ``*.md`` file in ``folder``; ``queues``, when given, are the known ones."""
        if not folder.is_dir():
            raise KnowledgeBaseError(folder, None, "is not a folder of articles")
        articles = []
        for path in sorted(folder.glob("*.md")):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise KnowledgeBaseError(path, None, f"cannot be read: {exc}") from exc
            articles.append(_article(path, text, queues))
        if not articles:
            raise KnowledgeBaseError(folder, None, "has no articles (*.md files)")
        return cls(articles, sure_threshold=sure_threshold)

    @property
    def articles(self) -> tuple[Article, ...]:
        return self._articles

    @property
    def passages(self) -> tuple[Passage, ...]:
        return self._passages

    def article(self, slug: str) -> Article:
        """The article with this slug; KeyError if there is none."""
        return self._by_slug[slug]

    def search(self, query: str, k: int = 3) -> list[ScoredPassage]:
        """The ``k`` best passages for ``query``, best first, none scoring 0. A passage of a
        well-matching article can rank without sharing a word with the question."""
        if k < 0:
            raise ValueError(f"k must be 0 or more, not {k}")
        scores = self._scores(self._query_terms(query))
        order = np.argsort(-scores, kind="stable")[:k]
        return [ScoredPassage(self._passages[i], float(scores[i])) for i in order if scores[i] > 0]

    def answer(self, query: str) -> KbAnswer:
        """The best passage, how confident the match is, and whether that is sure enough."""
        terms = self._query_terms(query)
        scores = self._scores(terms)
        order = np.argsort(-scores, kind="stable")
        best = int(order[0])
        if scores[best] <= 0:
            return KbAnswer(None, 0.0, False, ())
        confidence = self._confidence(terms, best)
        seen = {self._passages[best].article_slug}
        alternatives: list[Passage] = []
        for i in order[1:]:
            passage = self._passages[i]
            if scores[i] <= 0 or len(alternatives) == ALTERNATIVES:
                break
            if passage.article_slug not in seen:
                seen.add(passage.article_slug)
                alternatives.append(passage)
        sure = confidence >= self.sure_threshold
        return KbAnswer(self._passages[best], confidence, sure, tuple(alternatives))

    # -- internals ---------------------------------------------------------------------------

    def _passage_document(self, passage: Passage) -> dict[str, float]:
        return self._weighted((passage.text, 1.0), (self._heading(passage), self.weights.heading))

    def _topic_document(self, article: Article) -> dict[str, float]:
        tags = " ".join(article.tags)
        return self._weighted((article.title, self.weights.title), (tags, self.weights.tags))

    def _article_document(self, article: Article) -> dict[str, float]:
        return self._weighted((f"{article.title} {' '.join(article.tags)} {article.body}", 1.0))

    @staticmethod
    def _heading(passage: Passage) -> str:
        """A passage's own heading ("" for the text before an article's first heading)."""
        return passage.heading if passage.heading != passage.article_title else ""

    def _weighted(self, *parts: tuple[str, float]) -> dict[str, float]:
        """Term frequencies of several texts, each counting with its weight."""
        counts: defaultdict[str, float] = defaultdict(float)
        for text, weight in parts:
            for term in self._analyzer.terms(text):
                counts[term] += weight
        return dict(counts)

    def _word_frequencies(self) -> Counter[str]:
        words: Counter[str] = Counter()
        for article in self._articles:
            text = f"{article.title} {' '.join(article.tags)} {article.body}"
            words.update(self._analyzer.words(text))
        words.update(self._analyzer.synonym_words)
        words.update(self._analyzer.stop_words)
        return words

    def _query_terms(self, query: str) -> dict[str, float]:
        """Each distinct term of the question with its credit: 1, less after a typo fix, 0 if
        the knowledge base does not know it."""
        terms: dict[str, float] = {}
        corrections = 0
        for word in self._analyzer.words(query)[:MAX_QUERY_WORDS]:
            term = self._analyzer.term(word)
            if term is None:
                continue
            credit = 1.0
            unknown = term not in self._article_index and word not in self._speller
            if unknown and corrections < MAX_CORRECTIONS:
                corrections += 1
                fixed = self._speller.correct(word)
                fixed_term = self._analyzer.term(fixed) if fixed else None
                if fixed_term is not None and fixed_term in self._article_index:
                    term, credit = fixed_term, self.weights.corrected
            if term not in self._article_index:
                credit = 0.0
            terms[term] = max(credit, terms.get(term, 0.0))
        return terms

    def _scores(self, terms: dict[str, float]) -> FloatArray:
        known = [term for term, credit in terms.items() if credit > 0]
        per_term = self._passage_index.term_scores(known)
        # An article scores by its topic, its whole text and its best passage ...
        per_article = self.weights.topic * self._topic_index.scores(known)
        per_article += self.weights.article * self._article_index.scores(known)
        per_article += np.maximum.reduceat(per_term.sum(axis=0), self._first_passages)
        # ... and within an article its passages rank by the question's words, those of the
        # article's title counting less: the best passage scores what the article does, the
        # others less.
        on_topic = self._title_index.presence(known)[:, self._owner]
        within = (per_term * np.where(on_topic, self.weights.on_title, 1.0)).sum(axis=0)
        behind = np.maximum.reduceat(within, self._first_passages)[self._owner] - within
        combined: FloatArray = per_article[self._owner] - behind
        return combined

    def _confidence(self, terms: dict[str, float], passage: int) -> float:
        article = int(self._owner[passage])
        total = matched = 0.0
        share = self.weights.passage_match
        for term, credit in terms.items():
            idf = self._article_index.idf(term)
            total += idf
            in_passage = self._passage_index.has(term, passage)
            found = share * (in_passage or self._topic_index.has(term, article))
            found += (1 - share) * self._article_index.has(term, article)
            matched += idf * credit * found
        return matched / total if total else 0.0


# -- reading an article ---------------------------------------------------------------------

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_HEADING = re.compile(r"##\s+(\S.*?)\s*#*\s*")
_LIST_ITEM = re.compile(r"(?:[-*+]|\d+[.)])\s")
_KEYS = ("title", "tags", "queue")
_STR = "tag:yaml.org,2002:str"


def _article(path: Path, text: str, queues: Collection[str] | None) -> Article:
    if not _SLUG.fullmatch(path.stem):
        reason = "the file name must be a slug: lower-case letters, digits and hyphens"
        raise KnowledgeBaseError(path, None, reason)
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        reason = "an article must start with a '---' line and front matter (title, tags, queue)"
        raise KnowledgeBaseError(path, 1, reason)
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise KnowledgeBaseError(path, 1, "the front matter is not closed by a '---' line")
    title, tags, queue = _front_matter(path, "\n".join(lines[1:end]), queues)
    found = _sections(title, lines[end + 1 :], end + 2)
    for heading, text_, line in found:
        if not text_:
            raise KnowledgeBaseError(path, line, f"the section {heading!r} has no text")
    if not found:
        raise KnowledgeBaseError(path, end + 1, "the article has no text after the front matter")
    body = "\n".join(lines[end + 1 :]).strip()
    return Article(path.stem, title, tags, queue, body, path)


def _front_matter(
    path: Path, text: str, queues: Collection[str] | None
) -> tuple[str, tuple[str, ...], str]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = 2 + mark.line if mark is not None else 1
        raise KnowledgeBaseError(
            path, line, f"the front matter is not YAML: {exc.problem}"
        ) from exc
    if not isinstance(node, yaml.MappingNode):
        raise KnowledgeBaseError(path, 2, "the front matter must be keys: title, tags, queue")
    fields: dict[str, tuple[yaml.Node, int]] = {}
    for key_node, value_node in node.value:
        line = 2 + key_node.start_mark.line
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in _KEYS:
            raise KnowledgeBaseError(path, line, f"unknown key {key!r}; the keys are {_KEYS}")
        if key in fields:
            raise KnowledgeBaseError(path, line, f"{key!r} is given twice")
        fields[key] = (value_node, line)
    title, queue = _text(path, fields, "title"), _text(path, fields, "queue")
    if queues is not None and queue not in queues:
        known = ", ".join(sorted(queues))
        line = fields["queue"][1]
        raise KnowledgeBaseError(path, line, f"unknown queue {queue!r}; the queues are: {known}")
    return title, _tags(path, fields.get("tags")), queue


def _text(path: Path, fields: dict[str, tuple[yaml.Node, int]], key: str) -> str:
    if key not in fields:
        raise KnowledgeBaseError(path, 1, f"the front matter has no {key!r}")
    node, line = fields[key]
    if not (isinstance(node, yaml.ScalarNode) and node.tag == _STR and node.value.strip()):
        raise KnowledgeBaseError(path, line, f"{key!r} must be non-empty text")
    return str(node.value).strip()


def _tags(path: Path, field: tuple[yaml.Node, int] | None) -> tuple[str, ...]:
    if field is None:
        return ()
    node, line = field
    items = node.value if isinstance(node, yaml.SequenceNode) else None
    if items is None or not all(isinstance(i, yaml.ScalarNode) and i.tag == _STR for i in items):
        raise KnowledgeBaseError(
            path, line, "'tags' must be a list of words, e.g. [aftercare, pain]"
        )
    return tuple(str(item.value).strip() for item in items if str(item.value).strip())


def _sections(title: str, lines: Sequence[str], first_line: int) -> list[tuple[str, str, int]]:
    """(heading, text, line of the heading) per ``## `` section; the text before the first
    heading is headed by the title and left out when empty."""
    found: list[tuple[str, str, int]] = []
    heading, start, chunk = title, first_line, list[str]()
    for number, line in enumerate([*lines, "## end"], first_line):
        match = _HEADING.fullmatch(line.rstrip())
        if match is None:
            chunk.append(line)
            continue
        text = _unwrap(chunk)
        if text or start != first_line or heading != title:
            found.append((heading, text, start))
        heading, start, chunk = match.group(1), number, []
    return found


def _unwrap(lines: Iterable[str]) -> str:
    """Markdown text as the channels show it: hard-wrapped lines joined, one line per list
    item, paragraphs separated by a blank line."""
    blocks: list[list[str]] = []
    block: list[str] | None = None
    for raw in lines:
        line = raw.strip()
        if not line:
            block = None
        elif block is None:
            block = [line]
            blocks.append(block)
        elif _LIST_ITEM.match(line):
            block.append(line)
        else:
            block[-1] = f"{block[-1]} {line}"
    return "\n\n".join("\n".join(block) for block in blocks)
