"""The advice knowledge base: reading articles, the shipped articles, and retrieval quality.

Retrieval quality is measured on the held-out TEST_* questions of kb_questions.py. The ranker
and the threshold were tuned on the separate TUNING_* questions only (see that module).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest

from bot.config import Settings
from bot.config_loader import load_settings
from bot.dialogue.knowledge import (
    ALTERNATIVES,
    SURE_THRESHOLD,
    KnowledgeBase,
    KnowledgeBaseError,
)
from bot.dialogue.knowledge_index import (
    Analyzer,
    Bm25Index,
    SpellingCorrector,
    damerau_distance,
    stem,
)
from tests.unit.kb_questions import (
    TEST_QUESTIONS,
    TEST_UNANSWERABLE,
    TUNING_QUESTIONS,
    TUNING_UNANSWERABLE,
)

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = """\
---
title: Aftercare after a tooth extraction
tags: [aftercare, extraction]
queue: nurse-advice
---

A short introduction that is
wrapped over two lines.

## The first 24 hours

- Bite on the gauze.
- Do not rinse
  for a day.

### A sub-heading stays in the text

More text.

## When it is an emergency

Call 999.
"""


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(ROOT / "config.yml", {})


@pytest.fixture(scope="module")
def kb(settings: Settings) -> KnowledgeBase:
    queues = [queue.key for queue in settings.queues]
    return KnowledgeBase.load(ROOT / settings.knowledge_base.folder, queues)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, name: str = "broken.md") -> KnowledgeBaseError:
    write(tmp_path / "kb", name, text)
    with pytest.raises(KnowledgeBaseError) as caught:
        KnowledgeBase.load(tmp_path / "kb", ["nurse-advice", "general"])
    return caught.value


# -- reading articles -------------------------------------------------------------------------


def test_an_article_is_split_into_passages(tmp_path: Path) -> None:
    path = write(tmp_path / "kb", "extraction-aftercare.md", ARTICLE)
    kb = KnowledgeBase.load(tmp_path / "kb", ["nurse-advice"])
    (article,) = kb.articles
    assert (article.slug, article.title, article.queue) == (
        "extraction-aftercare",
        "Aftercare after a tooth extraction",
        "nurse-advice",
    )
    assert article.tags == ("aftercare", "extraction")
    assert article.path == path
    assert article.body.startswith("A short introduction")
    intro, first_day, emergency = kb.passages
    assert intro.heading == "Aftercare after a tooth extraction"
    assert intro.text == "A short introduction that is wrapped over two lines."
    assert first_day.heading == "The first 24 hours"
    assert first_day.text == (
        "- Bite on the gauze.\n- Do not rinse for a day.\n\n"
        "### A sub-heading stays in the text\n\nMore text."
    )
    assert (emergency.heading, emergency.text) == ("When it is an emergency", "Call 999.")
    assert {p.queue for p in kb.passages} == {"nurse-advice"}
    assert {p.article_slug for p in kb.passages} == {"extraction-aftercare"}
    assert kb.article("extraction-aftercare") is article


BROKEN_ARTICLES = [
    ("no front matter", "## Heading\n\ntext\n", 1, "must start with a '---' line"),
    ("front matter not closed", "---\ntitle: T\nqueue: general\n\ntext\n", 1, "not closed"),
    ("bad YAML", "---\ntitle: T\ntags: [a, b\nqueue: general\n---\ntext\n", 4, "not YAML"),
    ("not a mapping", "---\n- title\n---\ntext\n", 2, "must be keys"),
    ("no title", "---\nqueue: general\ntags: [a]\n---\ntext\n", 1, "no 'title'"),
    ("no queue", "---\ntitle: T\n---\ntext\n", 1, "no 'queue'"),
    ("empty title", "---\nqueue: general\ntitle: ''\n---\ntext\n", 3, "'title' must be"),
    ("title not text", "---\ntitle: 12\nqueue: general\n---\ntext\n", 2, "'title' must be"),
    ("tags not a list", "---\ntitle: T\nqueue: general\ntags: pain\n---\ntext\n", 4, "'tags'"),
    ("unknown key", "---\ntitle: T\nqueue: general\nowner: me\n---\ntext\n", 4, "'owner'"),
    ("key twice", "---\ntitle: T\nqueue: general\ntitle: U\n---\ntext\n", 4, "twice"),
    ("unknown queue", "---\ntitle: T\nqueue: dentists\n---\ntext\n", 3, "unknown queue"),
    ("no text", "---\ntitle: T\nqueue: general\n---\n\n", 4, "no text after"),
    ("empty section", "---\ntitle: T\nqueue: general\n---\nintro\n## A\n\n## B\nb\n", 6, "'A'"),
]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [case[1:] for case in BROKEN_ARTICLES],
    ids=[case[0] for case in BROKEN_ARTICLES],
)
def test_a_broken_article_is_reported_with_its_file_and_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    error = load_error(tmp_path, text)
    assert error.path == tmp_path / "kb" / "broken.md"
    assert error.line == line
    assert reason in error.reason
    assert str(error).startswith(f"{tmp_path / 'kb' / 'broken.md'}:{line}: ")


def test_the_known_queues_are_listed_when_a_queue_is_unknown(tmp_path: Path) -> None:
    error = load_error(tmp_path, "---\ntitle: T\nqueue: dentists\n---\ntext\n")
    assert "general, nurse-advice" in str(error)


def test_any_queue_is_accepted_when_the_caller_does_not_check(tmp_path: Path) -> None:
    write(tmp_path / "kb", "a.md", "---\ntitle: T\nqueue: anything\n---\ntext\n")
    assert KnowledgeBase.load(tmp_path / "kb").articles[0].queue == "anything"


def test_a_file_name_that_is_not_a_slug_is_refused(tmp_path: Path) -> None:
    error = load_error(tmp_path, ARTICLE, name="Tooth Extraction.md")
    assert error.path.name == "Tooth Extraction.md"
    assert "slug" in str(error)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "latin.md").write_bytes("---\ntitle: Caf\xe9\n".encode("latin-1"))
    with pytest.raises(KnowledgeBaseError, match=r"latin\.md: cannot be read"):
        KnowledgeBase.load(tmp_path / "kb")


def test_a_missing_or_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="is not a folder"):
        KnowledgeBase.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KnowledgeBaseError, match="has no articles"):
        KnowledgeBase.load(tmp_path / "empty")


def test_answers_need_no_files_once_loaded(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "kb", tmp_path / "kb")
    kb = KnowledgeBase.load(tmp_path / "kb")
    shutil.rmtree(tmp_path / "kb")
    answer = kb.answer("what to do after a tooth extraction")
    assert answer.passage is not None
    assert answer.passage.article_slug == "extraction-aftercare"


# -- the shipped articles ---------------------------------------------------------------------


def test_every_shipped_article_is_valid_and_owned_by_a_configured_queue(
    kb: KnowledgeBase, settings: Settings
) -> None:
    queues = {queue.key for queue in settings.queues}
    files = sorted(path.stem for path in (ROOT / "kb").glob("*.md"))
    assert [article.slug for article in kb.articles] == files
    assert 18 <= len(kb.articles) <= 30
    for article in kb.articles:
        assert article.queue in queues, article.slug
        assert article.title and article.tags, article.slug
        assert sum(p.article_slug == article.slug for p in kb.passages) >= 3, article.slug


def test_every_advice_article_says_when_to_call_999_and_where_to_get_help(
    kb: KnowledgeBase,
) -> None:
    advice = [article for article in kb.articles if article.queue == "nurse-advice"]
    assert len(advice) >= 8
    for article in advice:
        assert "999" in article.body, article.slug
        assert "NHS 111" in article.body or "nurse line" in article.body, article.slug


def test_the_price_list_matches_the_configured_services(
    kb: KnowledgeBase, settings: Settings
) -> None:
    prices = kb.article("prices").body
    for service in settings.services:
        minutes = f"({service.duration_minutes} minutes): £{service.price:.0f}"
        assert minutes in prices, service.key


def test_the_opening_hours_match_the_clinic_calendar(kb: KnowledgeBase, settings: Settings) -> None:
    hours = kb.article("opening-hours").body
    week = settings.calendars["clinic_hours"].week
    for intervals in week.values():
        for interval in intervals:
            assert f"{interval.start:%H:%M}–{interval.end:%H:%M}" in hours
    assert "Sunday: closed" in hours
    nurse = settings.calendars["nurse_line"].week
    assert {f"{i.start:%H:%M}–{i.end:%H:%M}" for day in nurse.values() for i in day} == {
        "07:00–22:00"
    }
    assert "07:00 to 22:00" in hours


def test_every_configured_bank_holiday_is_listed(kb: KnowledgeBase, settings: Settings) -> None:
    body = kb.article("bank-holidays").body
    holidays: Sequence[date] = settings.calendars["clinic_hours"].holidays
    assert holidays
    for day in holidays:
        section = body.split(f"## Bank holidays in {day.year}")[1].split("##")[0]
        assert f"{day:%A} {day.day} {day:%B}" in section, day


# -- text analysis ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "same"),
    [
        (["bleeding", "bleeds", "bleed"], True),
        (["fillings", "filling", "filled"], True),
        (["cancelled", "cancelling", "cancel"], True),
        (["prices", "price"], True),
        (["rinse", "rinsing"], True),
        (["bleed", "bleach"], False),
    ],
)
def test_stemming_folds_inflections(words: list[str], same: bool) -> None:
    assert (len({stem(word) for word in words}) == 1) is same


def test_the_analyzer_folds_synonyms_phrases_and_stop_words() -> None:
    analyzer = Analyzer()
    assert analyzer.terms("my flu jab") == analyzer.terms("flu vaccines")
    assert analyzer.terms("Physio?") == analyzer.terms("physiotherapy")
    assert analyzer.terms("How much is a check-up") == analyzer.terms("price checkup")
    assert analyzer.terms("what is it that you would do") == []
    assert analyzer.terms("I don't know") == ["dont"]


def test_misspelt_words_are_corrected_to_known_words() -> None:
    speller = SpellingCorrector({"hygienist": 3, "vaccination": 2, "filling": 5, "falling": 1})
    assert speller.correct("hygenist") == "hygienist"
    assert speller.correct("vacinnation") == "vaccination"
    assert speller.correct("filing") == "filling"  # ties go to the more frequent word
    assert speller.correct("fill") is None  # short words are left alone
    assert speller.correct("mortgage") is None
    assert damerau_distance("teh", "the") == 1
    assert damerau_distance("kitten", "sitting") == 3


def test_bm25_prefers_rare_and_repeated_terms() -> None:
    index = Bm25Index([{"pain": 1, "tooth": 1}, {"tooth": 3}, {"tooth": 1, "hours": 1}])
    scores = index.scores(["tooth", "pain"])
    assert scores.argmax() == 0
    assert index.scores(["tooth"]).argmax() == 1
    assert index.idf("pain") > index.idf("tooth")
    assert index.idf("unknown") > index.idf("pain")
    assert index.scores(["unknown"]).tolist() == [0.0, 0.0, 0.0]


# -- retrieval --------------------------------------------------------------------------------


def test_search_returns_the_best_passages_first(kb: KnowledgeBase) -> None:
    found = kb.search("my socket keeps bleeding", k=5)
    assert len(found) == 5
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert found[0].passage.article_slug == "extraction-aftercare"
    assert found[0].passage.heading == "If the socket bleeds"
    assert kb.search("the and of it", k=3) == []
    assert kb.search("xylophone zebra", k=3) == []


def test_an_answer_offers_alternatives_from_other_articles(kb: KnowledgeBase) -> None:
    answer = kb.answer("my teeth are sensitive after whitening")
    assert answer.passage is not None
    slugs = [answer.passage.article_slug, *(p.article_slug for p in answer.alternatives)]
    assert len(answer.alternatives) == ALTERNATIVES
    assert len(set(slugs)) == len(slugs)


def test_search_takes_k_passages(kb: KnowledgeBase) -> None:
    assert len(kb.search("after a tooth extraction", k=1)) == 1
    assert kb.search("after a tooth extraction", k=0) == []
    with pytest.raises(ValueError, match="k must be"):
        kb.search("after a tooth extraction", k=-1)


def test_a_long_message_is_cut_to_its_first_words(kb: KnowledgeBase) -> None:
    question = "what should I wear to physio "
    noise = " ".join(f"zebraword{i} qwertyuiop" for i in range(150))
    answer = kb.answer(question + noise)
    assert answer.passage is not None
    assert answer.passage.article_slug == "physiotherapy-preparation"
    assert not answer.sure  # the unknown words count against it
    assert kb.answer(noise + question).passage is None  # past the words that are read


def test_articles_must_have_their_own_slugs_and_some_text(kb: KnowledgeBase) -> None:
    article = kb.article("prices")
    with pytest.raises(ValueError, match="own slug"):
        KnowledgeBase([article, replace(article, title="Prices again")])
    with pytest.raises(ValueError, match="at least one passage"):
        KnowledgeBase([article, replace(article, slug="empty", body="   ")])


def test_nothing_to_match_is_no_answer(kb: KnowledgeBase) -> None:
    for question in ("", "hello?", "qwertyuiop asdfgh"):
        answer = kb.answer(question)
        assert (answer.passage, answer.confidence, answer.sure) == (None, 0.0, False)
        assert answer.alternatives == ()


def ranked_slugs(kb: KnowledgeBase, question: str) -> list[str]:
    return [scored.passage.article_slug for scored in kb.search(question, k=3)]


def test_the_test_and_tuning_questions_do_not_overlap() -> None:
    tuning = {q.lower() for q, _ in TUNING_QUESTIONS} | {q.lower() for q in TUNING_UNANSWERABLE}
    test = {q.lower() for q, _ in TEST_QUESTIONS} | {q.lower() for q in TEST_UNANSWERABLE}
    assert not tuning & test
    assert len(TEST_QUESTIONS) >= 40
    assert len(TEST_UNANSWERABLE) >= 10


def test_every_expected_slug_is_a_shipped_article(kb: KnowledgeBase) -> None:
    slugs = {article.slug for article in kb.articles}
    assert {slug for _, slug in TEST_QUESTIONS + TUNING_QUESTIONS} == slugs


def test_retrieval_quality_on_the_held_out_questions(kb: KnowledgeBase) -> None:
    ranked = {question: ranked_slugs(kb, question) for question, _ in TEST_QUESTIONS}
    top1 = [q for q, slug in TEST_QUESTIONS if ranked[q][:1] == [slug]]
    top3 = [q for q, slug in TEST_QUESTIONS if slug in ranked[q]]
    misses = {q: (slug, ranked[q]) for q, slug in TEST_QUESTIONS if q not in top1}
    assert len(top1) / len(TEST_QUESTIONS) >= 0.85, misses
    assert len(top3) / len(TEST_QUESTIONS) >= 0.95, misses


def test_questions_the_knowledge_base_cannot_answer_are_not_sure(kb: KnowledgeBase) -> None:
    answers = {question: kb.answer(question) for question in TEST_UNANSWERABLE}
    sure = {q: (a.confidence, a.passage) for q, a in answers.items() if a.sure}
    assert not sure


def test_most_questions_answered_right_are_answered_sure(kb: KnowledgeBase) -> None:
    right = [q for q, slug in TEST_QUESTIONS if ranked_slugs(kb, q)[:1] == [slug]]
    unsure = [q for q in right if not kb.answer(q).sure]
    assert len(unsure) <= 0.2 * len(right), unsure


# -- the threshold ----------------------------------------------------------------------------


def best_threshold_range(good: list[float], bad: list[float]) -> tuple[float, float]:
    """The widest range (low, high] of thresholds with the lowest cost on the tuning set,
    where being sure of a wrong or unanswerable answer costs 2 and being unsure of a right
    one costs 1. SURE_THRESHOLD is the middle of this range, rounded."""

    def cost(threshold: float) -> int:
        unsure_right = sum(c < threshold for c in good)
        sure_wrong = sum(c >= threshold for c in bad)
        return unsure_right + 2 * sure_wrong

    cuts = sorted({0.0, 1.0 + 1e-9, *good, *bad})
    lowest = min(cost(cut) for cut in cuts)
    ranges = [(high - low, low, high) for low, high in pairwise(cuts)]
    _, low, high = max(r for r in ranges if cost(r[2]) == lowest)
    return low, high


def test_the_shipped_threshold_is_the_one_the_tuning_set_picks(kb: KnowledgeBase) -> None:
    good: list[float] = []
    bad: list[float] = []
    for question, slug in TUNING_QUESTIONS:
        answer = kb.answer(question)
        right = answer.passage is not None and answer.passage.article_slug == slug
        (good if right else bad).append(answer.confidence)
    bad += [kb.answer(question).confidence for question in TUNING_UNANSWERABLE]
    low, high = best_threshold_range(good, bad)
    assert low < SURE_THRESHOLD <= high
    assert abs(SURE_THRESHOLD - (low + high) / 2) <= 0.01
