"""How well a paper fits a subscriber's queries: a score from the matched words, best first; pure.

The score is BM25F (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and
Beyond", 2009) over two fields, title and abstract, summed over the subscriber's queries that
match. Why this one:

- it is the well-understood default of search engines (Lucene, Elasticsearch), so its behaviour
  can be explained and checked by a reader (`bot explain --paper ID EMAIL` prints every part);
- a title hit counts TITLE_WEIGHT times an abstract hit before saturation: a paper *about* the
  query's words names them in its title, one that mentions them in passing does so once in the
  abstract;
- rarer words count more (the idf part), from their document frequency in a reference corpus of
  the ledger's recent papers (`Corpus`), so a query's common word ("model") does not outweigh its
  rare one ("deferral");
- repeated mentions saturate (k1), and a long abstract is not favoured for being long (b);
- several matching queries add up: each is one more piece of evidence the paper is wanted.

It is cheap: the terms are the compiled query terms the matcher uses (query.compile), found in
the paper's tokenized fields (one tokenization per paper, cached by the matcher); the corpus
frequency of a term is one bit count on an inverted index built once per corpus. It is
deterministic: no clock, no randomness, a fixed summation order; ties go newest first (the
listing's date, else the day first seen), then by paper id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bot.models import Paper
from bot.query.compile import Program, Term, compile_query, positive_terms
from bot.query.hits import matched_runs, paper_fields
from bot.query.matcher import _BatchIndex, _compiled, _document
from bot.query.syntax import parse_query
from bot.query.tree import And, Not, Or, Query

__all__ = ["Corpus", "TermScore", "QueryScore", "Score", "score", "rank_key", "term_text"]

#: BM25's usual parameters: k1 = saturation of repeated mentions, b = length normalisation.
K1 = 1.2
B = 0.75
#: A title hit counts this many abstract hits (BM25F field weight; Lucene setups use 2-5).
TITLE_WEIGHT = 4.0
ABSTRACT_WEIGHT = 1.0
# Typical field lengths in words (HF/arXiv listings), used when the corpus is empty.
_TITLE_WORDS = 10.0
_ABSTRACT_WORDS = 180.0


class Corpus:
    """Document frequencies of query terms in a set of reference papers (the ledger's recent ones).

    Built once per send run or preview; `frequency` of a term is one bit count, cached.
    """

    def __init__(self, papers: Iterable[Paper]):
        documents = [_document(p) for p in papers]
        self.size = len(documents)
        self._index = _BatchIndex(documents) if documents else None
        self._cache: dict[Term, int] = {}
        self._stats: dict[str | Query, tuple[tuple[int, float], ...]] = {}
        if documents:
            self.title_words = sum(len(d.title.words) for d in documents) / self.size
            self.abstract_words = sum(len(d.abstract.words) for d in documents) / self.size
        else:
            self.title_words, self.abstract_words = _TITLE_WORDS, _ABSTRACT_WORDS
        self.title_words = max(self.title_words, 1.0)
        self.abstract_words = max(self.abstract_words, 1.0)

    def frequency(self, term: Term) -> int:
        """How many of the corpus papers hold `term`."""
        if self._index is None:
            return 0
        found = self._cache.get(term)
        if found is None:
            found = self._cache[term] = self._index.term_mask(term).bit_count()
        return found

    def idf(self, term: Term) -> float:
        """BM25's inverse document frequency: ln(1 + (N - n + 0.5) / (n + 0.5)), always > 0."""
        n = min(self.frequency(term), self.size)
        return math.log(1.0 + (self.size - n + 0.5) / (n + 0.5))

    def stats(self, query: str | Query) -> tuple[tuple[int, float], ...]:
        """(frequency, idf) of each term of `query`, in the order of its compiled terms; worked
        out once per query (a digest asks for every paper of it)."""
        found = self._stats.get(query)
        if found is None:
            _, terms = _compiled(query)
            found = self._stats[query] = tuple((self.frequency(t), self.idf(t)) for t in terms)
        return found


@dataclass(frozen=True, slots=True)
class TermScore:
    """One matched word, phrase or prefix: where it hit, how rare it is, what it adds."""

    term: str
    title_hits: int
    abstract_hits: int
    frequency: int  # corpus papers holding it
    idf: float
    points: float


@dataclass(frozen=True, slots=True)
class QueryScore:
    """One query of the subscriber: whether it matches, and its matched terms (if it does)."""

    query: str
    matches: bool
    terms: tuple[TermScore, ...]

    @property
    def points(self) -> float:
        return sum(t.points for t in self.terms) if self.matches else 0.0


@dataclass(frozen=True, slots=True)
class Score:
    """A paper's score: the sum of its matching queries' points; `queries` in the given order.

    `title_runs` and `abstract_runs`: the word positions (first, last) where the matched terms
    hit, found once for the score and kept for the email's highlights (query.hits.marks).
    """

    queries: tuple[QueryScore, ...]
    corpus_size: int
    title_runs: frozenset[tuple[int, int]] = field(default=frozenset(), compare=False, repr=False)
    abstract_runs: frozenset[tuple[int, int]] = field(
        default=frozenset(), compare=False, repr=False
    )

    @property
    def total(self) -> float:
        return sum(q.points for q in self.queries)

    @property
    def best_query(self) -> str | None:
        """The matching query with the most points (the first of equals), or None."""
        best = None
        for q in self.queries:
            if q.matches and (best is None or q.points > best.points):
                best = q
        return best.query if best else None


@lru_cache(maxsize=4096)
def _labels(query: str | Query) -> dict[Term, str]:
    """Each term of `query` as the query writes it: `"language model"`, `title:judge*`."""
    labels: dict[Term, str] = {}
    stack = [parse_query(query) if isinstance(query, str) else query]
    while stack:
        node = stack.pop()
        if isinstance(node, (And, Or)):
            stack.extend(reversed(node.children))
        elif isinstance(node, Not):
            stack.append(node.child)
        else:
            terms: dict[Term, int] = {}
            compile_query(node, terms)
            labels.setdefault(next(iter(terms)), str(node))
    return labels


@lru_cache(maxsize=4096)
def _plan(query: str | Query) -> tuple[Program, tuple[Term, ...], tuple[int, ...], tuple[str, ...]]:
    """A query's program and terms (as the matcher compiles them), the numbers of its terms worth
    points (outside any NOT, in order) and each term as the query writes it."""
    program, terms = _compiled(query)
    labels = _labels(query)
    return (
        program,
        terms,
        tuple(sorted(positive_terms(program))),
        tuple(labels.get(t, "?") for t in terms),
    )


def term_text(term: Term, query: str | Query) -> str:
    """A term of `query` as the query writes it: `"language model"`, `judge*`, `title:survey`."""
    return _labels(query).get(term, "?")


def score(paper: Paper, queries: Sequence[str | Query], corpus: Corpus) -> Score:
    """Every query's part of `paper`'s score (a query that does not match scores 0).

    Cached: ranking a digest and grouping its table of contents ask for the same scores, and
    subscribers sharing a query share its papers' scores.
    """
    return _score(paper, tuple(queries), corpus)


@lru_cache(maxsize=8192)
def _score(paper: Paper, queries: tuple[str | Query, ...], corpus: Corpus) -> Score:
    document = _document(paper)
    indexed = paper_fields(paper)
    title_norm = 1.0 - B + B * len(document.title.words) / corpus.title_words
    abstract_norm = 1.0 - B + B * len(document.abstract.words) / corpus.abstract_words
    parts = []
    title_runs: set[tuple[int, int]] = set()
    abstract_runs: set[tuple[int, int]] = set()
    for query in queries:
        program, terms, positive, labels = _plan(query)
        runs = matched_runs(program, terms, document, indexed)
        if runs is None:
            parts.append(QueryScore(str(query), False, ()))
            continue
        stats = corpus.stats(query)
        found = []
        for number in positive:
            hits = runs[number]
            if hits is None:
                continue
            title_runs.update(hits[0])
            abstract_runs.update(hits[1])
            in_title, in_abstract = len(hits[0]), len(hits[1])
            weighted = (
                TITLE_WEIGHT * in_title / title_norm + ABSTRACT_WEIGHT * in_abstract / abstract_norm
            )
            frequency, idf = stats[number]
            # A term that holds outside title and abstract (author:, category:) is one hit.
            saturated = weighted / (K1 + weighted) if weighted else 1.0 / (K1 + 1.0)
            found.append(
                TermScore(labels[number], in_title, in_abstract, frequency, idf, idf * saturated)
            )
        parts.append(QueryScore(str(query), True, tuple(found)))
    return Score(tuple(parts), corpus.size, frozenset(title_runs), frozenset(abstract_runs))


def rank_key(paper: Paper, queries: Sequence[str | Query], corpus: Corpus) -> tuple:
    """A sort key, ascending = best first: higher score, then newer, then the paper id."""
    total = round(score(paper, queries, corpus).total, 9)  # equal sums compare equal
    when = paper.published or paper.first_seen
    newest = (0, -when.timestamp()) if when else (1, 0.0)
    return (-total, newest, paper.id)
