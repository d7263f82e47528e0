"""The tree a keyword query parses to (query.syntax): immutable values; str() prints query text."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "PLAIN_FIELDS",
    "TEXT_FIELDS",
    "VALUE_FIELDS",
    "FIELDS",
    "Query",
    "Word",
    "Phrase",
    "Value",
    "Not",
    "And",
    "Or",
]

# The fields of SPEC section 5, written once for the lexer, the parser, the compiler and the
# matcher. A word or phrase without a field looks in PLAIN_FIELDS; TEXT_FIELDS hold words (a
# Word or Phrase); VALUE_FIELDS hold whole names (a Value).
PLAIN_FIELDS = ("title", "abstract")
TEXT_FIELDS = (*PLAIN_FIELDS, "author")
VALUE_FIELDS = ("category", "source")
FIELDS = TEXT_FIELDS + VALUE_FIELDS

_BARE_VALUE = re.compile(r'[^\s()"*-][^\s()"*]*')


class Query:
    """A parsed query; `str(query)` parses back to an equal query."""

    __slots__ = ()


def _field_prefix(field: str | None) -> str:
    return f"{field}:" if field else ""


@dataclass(frozen=True, slots=True)
class Word(Query):
    """A word: `text` is folded, its letter-digit runs joined by `-` (a hyphen) or `.` (other).

    `field` None means title or abstract. `prefix` is `judge*`.
    """

    text: str
    field: str | None = None
    prefix: bool = False

    def __str__(self) -> str:
        return f"{_field_prefix(self.field)}{self.text}{'*' if self.prefix else ''}"


@dataclass(frozen=True, slots=True)
class Phrase(Query):
    """A phrase: these folded words, in this order, each matched by its key (as a Word is)."""

    words: tuple[str, ...]
    field: str | None = None

    def __str__(self) -> str:
        return f'{_field_prefix(self.field)}"{" ".join(self.words)}"'


@dataclass(frozen=True, slots=True)
class Value(Query):
    """A whole category or source name (folded), or its beginning when `prefix`."""

    text: str
    field: str
    prefix: bool = False

    def __str__(self) -> str:
        if self.prefix or _BARE_VALUE.fullmatch(self.text):
            return f"{self.field}:{self.text}{'*' if self.prefix else ''}"
        return f'{self.field}:"{self.text}"'


@dataclass(frozen=True, slots=True)
class Not(Query):
    child: Query

    def __str__(self) -> str:
        return f"NOT {_grouped(self.child, (And, Or))}"


@dataclass(frozen=True, slots=True)
class And(Query):
    children: tuple[Query, ...]

    def __str__(self) -> str:
        return " AND ".join(_grouped(c, (And, Or)) for c in self.children)


@dataclass(frozen=True, slots=True)
class Or(Query):
    children: tuple[Query, ...]

    def __str__(self) -> str:
        return " OR ".join(_grouped(c, (Or,)) for c in self.children)


def _grouped(child: Query, kinds: tuple[type, ...]) -> str:
    return f"({child})" if isinstance(child, kinds) else str(child)
