"""A parsed query compiled to terms and a boolean program, and both evaluated on one paper; pure.

A Term is what one word, phrase, prefix or name of a query asks of a paper: in which fields to
look and which token sequences count (a hyphenated word has two spellings). A program is the
boolean structure over term numbers: an int is a term; (AND, *children), (OR, *children) and
(NOT, child) are tuples. The indexed matcher (query.matcher) and the one-by-one reference evaluation
below share these terms, so they share their meaning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from bot.query.tree import PLAIN_FIELDS, VALUE_FIELDS, And, Not, Or, Phrase, Query, Value, Word
from bot.query.words import Document, Join, TextField, word_key

__all__ = [
    "AND",
    "OR",
    "NOT",
    "Term",
    "Program",
    "compile_query",
    "evaluate",
    "positive_terms",
    "word_parts",
    "spellings",
    "join_hyphens",
    "sequence_runs",
    "term_spans",
    "term_holds",
]

AND, OR, NOT = 0, 1, 2
Program = int | tuple
# Element operations: a token's key equals, its folded word equals, its folded word starts with;
# a folded category or source name equals, starts with.
KEY_EQ, WORD_EQ, WORD_PREFIX, NAME_EQ, NAME_PREFIX = "k", "w", "p", "v", "vp"


@dataclass(frozen=True, slots=True)
class Term:
    """Fields to search and the alternative sequences of elements; any alternative in any field.

    An element is (operation, operand); consecutive elements match consecutive words.
    """

    fields: tuple[str, ...]
    alternatives: tuple[tuple[tuple[str, str], ...], ...]


def word_parts(text: str) -> tuple[list[str], list[bool]]:
    """The runs of a canonical word ("gpt-3.5") and whether each gap is a hyphen."""
    parts: list[str] = []
    hyphens: list[bool] = []
    current = []
    for char in text:
        if char in "-.":
            parts.append("".join(current))
            hyphens.append(char == "-")
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts, hyphens


def join_hyphens(parts: list[str], hyphens: list[bool]) -> list[str]:
    """Runs with every hyphenated chain written as one word: fine-tuning -> finetuning."""
    out = [parts[0]]
    for hyphen, part in zip(hyphens, parts[1:], strict=True):
        if hyphen:
            out[-1] += part
        else:
            out.append(part)
    return out


def spellings(words: tuple[str, ...]) -> list[list[str]]:
    """The word sequences a query's canonical words stand for: as written, and hyphens joined."""
    split: list[str] = []
    joined: list[str] = []
    for word in words:
        parts, hyphens = word_parts(word)
        split.extend(parts)
        joined.extend(join_hyphens(parts, hyphens))
    return [split] if split == joined else [split, joined]


@lru_cache(maxsize=65536)  # 100,000 subscriptions repeat the same words many times
def _word_term(node: Word) -> Term:
    exact = node.field == "author"  # names are not English words: no stemming
    alternatives = []
    for spelling in spellings((node.text,)):
        elements = [(WORD_EQ, w) if exact else (KEY_EQ, word_key(w)) for w in spelling]
        if node.prefix:
            elements[-1] = (WORD_PREFIX, spelling[-1])
        alternatives.append(tuple(elements))
    return Term(_fields(node.field), tuple(dict.fromkeys(alternatives)))


def _phrase_term(node: Phrase) -> Term:
    exact = node.field == "author"  # names are not English words: no stemming
    alternatives = tuple(
        tuple((WORD_EQ, w) if exact else (KEY_EQ, word_key(w)) for w in spelling)
        for spelling in spellings(node.words)
    )
    return Term(_fields(node.field), tuple(dict.fromkeys(alternatives)))


def _fields(field: str | None) -> tuple[str, ...]:
    return PLAIN_FIELDS if field is None else (field,)


def compile_query(query: Query, terms: dict[Term, int]) -> Program:
    """The program of `query`; new terms are numbered in `terms` (shared to deduplicate)."""
    if isinstance(query, (Word, Phrase, Value)):
        if isinstance(query, Word):
            term = _word_term(query)
        elif isinstance(query, Phrase):
            term = _phrase_term(query)
        else:
            operation = NAME_PREFIX if query.prefix else NAME_EQ
            term = Term((query.field,), (((operation, query.text),),))
        return terms.setdefault(term, len(terms))
    if isinstance(query, Not):
        return (NOT, compile_query(query.child, terms))
    operator = AND if isinstance(query, And) else OR
    assert isinstance(query, (And, Or))
    return (operator, *(compile_query(c, terms) for c in query.children))


def evaluate(program: Program, holds) -> bool:
    """The truth of `program` given `holds(term_number) -> bool`."""
    if isinstance(program, int):
        return holds(program)
    if program[0] == AND:
        return all(evaluate(c, holds) for c in program[1:])
    if program[0] == OR:
        return any(evaluate(c, holds) for c in program[1:])
    return not evaluate(program[1], holds)


def positive_terms(program: Program, positive: bool = True) -> set[int]:
    """The terms of `program` under an even number of NOTs (those worth highlighting)."""
    if isinstance(program, int):
        return {program} if positive else set()
    if program[0] == NOT:
        return positive_terms(program[1], not positive)
    return set().union(*(positive_terms(c, positive) for c in program[1:]))


def _element_matches(element: tuple[str, str], token: Join) -> bool:
    operation, operand = element
    if operation == KEY_EQ:
        return token[1] == operand
    if operation == WORD_EQ:
        return token[0] == operand
    return bool(token[0]) and token[0].startswith(operand)


def _tokens(field: TextField) -> list[Join]:
    """Every word of `field` as (word, key, first, last), then every joined hyphenated word."""
    singles = [(w, k, i, i) for i, (w, k) in enumerate(zip(field.words, field.keys, strict=True))]
    return singles + list(field.joins)


def _starting_at(field: TextField, position: int) -> list[Join]:
    found = [t for t in field.joins if t[2] == position]
    if position < len(field.words):
        found.append((field.words[position], field.keys[position], position, position))
    return found


def sequence_runs(
    sequence: tuple[tuple[str, str], ...], field: TextField, firsts: Iterable[Join] | None = None
) -> Iterator[tuple[int, int]]:
    """(first, last) word positions in `field` where the elements match consecutive words.

    `firsts`, when given, are the only tokens tried for the first element (an index's shortcut).
    """
    for token in _tokens(field) if firsts is None else firsts:
        if not _element_matches(sequence[0], token):
            continue
        ends = [token]
        for element in sequence[1:]:
            ends = [
                t
                for end in ends
                for t in _starting_at(field, end[3] + 1)
                if _element_matches(element, t)
            ]
            if not ends:
                break
        for end in ends:
            yield token[2], end[3]


def term_spans(term: Term, document: Document, field: str) -> list[tuple[int, int]]:
    """Character spans where `term` occurs in the title or abstract (`field`) of `document`."""
    if field not in term.fields or field not in PLAIN_FIELDS:
        return []
    text = document.text_field(field)
    runs = [run for seq in term.alternatives for run in sequence_runs(seq, text)]
    if not runs:
        return []
    spans = text.spans()
    return [(spans[first][0], spans[last][1]) for first, last in runs]


def term_holds(term: Term, document: Document) -> bool:
    """Whether `term` occurs in `document`: the one-by-one reference, by scanning its words."""
    for field in term.fields:
        if field in VALUE_FIELDS:
            names = document.categories if field == "category" else document.sources
            for ((operation, operand),) in term.alternatives:
                if operation == NAME_EQ and operand in names:
                    return True
                if operation == NAME_PREFIX and any(n.startswith(operand) for n in names):
                    return True
        else:
            text = document.text_field(field)
            for sequence in term.alternatives:
                if next(sequence_runs(sequence, text), None) is not None:
                    return True
    return False
