"""Text analysis and ranking for the knowledge base: normalisation, spelling, BM25. Pure code.

``Analyzer`` turns text into index terms: lower-case, a few phrases folded into one word, stop
words dropped, a light stemmer folding plurals and -ing/-ed, and a synonym map onto one
canonical term. ``SpellingCorrector`` fixes a misspelt word against the knowledge base's own
words (a SymSpell-style index of deletions, checked with the Damerau distance).
``Bm25Index`` scores weighted term-frequency documents with Okapi BM25 (numpy).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_STOP_WORDS = """a about above again against all am an and any anything are as at be because
    been being
    below between both but by can cannot could did do does doing done down during each else
    ever few for from further get gets getting got had has have having he her here hers herself
    him himself his how i if im in into is it its itself ive just let lets me might more most
    must my myself no nor not now of off on once only or other our ours ourselves out over own
    please same shall she should so some something such than that thats the their theirs them
    themselves then there these they this those through to too under until up us very was we
    were what whats which while who whom why will with would you your yours yourself yourselves
    hi hello hey thanks thank cheers ok okay hiya dear also maybe really actually still anyone
    someone need needs needed want wants wanted like know tell wondering wonder help question
    quick possible able go going come coming today when tomorrow yes yeah much many lot one
    thing things"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

# Several words that mean one thing: the first word of each group is the canonical term.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("vaccination", "vaccine", "jab", "immunisation", "immunization", "vaccinate", "shot"),
    ("physiotherapy", "physio", "physiotherapist"),
    ("hours", "open", "opening", "close", "closing", "closed", "times"),
    ("tooth", "teeth"),
    (
        "child",
        "children",
        "kid",
        "kiddie",
        "son",
        "daughter",
        "toddler",
        "baby",
        "paediatric",
        "pediatric",
        "infant",
    ),
    (
        "price",
        "cost",
        "fee",
        "charge",
        "pricing",
        "tariff",
        "expensive",
        "cheap",
        "afford",
        "howmuch",
    ),
    ("payment", "pay", "paid"),
    ("dental", "dentist", "dentistry"),
    ("gp", "doctor", "doc"),
    ("clean", "cleaning", "scale", "polish", "hygiene"),
    ("extraction", "extract", "removal", "pulled", "toothout"),
    ("insurance", "insurer", "insured", "cover", "covered"),
    ("cancel", "cancellation", "reschedule", "rearrange", "postpone", "cancelation"),
    ("prescription", "script", "refill"),
    ("medicine", "medication", "meds", "medicines", "tablets", "pills", "drug"),
    ("location", "address", "directions", "located", "postcode", "where", "map", "find"),
    ("park", "car"),
    ("access", "accessible", "accessibility", "disabled", "disability"),
    ("pain", "ache", "aching", "hurt", "painful", "sore", "throb", "throbbing", "agony"),
    ("sensitive", "sensitivity"),
    ("bleed", "bled", "blood", "bleeding", "bloody"),
    ("numb", "numbness"),
    ("anaesthetic", "anesthetic", "anaesthesia", "anesthesia"),
    ("swell", "swollen", "swelling"),
    ("whiten", "whitening", "bleach", "bleaching"),
    ("fever", "feverish", "temperature", "shivery"),
    ("emergency", "urgent", "urgently", "aande", "casualty"),
    ("interpreter", "translator", "translation", "signlanguage", "bsl"),
    ("invoice", "receipt", "bill"),
    ("tube", "underground", "station", "train"),
    ("nervous", "anxious", "scared", "afraid", "phobia"),
    ("worry", "worried", "worrying", "concerned"),
    ("prepare", "preparing", "preparation", "prep"),
    ("appointment", "appt"),
    ("checkup", "examination", "exam"),
    ("xray", "radiograph"),
    ("weekend", "weekends"),
    ("holiday", "holidays"),
)

# Phrases folded into one word before tokenising (applied to articles and questions alike).
PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bhow much\b", " howmuch "),
        (r"\bside[\s-]?effects?\b", " sideeffect "),
        (r"\b(?:get|getting) (?:to|there|here)\b", " directions "),
        (r"\bcheck[\s-]?ups?\b", " checkup "),
        (r"\bx[\s-]?rays?\b", " xray "),
        (r"\bstep[\s-]?free\b", " stepfree "),
        (r"\bwheel[\s-]?chairs?\b", " wheelchair "),
        (r"\ba ?(?:&|and) ?e\b", " aande "),
        (r"\bsign language\b", " signlanguage "),
        (r"\bphysical therapy\b", " physiotherapy "),
        (r"\b(?:tooth|teeth) (?:taken |pulled |removed )?out\b", " toothout "),
    )
)

_APOSTROPHES = re.compile(r"['’`]")
_WORD = re.compile(r"[a-z0-9]+")
_VOWELS = frozenset("aeiouy")
_DOUBLED = re.compile(r"([b-df-hj-np-rt-z])\1$")  # a doubled final consonant, except 'ss'


def stem(word: str) -> str:
    """Fold plurals, -ing and -ed, a final -e and a doubled final consonant; short words as is."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        base = word[: -len(suffix)]
        if (
            word.endswith(suffix)
            and len(base) >= 3
            and _VOWELS & set(base)
            and not (suffix == "ed" and base.endswith("e"))
        ):
            word = base
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return _DOUBLED.sub(r"\1", word)


class Analyzer:
    """Text to index terms, the same way for articles and for questions."""

    def __init__(
        self,
        synonym_groups: Iterable[Sequence[str]] = SYNONYM_GROUPS,
        stop_words: frozenset[str] = STOP_WORDS,
    ) -> None:
        self.stop_words = stop_words
        self._synonyms: dict[str, str] = {}
        for canonical, *others in synonym_groups:
            for word in (canonical, *others):
                self._synonyms[stem(word)] = stem(canonical)
        self._cache: dict[str, str | None] = {}

    def words(self, text: str) -> list[str]:
        """Lower-case words, apostrophes dropped ("don't" -> "dont"), phrases folded."""
        folded = _APOSTROPHES.sub("", text.lower())
        for pattern, replacement in PHRASES:
            folded = pattern.sub(replacement, folded)
        return _WORD.findall(folded)

    def term(self, word: str) -> str | None:
        """The index term for one word from ``words``; None for a stop word."""
        try:
            return self._cache[word]
        except KeyError:
            pass
        stemmed = stem(word)
        term = None if word in self.stop_words else self._synonyms.get(stemmed, stemmed)
        if len(self._cache) < 50_000:
            self._cache[word] = term
        return term

    def terms(self, text: str) -> list[str]:
        return [t for t in map(self.term, self.words(text)) if t is not None]

    @property
    def synonym_words(self) -> frozenset[str]:
        return frozenset(self._synonyms)


def damerau_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, swaps."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def max_edits(word: str) -> int:
    """How many typos a word of this length may carry: none below 5 letters, 2 from 8."""
    return 0 if len(word) < 5 else 1 if len(word) < 8 else 2


def _deletions(word: str, edits: int) -> set[str]:
    found = {word}
    for n in range(1, min(edits, len(word) - 1) + 1):
        for positions in combinations(range(len(word)), n):
            found.add("".join(c for i, c in enumerate(word) if i not in positions))
    return found


class SpellingCorrector:
    """Corrects a word to the closest known word (fewest edits, then the most frequent)."""

    def __init__(self, frequencies: Mapping[str, int]) -> None:
        self._frequencies = dict(frequencies)
        self._by_deletion: dict[str, list[str]] = {}
        self._cache: dict[str, str | None] = {}
        for word in self._frequencies:
            for deleted in _deletions(word, 2):
                self._by_deletion.setdefault(deleted, []).append(word)

    def __contains__(self, word: object) -> bool:
        return word in self._frequencies

    def correct(self, word: str) -> str | None:
        """The known word closest to ``word``, or None when nothing is within ``max_edits``."""
        if word in self._frequencies or max_edits(word) == 0:
            return None
        try:
            return self._cache[word]
        except KeyError:
            pass
        fixed = self._closest(word)
        if len(self._cache) < 10_000:
            self._cache[word] = fixed
        return fixed

    def _closest(self, word: str) -> str | None:
        edits = max_edits(word)
        candidates = {c for d in _deletions(word, edits) for c in self._by_deletion.get(d, ())}
        best: tuple[int, int, str] | None = None
        for candidate in candidates:
            if abs(len(candidate) - len(word)) > edits:
                continue
            distance = damerau_distance(word, candidate)
            key = (distance, -self._frequencies[candidate], candidate)
            if distance <= edits and (best is None or key < best):
                best = key
        return None if best is None else best[2]


class Bm25Index:
    """Okapi BM25 over documents given as {term: weighted frequency}; one column per document."""

    def __init__(self, documents: Sequence[Mapping[str, float]], k1: float = 1.2, b: float = 0.75):
        if not documents:
            raise ValueError("a BM25 index needs at least one document")
        self.size = len(documents)
        vocabulary = sorted({term for document in documents for term in document})
        self._ids = {term: i for i, term in enumerate(vocabulary)}
        tf = np.zeros((len(vocabulary), self.size))
        for column, document in enumerate(documents):
            for term, frequency in document.items():
                tf[self._ids[term], column] = frequency
        lengths = tf.sum(axis=0)
        norm = k1 * (1 - b + b * lengths / max(float(lengths.mean()), 1e-9))
        df = (tf > 0).sum(axis=1)
        self._idf: FloatArray = np.log(1 + (self.size - df + 0.5) / (df + 0.5))
        weights = self._idf[:, None] * tf * (k1 + 1) / (tf + norm)
        self._weights: FloatArray = np.vstack([weights, np.zeros(self.size)])
        self._present = np.vstack([tf > 0, np.zeros(self.size, dtype=bool)])
        self.unseen_idf = math.log(1 + (self.size + 0.5) / 0.5)

    def __contains__(self, term: object) -> bool:
        return term in self._ids

    def idf(self, term: str) -> float:
        """The term's inverse document frequency; a term no document has gets the maximum."""
        i = self._ids.get(term)
        return self.unseen_idf if i is None else float(self._idf[i])

    def scores(self, terms: Sequence[str]) -> FloatArray:
        """The BM25 score of every document for these (known or unknown) terms."""
        total: FloatArray = self.term_scores(terms).sum(axis=0)
        return total

    def term_scores(self, terms: Sequence[str]) -> FloatArray:
        """One row per term: its BM25 contribution to every document (0 for unknown terms)."""
        rows: FloatArray = self._weights[self._rows(terms)]
        return rows

    def presence(self, terms: Sequence[str]) -> npt.NDArray[np.bool_]:
        """One row per term: which documents contain it."""
        rows: npt.NDArray[np.bool_] = self._present[self._rows(terms)]
        return rows

    def _rows(self, terms: Sequence[str]) -> list[int]:
        unknown = len(self._ids)  # the last row of every matrix is all zeros
        return [self._ids.get(term, unknown) for term in terms]

    def has(self, term: str, document: int) -> bool:
        i = self._ids.get(term)
        return i is not None and bool(self._present[i, document])
