"""The words of a keyword query (SPEC section 5): quotes, parentheses, operators, fields; pure."""

from __future__ import annotations

import difflib
import re

from bot.errors import QueryError
from bot.query.tree import FIELDS

__all__ = ["TERM", "LexToken", "lex"]

TERM = "a word, a phrase or '('"  # what an operator, a field or '(' must be followed by
_FIELD_NAME = re.compile(r"([A-Za-z]+):")
_BARE = re.compile(r'[^\s()"]*')

# (kind, text, column): kind is one of ( ) " word op minus field end; column is 1-based.
LexToken = tuple[str, str, int]


def lex(query: str) -> list[LexToken]:
    """The tokens of `query`, ending with ("end", "", len + 1).

    Raises QueryError for an unclosed quote or an unknown field. A `-` always starts a token;
    the parser refuses one that is not attached to what follows.
    """
    tokens: list[LexToken] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append((char, char, i + 1))
            i += 1
        elif char == '"':
            close = query.find('"', i + 1)
            if close < 0:
                raise QueryError(query, i + 1, "unclosed quote: expected a '\"' to end the phrase")
            tokens.append(('"', query[i + 1 : close], i + 1))
            i = close + 1
        elif char == "-":
            tokens.append(("minus", "-", i + 1))
            i += 1
        else:
            end = _bare_end(query, i)
            bare = query[i:end]
            field = _FIELD_NAME.match(bare)
            if bare in ("AND", "OR", "NOT"):
                tokens.append(("op", bare, i + 1))
            elif field:
                name = field.group(1).lower()
                if name not in FIELDS:
                    raise QueryError(query, i + 1, _unknown_field(name))
                tokens.append(("field", name, i + 1))
                i += len(field.group())
                if i < n and query[i] == "-":
                    raise QueryError(
                        query, i + 1, f"expected {TERM} right after {name}: (write -{name}:…)"
                    )
                if i < end:
                    tokens.append(("word", query[i:end], i + 1))
            else:
                tokens.append(("word", bare, i + 1))
            i = end
    tokens.append(("end", "", n + 1))
    return tokens


def _bare_end(query: str, i: int) -> int:
    """Where the bare token starting at `i` ends: at a space, a parenthesis or a quote."""
    return _BARE.match(query, i).end()


def _unknown_field(name: str) -> str:
    close = difflib.get_close_matches(name, FIELDS, n=1)
    hint = f" (did you mean '{close[0]}:'?)" if close else ""
    known = ", ".join(f"{f}:" for f in FIELDS)
    return f"unknown field '{name}:'{hint}; expected one of {known} or the text in quotes"
