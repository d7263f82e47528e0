"""A digest's subject line: the count and the topics a person reads (SPEC section 6); pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from bot.models import Subscriber
from bot.text import one_line

__all__ = ["subject", "topic"]

_SUBJECT_LIMIT = 70


class _Matched(Protocol):
    """What the subject needs of a digest item (render.DigestItem): the queries it matched."""

    queries: tuple[str, ...]


def subject(items: Sequence[_Matched], subscriber: Subscriber) -> str:
    """`5 new papers: language model cascade or deferral, judge*` — one line, at most ~70 chars.

    The count is the papers in this email; topics are the matched queries in the subscriber's
    keyword order (others after), simplified for people: no quotes, AND, parentheses, field
    prefixes or excluded terms.
    """
    count = len(items)
    head = f"{count} new paper{'' if count == 1 else 's'}"
    order = {q: i for i, q in enumerate(subscriber.keywords)}
    seen: dict[str, int] = {}
    for item in items:
        for q in item.queries:
            seen.setdefault(q, order.get(q, len(order) + len(seen)))
    topics: list[str] = []
    for q in sorted(seen, key=seen.__getitem__):
        words = topic(q)
        if words and words not in topics:
            topics.append(words)
    line = f"{head}: {', '.join(topics)}" if topics else head
    return one_line(line, _SUBJECT_LIMIT)


_QUERY_TOKEN = re.compile(r'"[^"]*"?|[()]|[^\s()"]+')


def topic(query: str) -> str:
    """A query as words a person reads: `"big model" AND (a OR b)` -> `big model a or b`."""
    words: list[str] = []
    negate = False
    skip_depth = 0
    for token in _QUERY_TOKEN.findall(query):
        if skip_depth:
            skip_depth += {"(": 1, ")": -1}.get(token, 0)
            continue
        if token == "(":
            # A negated group names what the subscriber does not want: leave it out.
            skip_depth, negate = (1, False) if negate else (0, False)
            continue
        if token in ("AND", ")"):
            continue
        if token == "OR":
            if words and words[-1] != "or":
                words.append("or")
            continue
        if token in ("NOT", "-"):
            negate = True
            continue
        if token.startswith("-"):
            negate, token = True, token[1:]
        if negate:
            negate = False
            continue
        if token.endswith(":"):  # field prefix before a phrase or group
            continue
        field, sep, rest = token.partition(":")
        if sep and field.isalpha() and rest:
            token = rest
        token = token.strip('"').strip()
        if token:
            words.append(token)
    while words and words[-1] == "or":
        words.pop()
    return one_line(" ".join(words))
