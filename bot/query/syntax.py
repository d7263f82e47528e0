"""The keyword query language of SPEC section 5: text -> an immutable tree, and back; pure.

Grammar (operators are upper case; a bare lower-case `and`, `or` or `not` is refused, since it
is nearly always a mistyped operator: written in quotes it is the word):
    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary (["AND"] unary)*              # juxtaposition is AND
    unary   := "NOT" unary | "-" primary | primary  # `-` is attached: `-word`, `-(…)`
    primary := field ":" (word | phrase | "(" or_expr ")") | word | phrase | "(" or_expr ")"
A field applies to every word and phrase of its group: `title:(a OR b)` is `title:a OR title:b`.
Also refused: a query without a positive term (`NOT survey` would match nearly every paper), a `*`
inside a phrase, and nesting deeper than MAX_DEPTH parentheses and NOTs (which would otherwise
exhaust Python's recursion limit here, in the matcher and in `bot explain`).
"""

from __future__ import annotations

from functools import lru_cache

from bot.errors import QueryError
from bot.query.lexer import TERM, LexToken, lex
from bot.query.tree import PLAIN_FIELDS, VALUE_FIELDS, And, Not, Or, Phrase, Query, Value, Word
from bot.query.words import acronyms_singular, fold, split_words

__all__ = ["parse_query", "MAX_DEPTH"]

MAX_DEPTH = 50  # parentheses and NOTs inside each other; a person writes a handful
_OPERATOR_WORDS = ("and", "or", "not")

# ---------------------------------------------------------------------------------------------
# Parser: recursive descent; `field` is the field of the enclosing `field:( … )` group.


class _Parser:
    def __init__(self, query: str):
        self.query = query
        self.tokens = lex(query)
        self.at = 0
        self.depth = 0  # parentheses and NOTs open around the current token
        self.first_negation = 0  # column of the first NOT or '-', 0 when none

    def deeper(self, column: int) -> None:
        """One more level of nesting at `column`; refused past MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(
                column,
                f"nested too deeply: at most {MAX_DEPTH} parentheses and NOTs inside each other"
                " (write the query flatter)",
            )

    def peek(self) -> LexToken:
        return self.tokens[self.at]

    def take(self) -> LexToken:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, column: int, expected: str) -> QueryError:
        return QueryError(self.query, column, expected)

    def missing_term(self) -> QueryError:
        kind, text, column = self.peek()
        if self.at == 0:
            if kind == "end":
                return self.fail(1, f"expected {TERM} (the query is empty)")
            return self.fail(column, f"expected {TERM} before {_describe(self.peek())}")
        return self.fail(column, f"expected {TERM} after {_describe(self.tokens[self.at - 1])}")

    def parse(self) -> Query:
        query = self.or_expr(None)
        kind, _, column = self.peek()
        if kind == ")":
            raise self.fail(column, "unmatched ')': expected a '(' before it")
        if kind != "end":  # pragma: no cover - or_expr consumes every other token
            raise self.fail(column, "expected the end of the query")
        if not _has_positive(query):
            raise self.fail(
                self.first_negation,
                "nothing to look for: every term is under NOT or '-', so the query would match"
                " nearly every paper; add a word the papers must have (e.g. diffusion NOT survey)",
            )
        return query

    def or_expr(self, field: str | None) -> Query:
        children = [self.and_expr(field)]
        while self.peek()[:2] == ("op", "OR"):
            self.take()
            children.append(self.and_expr(field))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self, field: str | None) -> Query:
        children = [self.unary(field)]
        while True:
            kind, text, _ = self.peek()
            if (kind, text) == ("op", "AND"):
                self.take()
            elif not (
                kind in ("word", '"', "(", "minus", "field") or (kind, text) == ("op", "NOT")
            ):
                break
            children.append(self.unary(field))
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self, field: str | None) -> Query:
        kind, text, column = self.peek()
        if (kind, text) == ("op", "NOT") or kind == "minus":
            self.take()
            self.first_negation = self.first_negation or column
            self.deeper(column)
            if kind == "minus":
                after = self.peek()
                if after[0] == "minus" or after[2] != column + 1:
                    raise self.fail(column + 1, f"expected {TERM} right after '-' (no space)")
                negated = Not(self.primary(field))
            else:
                negated = Not(self.unary(field))
            self.depth -= 1
            return negated
        return self.primary(field)

    def primary(self, field: str | None) -> Query:
        kind, text, column = self.peek()
        if kind == "field":
            self.take()
            if field is not None and text != field:
                raise self.fail(
                    column, f"'{text}:' inside '{field}:( … )': use one field per group"
                )
            after = self.peek()
            if after[0] not in ("word", '"', "(") or after[2] != column + len(text) + 1:
                raise self.fail(after[2], f"expected {TERM} right after {text}:")
            return self.primary(text)
        if kind == "(":
            self.take()
            self.deeper(column)
            inner = self.or_expr(field)
            if self.peek()[0] != ")":
                raise self.fail(self.peek()[2], f"expected ')' to close the '(' at column {column}")
            self.take()
            self.depth -= 1
            return inner
        if kind == '"':
            self.take()
            return self.phrase(text, column, field)
        if kind == "word":
            self.take()
            return self.word(text, column, field)
        raise self.missing_term()

    def phrase(self, text: str, column: int, field: str | None) -> Query:
        if field in VALUE_FIELDS:
            value = " ".join(fold(text).split())
            if not value:
                raise self.fail(column, "empty phrase: expected text between the quotes")
            return Value(value, field)
        star = text.find("*")
        if star >= 0:
            raise self.fail(
                column + 1 + star,
                "'*' inside a phrase: a phrase matches whole words; put the prefix outside the"
                ' quotes (e.g. "large language" model*)',
            )
        if field != "author":  # names are not English words: no acronym plurals either
            text = acronyms_singular(text)
        words = tuple(w for w in (_canonical(chunk) for chunk in text.split()) if w)
        if not words:
            raise self.fail(column, "empty phrase: expected letters or digits between the quotes")
        return Phrase(words, field)

    def word(self, text: str, column: int, field: str | None) -> Query:
        star = text.find("*")
        prefix = star >= 0
        if prefix and star != len(text) - 1:
            raise self.fail(column + star, "'*' can only end a word (a prefix, as in judge*)")
        body = text[:-1] if prefix else text
        explicit = self.at >= 2 and self.tokens[self.at - 2][0] == "field"  # title:and
        if not prefix and not explicit and body.lower() in _OPERATOR_WORDS:
            raise self.fail(
                column,
                f"operators are upper case: did you mean {body.upper()}?"
                f' (to search for the word, write it in quotes: "{body}")',
            )
        if not prefix and field in (None, *PLAIN_FIELDS):  # not names: no plurals
            body = acronyms_singular(body)
        if field in VALUE_FIELDS:
            value = fold(body)
            if not value:
                raise self.fail(column, f"expected a {field} name before '*'")
            return Value(value, field, prefix)
        canonical = _canonical(body)
        if not canonical:
            where = "before '*'" if prefix and not body else f"in '{text}'"
            raise self.fail(column, f"expected letters or digits {where}")
        return Word(canonical, field, prefix)


def _has_positive(query: Query) -> bool:
    """Whether some word, phrase or name of `query` is under an even number of NOTs."""
    stack: list[tuple[Query, bool]] = [(query, True)]
    while stack:
        node, positive = stack.pop()
        if isinstance(node, Not):
            stack.append((node.child, not positive))
        elif isinstance(node, (And, Or)):
            stack.extend((child, positive) for child in node.children)
        elif positive:
            return True
    return False


def _describe(token: LexToken) -> str:
    kind, text, _ = token
    if kind == "op":
        return text
    if kind == "minus":
        return "'-'"
    if kind == "field":
        return f"{text}:"
    return f"'{text}'" if kind in "()" else "the query"


@lru_cache(maxsize=65536)
def _canonical(text: str) -> str:
    """A bare word's runs of letters and digits, joined by `-` where a hyphen joined them, else `.`

    ("GPT‐3.5" -> "gpt-3.5"); "" when it has no letter or digit.
    """
    folded = fold(text)
    words, hyphens = split_words(folded)
    if not words:
        return ""
    out = [words[0]]
    for hyphen, word in zip(hyphens, words[1:], strict=True):
        out.append("-" if hyphen else ".")
        out.append(word)
    return "".join(out)


def parse_query(text: str) -> Query:
    """The tree of query `text`.

    Raises QueryError(query, column, expected) for an unknown field, an unbalanced parenthesis or
    quote, a dangling operator, an empty query, a word without letters or digits, a lower-case
    operator, a query without a positive term, a `*` in a phrase or nesting past MAX_DEPTH.
    """
    return _Parser(text).parse()
