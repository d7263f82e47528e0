"""`bot explain`: a parsed query told back in plain words, one line per part; pure."""

from __future__ import annotations

from bot.query.compile import spellings, word_parts
from bot.query.syntax import parse_query
from bot.query.tree import And, Not, Or, Phrase, Query, Value, Word
from bot.query.words import word_key

__all__ = ["explain", "describe"]

_WHERE = {
    None: "in the title or abstract",
    "title": "in the title",
    "abstract": "in the abstract",
    "author": "in an author's name",
}


def explain(text: str) -> str:
    """How `text` is read, in plain words, one line per part; raises QueryError like parse_query."""
    return describe(text, parse_query(text))


def describe(text: str, query: Query) -> str:
    """Lines: the query as typed, as read back, then its boolean structure with every word's key."""
    lines = [f"query:   {text}", f"read as: {query}", "matches a paper when:"]
    _lines(query, 1, lines)
    return "\n".join(lines)


def _lines(node: Query, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    if isinstance(node, (And, Or)):
        kind = "ALL" if isinstance(node, And) else "ANY"
        out.append(f"{pad}{kind} of these {len(node.children)} hold:")
        for child in node.children:
            _lines(child, depth + 1, out)
    elif isinstance(node, Not):
        out.append(f"{pad}NOT (this must be absent):")
        _lines(node.child, depth + 1, out)
    else:
        out.append(pad + _leaf(node))


def _leaf(node: Query) -> str:
    if isinstance(node, Value):
        if node.prefix:
            return f'a {node.field} starting with "{node.text}" (case-insensitive)'
        return f'the {node.field} "{node.text}" (whole name, case-insensitive)'
    if isinstance(node, Phrase):
        spelled = _also_joined(node.words)
        if node.field == "author":  # names are not English words: no stemming
            how = "exact, no stemming"
        else:
            keys = " ".join(word_key(w) for w in spellings(node.words)[0])
            how = f"each word by its key: {keys}"
        return (
            f'the phrase "{" ".join(node.words)}" {_WHERE[node.field]}'
            f" (these words in this order, {how}{spelled})"
        )
    assert isinstance(node, Word)
    exact = node.field == "author"  # names are not English words: no stemming
    star = "*" if node.prefix else ""
    forms = []
    for spelling in spellings((node.text,)):
        keyed = [] if exact else spelling[:-1] if node.prefix else spelling
        keys = f" (key {', '.join(word_key(w) for w in keyed)})" if keyed else ""
        forms.append(f'"{" ".join(spelling)}{star}"{keys}')
    if node.prefix and len(word_parts(node.text)[0]) == 1:
        line = f'a word starting with "{node.text}" {_WHERE[node.field]}'
    else:
        line = f'the word "{node.text}{star}" {_WHERE[node.field]}'
    if len(forms) > 1 or "." in node.text or "-" in node.text:
        line += ", written " + " or ".join(forms)
    elif forms[0].endswith(")"):
        line += forms[0][forms[0].index(" (") :]
    if exact:
        return line + ", exact, no stemming"
    if any(")" in form for form in forms):
        return line + "; other English forms with the same key match too"
    return line


def _also_joined(words: tuple[str, ...]) -> str:
    """The phrase's other spelling, from the compiler's own `spellings` (hyphens joined)."""
    forms = spellings(words)
    return f'; also written "{" ".join(forms[-1])}"' if len(forms) > 1 else ""
