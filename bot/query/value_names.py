"""The names a parsed query asks of its `category:` and `source:` fields, and which exist; pure.

The settings loader uses these to refuse `source:hf_daily` when the source is named `hf-daily`:
such a term could never match, and SPEC section 5 says a query is never a silent non-match.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.query.tree import VALUE_FIELDS, And, Not, Or, Query, Value
from bot.query.words import fold

__all__ = ["field_values", "names_matching"]


def field_values(query: Query, field: str) -> list[Value]:
    """The `field:` names of `query` ("category" or "source"), in the order written.

    Names under NOT count too: `-source:x` is as much a mistake when no source is named x.
    Raises ValueError for a field that does not take names (title, abstract, author).
    """
    if field not in VALUE_FIELDS:
        raise ValueError(f"{field!r} is not one of {', '.join(VALUE_FIELDS)}")
    found: list[Value] = []
    stack = [query]
    while stack:  # iterative: a long chain of NOTs must not hit the recursion limit
        node = stack.pop()
        if isinstance(node, Value):
            if node.field == field:
                found.append(node)
        elif isinstance(node, Not):
            stack.append(node.child)
        elif isinstance(node, (And, Or)):
            stack.extend(reversed(node.children))
    return found


def names_matching(value: Value, names: Iterable[str]) -> list[str]:
    """Those of `names` (as configured) that `value` matches, in their order.

    Compared as the matcher compares (compile.term_holds on words.tokenize_paper): the
    name folded and stripped equals the value's text, or starts with it when `value.prefix`.
    """
    matched = []
    for name in names:
        folded = fold(name).strip()
        if folded == value.text or (value.prefix and folded.startswith(value.text)):
            matched.append(name)
    return matched
