"""Which papers match which subscribers' queries, and which words to highlight; pure.

`Matcher` compiles every query once; `match` tokenizes a batch of papers once, builds an inverted
index of the batch (field -> word -> papers) and computes, for each distinct term of all queries,
the set of papers holding it as a bit mask (bit i = papers[i]). Each distinct query is then a few
big-integer AND/OR/NOT operations. Phrases are checked word by word only on the papers that hold
all their words. `matches` is the one-by-one reference the matcher must agree with.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.models import Paper
from bot.query.compile import (
    AND,
    KEY_EQ,
    NAME_EQ,
    NOT,
    OR,
    WORD_EQ,
    Program,
    Term,
    compile_query,
    evaluate,
    positive_terms,
    sequence_runs,
    term_holds,
    term_spans,
)
from bot.query.syntax import parse_query
from bot.query.tree import FIELDS, TEXT_FIELDS, Query
from bot.query.words import Document, Join, TextField, tokenize_paper

__all__ = ["Matcher", "Highlights", "matches", "highlight", "first_tokens"]


def _bits(mask: int) -> Iterator[int]:
    """The indices of the set bits of `mask`, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _mask(indices: Iterable[int]) -> int:
    mask = 0
    for i in indices:
        mask |= 1 << i
    return mask


class _BatchIndex:
    """An inverted index of one batch of documents, and the paper mask of any term."""

    def __init__(self, documents: list[Document]):
        self.documents = documents
        self.full = (1 << len(documents)) - 1
        # field -> word (or name) -> mask of the papers having it there
        self.postings: dict[str, dict[str, int]] = {f: {} for f in FIELDS}
        title, abstract, author = (self.postings[f] for f in TEXT_FIELDS)
        category, source = self.postings["category"], self.postings["source"]
        for i, doc in enumerate(documents):
            bit = 1 << i
            for postings, field in ((title, doc.title), (abstract, doc.abstract)):
                for word in set(field.words).union([j[0] for j in field.joins]):
                    postings[word] = postings.get(word, 0) | bit
            if doc.authors.words:
                for word in set(doc.authors.words).union([j[0] for j in doc.authors.joins]):
                    author[word] = author.get(word, 0) | bit
            for postings, names in ((category, doc.categories), (source, doc.sources)):
                for name in names:
                    postings[name] = postings.get(name, 0) | bit
        author.pop("", None)  # the empty word that separates two authors
        self._by_key: dict[str, dict[str, int]] = {}
        self._sorted: dict[str, list[str]] = {}
        self._elements: dict[tuple[str, str, str], int] = {}

    def element_mask(self, field: str, operation: str, operand: str) -> int:
        """The papers having, in `field`, a word (or name) that the element accepts."""
        postings = self.postings[field]
        if operation in (WORD_EQ, NAME_EQ):
            return postings.get(operand, 0)
        cache_key = (field, operation, operand)
        mask = self._elements.get(cache_key)
        if mask is not None:
            return mask
        mask = 0
        if operation == KEY_EQ:
            by_key = self._by_key.get(field)
            if by_key is None:
                by_key = self._by_key[field] = self._key_postings(field)
            mask = by_key.get(operand, 0)
        else:  # a prefix of a word or of a name
            words = self._sorted.get(field)
            if words is None:
                words = self._sorted[field] = sorted(postings)
            for j in range(bisect_left(words, operand), len(words)):
                if not words[j].startswith(operand):
                    break
                mask |= postings[words[j]]
        self._elements[cache_key] = mask
        return mask

    def _key_postings(self, field: str) -> dict[str, int]:
        """Key -> mask of the papers having, in `field`, a word with that key.

        From each text's own keys, not from its folded words: an acronym plural (`LLMs`) has
        the key of its acronym, which only the written text tells.
        """
        postings: dict[str, int] = {}
        for i, doc in enumerate(self.documents):
            text = doc.text_field(field)
            bit = 1 << i
            for key in set(text.keys).union([j[1] for j in text.joins]):
                postings[key] = postings.get(key, 0) | bit
        postings.pop("", None)  # the empty word that separates two authors
        return postings

    def term_mask(self, term: Term) -> int:
        """The papers holding `term`: identical to `term_holds` on each paper."""
        mask = 0
        for field in term.fields:
            for sequence in term.alternatives:
                found = self.full
                for operation, operand in sequence:
                    found &= self.element_mask(field, operation, operand)
                    if not found:
                        break
                if len(sequence) > 1:
                    found &= ~mask  # a paper already known to hold the term needs no check
                    found = _mask(
                        [i for i in _bits(found) if self._sequence_in(sequence, i, field)]
                    )
                mask |= found
        return mask

    def _sequence_in(self, sequence: tuple, i: int, field: str) -> bool:
        text = self.documents[i].text_field(field)
        firsts = first_tokens(sequence[0], text)
        return next(sequence_runs(sequence, text, firsts), None) is not None


def first_tokens(element: tuple[str, str], text: TextField) -> list[Join] | None:
    """The tokens of `text` (words, then joined hyphenated words) an exact word or key element
    accepts, found by list.index at C speed; None for other elements (scan every token)."""
    operation, operand = element
    if operation not in (WORD_EQ, KEY_EQ):
        return None
    column = text.words if operation == WORD_EQ else text.keys
    firsts = [j for j in text.joins if j[0 if operation == WORD_EQ else 1] == operand]
    at = -1
    while True:
        try:
            at = column.index(operand, at + 1)
        except ValueError:
            break
        firsts.append((text.words[at], text.keys[at], at, at))
    return firsts


def _run(program: Program, masks: list[int], full: int) -> int:
    """The papers for which `program` is true, given each term's papers."""
    if program.__class__ is int:
        return masks[program]
    operator = program[0]
    if operator == AND:
        mask = full
        for child in program[1:]:
            mask &= _run(child, masks, full)
            if not mask:
                break
        return mask
    if operator == OR:
        mask = 0
        for child in program[1:]:
            mask |= _run(child, masks, full)
        return mask
    assert operator == NOT
    return full ^ _run(program[1], masks, full)


class Matcher:
    """Every owner's queries, compiled once; `match` runs them all over a batch of papers."""

    def __init__(self, queries: Mapping[str, Sequence[str]]):
        """Compile each query text once; raises QueryError for the first bad one."""
        self._terms: dict[Term, int] = {}
        self._programs: list[Program] = []
        by_text: dict[str, int] = {}
        by_program: dict[Program, int] = {}
        # owner -> ((query text, program number), ...) in the owner's order, each text once.
        self._owners: list[tuple[str, tuple[tuple[str, int], ...]]] = []
        for owner, texts in queries.items():
            compiled = []
            for text in dict.fromkeys(texts):
                number = by_text.get(text)
                if number is None:
                    program = compile_query(parse_query(text), self._terms)
                    number = by_program.setdefault(program, len(by_program))
                    if number == len(self._programs):
                        self._programs.append(program)
                    by_text[text] = number
                compiled.append((text, number))
            self._owners.append((owner, tuple(compiled)))
        self._term_list = list(self._terms)

    def match(self, papers: Sequence[Paper]) -> dict[str, dict[str, tuple[str, ...]]]:
        """paper.id -> owner -> the owner's query texts that match it, in the owner's order.

        Owners without a match and papers without a match are left out; an empty batch gives {}.
        """
        found: dict[str, dict[str, tuple[str, ...]]] = {}
        for owner, paper_id, texts in self.pairs(papers):
            found.setdefault(paper_id, {})[owner] = texts
        return {paper.id: found[paper.id] for paper in papers if paper.id in found}

    def pairs(self, papers: Sequence[Paper]) -> Iterator[tuple[str, str, tuple[str, ...]]]:
        """(owner, paper.id, the owner's query texts that match it) for every match, owner by
        owner in the owners' order.

        A generator: a batch matched by many owners (2,000 papers and 50,000 owners give millions
        of pairs) is never held whole. Papers one query matched (nearly all) share one tuple.
        """
        if not papers:
            return
        index = _BatchIndex([tokenize_paper(p) for p in papers])
        masks = [index.term_mask(term) for term in self._term_list]
        results = [_run(program, masks, index.full) for program in self._programs]
        ids = [paper.id for paper in papers]
        for owner, compiled in self._owners:
            hits = [(text, results[number]) for text, number in compiled if results[number]]
            shared = seen = 0  # the papers several of the owner's queries match
            for _, mask in hits:
                shared |= seen & mask
                seen |= mask
            for text, mask in hits:
                texts = (text,)
                for i in _bits(mask & ~shared):
                    yield owner, ids[i], texts
            for i in _bits(shared):
                bit = 1 << i
                yield owner, ids[i], tuple(text for text, mask in hits if mask & bit)


# ---------------------------------------------------------------------------------------------
# One paper at a time: the reference evaluation and highlighting (ranking: query.rank).


@lru_cache(maxsize=4096)
def _compiled(query: str | Query) -> tuple[Program, tuple[Term, ...]]:
    terms: dict[Term, int] = {}
    program = compile_query(parse_query(query) if isinstance(query, str) else query, terms)
    return program, tuple(terms)


@lru_cache(maxsize=1024)
def _document(paper: Paper) -> Document:
    # An email renders each paper for several subscribers: tokenize it once.
    return tokenize_paper(paper)


def matches(query: str | Query, paper: Paper) -> bool:
    """Whether `query` matches `paper`, evaluated directly on the paper's words.

    Raises QueryError when `query` is text that cannot be parsed.
    """
    program, terms = _compiled(query)
    document = tokenize_paper(paper)
    return evaluate(program, lambda n: term_holds(terms[n], document))


def _hits(paper: Paper, queries: Sequence[str | Query]) -> tuple[Document, set[Term]]:
    """The positive terms present in `paper` of those `queries` that match it."""
    document = _document(paper)
    hits: set[Term] = set()
    for query in queries:
        program, terms = _compiled(query)
        holds = [term_holds(term, document) for term in terms]
        if evaluate(program, holds.__getitem__):
            hits.update(terms[n] for n in positive_terms(program) if holds[n])
    return document, hits


@dataclass(frozen=True, slots=True)
class Highlights:
    """Sorted, non-overlapping character spans [start, end) into paper.title and paper.abstract."""

    title: tuple[tuple[int, int], ...] = ()
    abstract: tuple[tuple[int, int], ...] = ()


def _merged(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return tuple(out)


def highlight(paper: Paper, queries: Sequence[str | Query]) -> Highlights:
    """Where the words, phrases and prefixes of the matching `queries` occur in title and abstract.

    Only terms outside any NOT count; queries that do not match `paper` add nothing.
    """
    document, hits = _hits(paper, queries)
    return Highlights(
        title=_merged([s for t in hits for s in term_spans(t, document, "title")]),
        abstract=_merged([s for t in hits for s in term_spans(t, document, "abstract")]),
    )
