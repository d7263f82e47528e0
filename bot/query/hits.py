"""Where a query's terms occur in a paper's title and abstract, found quickly; pure.

compile.term_holds and compile.term_spans are the one-by-one reference: they try every token of a
field against a term's first element, in Python. Here the first word of a sequence is looked up
in the word or key column (tuple.count and index run at C speed; a prefix is found by str.find in
the words joined), and the
rest of a phrase is checked only from there. The score counts these runs and keeps them
(query.rank), and the email marks their characters (`marks`); tests check both against the
reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from bot.models import Paper
from bot.query.compile import (
    KEY_EQ,
    PLAIN_FIELDS,
    WORD_EQ,
    WORD_PREFIX,
    Program,
    Term,
    evaluate,
    positive_terms,
    sequence_runs,
    term_holds,
)
from bot.query.matcher import Highlights, _compiled, _document, _merged
from bot.query.tree import Query
from bot.query.words import Document, TextField

__all__ = ["runs", "term_runs", "matched_runs", "word_runs", "highlight", "marks"]

Run = tuple[int, int]
Runs = list[Run]


class Field:
    """A title or abstract looked up quickly: each word key's positions, and the words joined by
    NUL (a character no word holds: words are runs of letters and digits, bot.query.words) for
    prefixes."""

    __slots__ = ("text", "positions", "blob")

    def __init__(self, text: TextField):
        self.text = text
        positions: dict[str, list[int]] = {}
        for at, key in enumerate(text.keys):
            positions.setdefault(key, []).append(at)
        self.positions = positions
        self.blob = "\0" + "\0".join(text.words)


Fields = tuple[Field, Field]  # title, abstract


def fields(document: Document) -> Fields:
    """The title and abstract of `document`, indexed."""
    return Field(document.title), Field(document.abstract)


@lru_cache(maxsize=1024)
def paper_fields(paper: Paper) -> Fields:
    """`fields` of a paper's words (matcher._document): once per paper, for every subscriber."""
    return fields(_document(paper))


def runs(sequence: tuple[tuple[str, str], ...], field: Field) -> Runs:
    """(first, last) word positions in `field` where `sequence` matches consecutive words: what
    compile.sequence_runs finds trying every token, in an order of its own."""
    operation, operand = sequence[0]
    text = field.text
    if operation == KEY_EQ:
        positions = field.positions.get(operand, ())
        joins = [j for j in text.joins if j[1] == operand] if text.joins else []
    elif operation == WORD_PREFIX:
        positions = _starting_with(field.blob, operand)
        joins = [j for j in text.joins if j[0] and j[0].startswith(operand)]
    elif operation == WORD_EQ:
        positions = [at for at, word in enumerate(text.words) if word == operand]
        joins = [j for j in text.joins if j[0] == operand]
    else:  # names (category:, source:) are not words of a text field
        return []
    if len(sequence) == 1:
        found = [(at, at) for at in positions]
        return found + [(j[2], j[3]) for j in joins] if joins else found
    firsts = [(text.words[at], text.keys[at], at, at) for at in positions] + joins
    return list(sequence_runs(sequence, text, firsts))


def _starting_with(blob: str, prefix: str) -> list[int]:
    """The positions of the words that start with `prefix` (not empty): str.find at C speed in
    the words joined by NUL (Field.blob)."""
    needle = "\0" + prefix
    found = []
    index, last = 0, 0
    at = blob.find(needle)
    while at >= 0:
        index += blob.count("\0", last, at)  # the NULs before `at`: the word's position
        found.append(index)
        last = at
        at = blob.find(needle, at + 1)
    return found


def term_runs(
    term: Term, document: Document, indexed: Fields | None = None
) -> tuple[Runs, Runs] | None:
    """The runs of `term` in the title and in the abstract, or None when it does not hold.

    A term that holds only outside title and abstract (author:, category:, source:) has no runs.
    `indexed`: `fields(document)`, when the caller has it.
    """
    title_field, abstract_field = indexed or fields(document)
    title: Runs = []
    abstract: Runs = []
    for sequence in term.alternatives:
        if "title" in term.fields:
            title += runs(sequence, title_field)
        if "abstract" in term.fields:
            abstract += runs(sequence, abstract_field)
    if title or abstract:
        return title, abstract
    if all(name in PLAIN_FIELDS for name in term.fields) or not term_holds(term, document):
        return None
    return title, abstract


def matched_runs(
    program: Program, terms: Sequence[Term], document: Document, indexed: Fields
) -> list[tuple[Runs, Runs] | None] | None:
    """Each term's runs (None for a term that does not hold) when the compiled query matches
    `document` (`indexed`: its fields); None when it does not."""
    found = [term_runs(term, document, indexed) for term in terms]
    holds = [hit is not None for hit in found]
    return found if evaluate(program, holds.__getitem__) else None


def word_runs(paper: Paper, queries: Sequence[str | Query]) -> tuple[set[Run], set[Run]]:
    """The runs in title and abstract of the terms outside any NOT of the `queries` that match
    `paper` (query.rank's Score keeps the same, found while scoring)."""
    document = _document(paper)
    title: set[Run] = set()
    abstract: set[Run] = set()
    for query in queries:
        program, terms = _compiled(query)
        found = matched_runs(program, terms, document, paper_fields(paper))
        for number in positive_terms(program) if found is not None else ():
            hit = found[number]
            if hit is not None:
                title.update(hit[0])
                abstract.update(hit[1])
    return title, abstract


def highlight(paper: Paper, queries: Sequence[str | Query]) -> Highlights:
    """What matcher.highlight (the one-by-one reference) marks, found quickly."""
    return marks(paper, *word_runs(paper, queries))


@lru_cache(maxsize=2048)
def _spans(text: TextField) -> list[tuple[int, int]]:
    # Working out each word's characters means folding the text again: once per paper, shared by
    # every subscriber who gets it (like the tokenized paper itself, matcher._document).
    return text.spans()


def marks(
    paper: Paper, title_runs: Iterable[tuple[int, int]], abstract_runs: Iterable[tuple[int, int]]
) -> Highlights:
    """The character spans of word runs of `paper`'s title and abstract (query.rank's Score keeps
    the runs of the matched terms): what matcher.highlight, the one-by-one reference, marks."""
    document = _document(paper)
    return Highlights(
        title=_characters(title_runs, document.title),
        abstract=_characters(abstract_runs, document.abstract),
    )


def _characters(found: Iterable[tuple[int, int]], text: TextField) -> tuple[tuple[int, int], ...]:
    found = list(found)
    if not found:
        return ()
    spans = _spans(text)
    return _merged([(spans[first][0], spans[last][1]) for first, last in found])
