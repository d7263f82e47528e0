"""The queries of the settings file, each parsed at load: a subscriber's `keywords`, a source's
`exclude`, and the `source:` names they use. A bad query is refused at load, never a silent
miss."""

from __future__ import annotations

from typing import Any

from bot.errors import QueryError
from bot.query.tree import Query
from bot.query.value_names import field_values, names_matching
from bot.query.words import fold
from bot.settings.problems import Problems
from bot.settings.tables import CheckQuery
from bot.settings.values import close_match, quote

__all__ = ["once_per_text", "read_exclude", "read_keywords", "check_source_names"]


def once_per_text(check_query: CheckQuery) -> CheckQuery:
    """`check_query`, asked once per query text: a query many subscribers share is parsed once
    (5,000 subscribers x 3 queries: issue 14). A bad query raises each time, for each problem."""
    parsed: dict[str, Any] = {}

    def check(text: str) -> Any:
        found = parsed.get(text)
        if found is None:
            found = parsed[text] = check_query(text)
        return found

    return check


def read_exclude(
    item: dict[str, Any], where: str, problems: Problems, check_query: CheckQuery | None
) -> str | None:
    """A source's `exclude` query, refused at load when it cannot be parsed (no silent miss)."""
    example = "'title:(\"Author Correction\" OR Editorial)'"
    text = problems.take(item, where, "exclude", "string", example)
    if not text or check_query is None:
        return text or None
    try:
        check_query(text)
    except QueryError as error:
        problems.add(f"{where}.exclude", _bad_query(text, error))
        return None
    return text


def read_keywords(
    item: dict[str, Any],
    where: str,
    problems: Problems,
    check_query: CheckQuery,
    names: set[str],
    allowed: tuple[str, ...] | None = None,
) -> tuple[str, ...]:
    """Every keyword query, each parsed now: a bad query is refused at load, never a silent miss.

    So is a `source:` name that no name in `names` (every [[sources]] name written) matches.
    """
    example = '["diffusion model", "title:judge*"]'
    found = problems.take_strings(item, where, "keywords", example, required=True)
    if found is not None and not item["keywords"]:
        problems.add(
            f"{where}.keywords",
            f"is empty, so this subscriber would never get an email (write keywords = {example})",
        )
    keywords = []
    for index, text in found or ():
        try:
            parsed = check_query(text)
        except QueryError as error:
            problems.add(f"{where}.keywords[{index}]", _bad_query(text, error))
        else:
            check_source_names(parsed, text, f"{where}.keywords[{index}]", problems, names, allowed)
        keywords.append(text)
    return tuple(keywords)


def check_source_names(
    parsed: object,
    text: str,
    where: str,
    problems: Problems,
    names: set[str],
    allowed: tuple[str, ...] | None = None,
) -> None:
    """One problem per `source:` name of query `text` that matches no name in `names`, or no name
    in the subscriber's own `allowed` sources (its papers come from those only).

    Compared as the matcher compares (folded; `hf*` is fine when a name starts with `hf`), so
    only a term that certainly never matches is refused. `parsed` is what the query checker
    returned: anything but a parsed Query (an injected checker) is not looked into.
    """
    if not isinstance(parsed, Query):
        return
    ordered = sorted(names)  # sorted: a tie between two suggestions goes the same way each time
    own = sorted(set(allowed) & names) if allowed else None
    for value in dict.fromkeys(field_values(parsed, "source")):
        if names_matching(value, ordered):
            if own and not names_matching(value, own):
                mine = ", ".join(quote(name) for name in own)
                problems.add(
                    where,
                    f"source {quote(value.text)} in query {quote(text)} is not among this "
                    f"subscriber's sources ({mine}), so it never matches (add it to sources, "
                    "or drop it from the query)",
                )
            continue
        known = ", ".join(quote(name) for name in ordered) or "none"
        if value.prefix:  # suggest the beginning of a name as long as the one written
            heads = dict.fromkeys(fold(name).strip()[: len(value.text)] for name in ordered)
            match = close_match(value.text, heads)
            guess = quote(f"{match}*") if match else None
            what = f"no source name starts with {quote(value.text)}"
        else:
            match = close_match(value.text, ordered)
            guess = quote(match) if match else None
            what = f"unknown source {quote(value.text)}"
        hint = f"did you mean {guess}? " if guess else ""
        problems.add(where, f"{what} in query {quote(text)} ({hint}the sources are: {known})")


def _bad_query(text: str, error: QueryError) -> str:
    return (
        f"bad query {quote(text)}, column {error.column}: {error.expected}"
        " (fix the query; bot explain QUERY shows how a query is read)"
    )
