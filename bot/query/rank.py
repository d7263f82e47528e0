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
from dataclasses import dataclass
from functools import lru_cache

from bot.models import Paper
from bot.query.compile import (
    WORD_PREFIX,
    Term,
    compile_query,
    evaluate,
    positive_terms,
    sequence_runs,
    term_holds,
)
from bot.query.matcher import _BatchIndex, _compiled, _document, first_tokens
from bot.query.syntax import parse_query
from bot.query.tree import And, Not, Or, Query
from bot.query.words import Document, TextField

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
    """A paper's score: the sum of its matching queries' points; `queries` in the given order."""

    queries: tuple[QueryScore, ...]
    corpus_size: int

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
    title_norm = 1.0 - B + B * len(document.title.words) / corpus.title_words
    abstract_norm = 1.0 - B + B * len(document.abstract.words) / corpus.abstract_words
    parts = []
    for query in queries:
        program, terms = _compiled(query)
        hits = [_hits(term, document) for term in terms]
        holds = [found is not None for found in hits]
        if not evaluate(program, holds.__getitem__):
            parts.append(QueryScore(str(query), False, ()))
            continue
        found = []
        for number in sorted(positive_terms(program)):
            term, counts = terms[number], hits[number]
            if counts is None:
                continue
            in_title, in_abstract = counts
            weighted = (
                TITLE_WEIGHT * in_title / title_norm + ABSTRACT_WEIGHT * in_abstract / abstract_norm
            )
            idf = corpus.idf(term)
            # A term that holds outside title and abstract (author:, category:) is one hit.
            saturated = weighted / (K1 + weighted) if weighted else 1.0 / (K1 + 1.0)
            found.append(
                TermScore(
                    term_text(term, query),
                    in_title,
                    in_abstract,
                    corpus.frequency(term),
                    idf,
                    idf * saturated,
                )
            )
        parts.append(QueryScore(str(query), True, tuple(found)))
    return Score(tuple(parts), corpus.size)


def _hits(term: Term, document: Document) -> tuple[int, int] | None:
    """(title hits, abstract hits) of `term` in `document`, or None when it does not hold.

    Counts what compile.term_spans would find, without working out character spans: the first
    word of each sequence is looked up in the word or key column (list.index and count run at C
    speed), the rest of a phrase is checked only from there.
    """
    counts = []
    for name in ("title", "abstract"):
        if name not in term.fields:
            counts.append(0)
            continue
        text = document.title if name == "title" else document.abstract
        counts.append(sum(_runs(sequence, text) for sequence in term.alternatives))
    if counts[0] or counts[1]:
        return counts[0], counts[1]
    if set(term.fields) <= {"title", "abstract"} or not term_holds(term, document):
        return None
    return 0, 0


def _runs(sequence: tuple[tuple[str, str], ...], text: TextField) -> int:
    operation, operand = sequence[0]
    if operation == WORD_PREFIX:
        firsts = [
            (w, text.keys[i], i, i) for i, w in enumerate(text.words) if w.startswith(operand)
        ]
        firsts += [j for j in text.joins if j[0] and j[0].startswith(operand)]
    else:
        found = first_tokens(sequence[0], text)
        if found is None:  # names (category:, source:) are not in title or abstract
            return 0
        firsts = found
    if len(sequence) == 1:
        return len(firsts)
    return sum(1 for _ in sequence_runs(sequence, text, firsts))


def rank_key(paper: Paper, queries: Sequence[str | Query], corpus: Corpus) -> tuple:
    """A sort key, ascending = best first: higher score, then newer, then the paper id."""
    total = round(score(paper, queries, corpus).total, 9)  # equal sums compare equal
    when = paper.published or paper.first_seen
    newest = (0, -when.timestamp()) if when else (1, 0.0)
    return (-total, newest, paper.id)
