"""Readers of the [[sources]] and [[subscribers]] arrays, with their cross-checks.

Duplicate source names and subscriber addresses, subscribers' sources naming real sources,
every keyword query parsed now, and its `source:` names matching a real source.
"""

from __future__ import annotations

import re
from datetime import time
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from bot.errors import QueryError
from bot.models import CADENCES, SOURCE_TYPES, WEEKDAYS, Source, Subscriber
from bot.query.tree import Query
from bot.query.value_names import field_values, names_matching
from bot.query.words import fold
from bot.settings.problems import Problems, key_path
from bot.settings.tables import (
    ABSTRACT_CHOICES,
    KNOWN_KEYS,
    CheckQuery,
    elsewhere,
    resolve_file_url,
)
from bot.settings.values import (
    close_match,
    email_problem,
    parse_duration,
    parse_send_at,
    quote,
    source_url_problem,
    timezone_problem,
)

__all__ = ["read_sources", "read_subscribers"]

_TYPE_ALIASES = {"rss": "feed", "atom": "feed", "arxiv": "feed", "hf": "hf-daily", "html": "page"}
_DAY_NAMES = {
    name: name[:3]
    for name in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}
# Source names appear in `source:NAME` queries and in key=value logs: keep them one plain token.
_SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_AS_TABLES = "write each {0} as a [[{1}]] table, with two brackets"


def read_sources(
    raw: Any, problems: Problems, folder: Path, check_query: CheckQuery | None = None
) -> tuple[tuple[Source, ...], set[str]]:
    """The [[sources]] tables, and every name written there (even invalid: no echo problems).

    A relative file: URL is resolved against `folder`, the settings file's folder. An `exclude`
    query is parsed now with `check_query`, like a subscriber's keywords.
    """
    if raw is None or raw == []:
        problems.add(
            "sources",
            "no [[sources]] table (add at least one: a [[sources]] line with name, type and url"
            " below it, as in settings.example.toml)",
        )
        return (), set()
    if not isinstance(raw, list):
        problems.wrong_type("sources", raw, "tables", _AS_TABLES.format("source", "sources"))
        return (), set()
    sources: list[Source] = []
    names: dict[str, int] = {}
    for index, item in enumerate(raw):
        where = key_path("sources", index)
        if not isinstance(item, dict):
            problems.wrong_type(where, item, "table", _AS_TABLES.format("source", "sources"))
            continue
        problems.unknown_keys(item, KNOWN_KEYS["sources"], where, elsewhere("sources"))
        name = problems.take(item, where, "name", "string", '"hf-daily"', required=True)
        if name is not None and not _SOURCE_NAME.fullmatch(name):
            problems.add(
                f"{where}.name",
                f"{quote(name)} is not a valid source name (use letters, digits, '.', '_' and '-'"
                ' only, e.g. name = "arxiv-cs-cl")',
            )
        elif name is not None and name in names:
            problems.add(
                f"{where}.name",
                f"duplicate source name {quote(name)}"
                f" (sources[{names[name]}] has it too; give each source its own name)",
            )
        if name is not None:
            names.setdefault(name, index)
        kind = problems.choose(
            item, where, "type", SOURCE_TYPES, "source type", aliases=_TYPE_ALIASES, required=True
        )
        example = '"https://rss.arxiv.org/rss/cs.CL"'
        url = problems.take(item, where, "url", "string", example, required=True)
        if url is not None and (reason := source_url_problem(url)):
            problems.add(f"{where}.url", f"{quote(url)} is not a source URL: {reason}")
            url = None
        elif url is not None:
            url = resolve_file_url(url, folder)
        every = None
        text = problems.take(item, where, "every", "string", '"30m"')
        try:
            every = parse_duration(text or "1h")
        except ValueError as error:
            problems.add(f"{where}.every", str(error))
        revisions = problems.take(item, where, "include_revisions", "boolean", "true")
        exclude = _read_exclude(item, where, problems, check_query)
        if name is not None and kind is not None and url is not None and every is not None:
            sources.append(Source(name, kind, url, every, bool(revisions), exclude))
    return tuple(sources), set(names)


def read_subscribers(
    raw: Any, problems: Problems, timezone: str, names: set[str], check_query: CheckQuery
) -> tuple[Subscriber, ...]:
    """The [[subscribers]] tables (none is fine); `timezone` is the [bot] default."""
    if not isinstance(raw, list):
        fix = _AS_TABLES.format("subscriber", "subscribers")
        problems.wrong_type("subscribers", raw, "tables", fix)
        return ()
    subscribers: list[Subscriber] = []
    emails: dict[str, int] = {}
    homes = elsewhere("subscribers")
    check_query = _once_per_text(check_query)
    for index, item in enumerate(raw):
        where = key_path("subscribers", index)
        if not isinstance(item, dict):
            fix = _AS_TABLES.format("subscriber", "subscribers")
            problems.wrong_type(where, item, "table", fix)
            continue
        problems.unknown_keys(item, KNOWN_KEYS["subscribers"], where, homes)
        email = _read_email(item, where, problems, emails, index)
        name = problems.take(item, where, "name", "string", '"Alice"') or ""
        if not name.isprintable():
            problems.add(
                f"{where}.name",
                "contains a line break or a control character (write it on one line)",
            )
        listed = item.get("sources")  # checked below, in the order of the file's keys
        own = tuple(x for x in listed if isinstance(x, str)) if isinstance(listed, list) else None
        keywords = _read_keywords(item, where, problems, check_query, names, own)
        cadence = problems.choose(item, where, "cadence", CADENCES, "cadence")
        send_at = _read_send_at(item, where, problems)
        day = problems.choose(item, where, "day", WEEKDAYS, "day", aliases=_DAY_NAMES)
        zone = problems.take(item, where, "timezone", "string", '"Europe/Berlin"')
        if zone is not None and (reason := timezone_problem(zone)):
            problems.add(f"{where}.timezone", reason)
        allowed = _read_allowed(item, where, problems, names)
        abstract = problems.choose(item, where, "abstract", ABSTRACT_CHOICES, "abstract setting")
        paused = problems.take(item, where, "paused", "boolean", "true")
        if email is not None:
            subscribers.append(
                Subscriber(
                    email=email,
                    name=name,
                    keywords=keywords,
                    cadence=cadence or "daily",
                    send_at=send_at,
                    day=day or "mon",
                    timezone=zone or timezone,
                    sources=allowed,
                    abstract=abstract,
                    paused=bool(paused),
                )
            )
    return tuple(subscribers)


def _once_per_text(check_query: CheckQuery) -> CheckQuery:
    """`check_query`, asked once per query text: a query many subscribers share is parsed once
    (5,000 subscribers x 3 queries: issue 14). A bad query raises each time, for each problem."""
    parsed: dict[str, Any] = {}

    def check(text: str) -> Any:
        found = parsed.get(text)
        if found is None:
            found = parsed[text] = check_query(text)
        return found

    return check


def _read_email(
    item: dict[str, Any], where: str, problems: Problems, emails: dict[str, int], index: int
) -> str | None:
    """The subscriber's address when it is a valid bare address seen for the first time."""
    email = problems.take(item, where, "email", "string", '"alice@example.org"', required=True)
    if email is None:
        return None
    if reason := email_problem(email):
        display, address = parseaddr(email) if "<" in email and email.isprintable() else ("", "")
        if address and not email_problem(address):
            named = f" and name = {quote(display)}" if display else ""
            fix = f"write email = {quote(address)}{named}"
            problems.add(f"{where}.email", f"{quote(email)} is not a bare email address ({fix})")
        else:
            problems.add(
                f"{where}.email",
                f"{quote(email)} is not a valid email address: {reason}"
                ' (write it as name@domain.tld, e.g. "alice@example.org")',
            )
        return None
    if email.casefold() in emails:
        first = emails[email.casefold()]
        problems.add(
            f"{where}.email",
            f"duplicate subscriber {quote(email)} (subscribers[{first}] has the same address;"
            " merge the two into one [[subscribers]] table)",
        )
        return None
    emails[email.casefold()] = index
    return email


def _read_send_at(item: dict[str, Any], where: str, problems: Problems) -> time:
    """`send_at` as "HH:MM" or a TOML local time (08:00:00); 08:00 when absent or wrong."""
    value = item.get("send_at")
    if value is None:
        return time(8, 0)
    if not isinstance(value, str | time):
        problems.take(item, where, "send_at", "string", '"08:00"')
        return time(8, 0)
    try:
        return parse_send_at(value)
    except ValueError as error:
        problems.add(f"{where}.send_at", str(error))
        return time(8, 0)


def _read_exclude(
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
        problems.add(
            f"{where}.exclude",
            f"bad query {quote(text)}, column {error.column}: {error.expected}"
            " (fix the query; bot explain QUERY shows how a query is read)",
        )
        return None
    return text


def _read_keywords(
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
            problems.add(
                f"{where}.keywords[{index}]",
                f"bad query {quote(text)}, column {error.column}: {error.expected}"
                " (fix the query; bot explain QUERY shows how a query is read)",
            )
        else:
            _check_source_names(
                parsed, text, f"{where}.keywords[{index}]", problems, names, allowed
            )
        keywords.append(text)
    return tuple(keywords)


def _check_source_names(
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


def _read_allowed(
    item: dict[str, Any], where: str, problems: Problems, names: set[str]
) -> tuple[str, ...] | None:
    """The subscriber's `sources` (None: every source); each must name a [[sources]] table."""
    found = problems.take_strings(item, where, "sources", '["hf-daily"]')
    if found is None:
        return None
    if not item["sources"]:
        problems.add(
            f"{where}.sources",
            "is empty, so this subscriber would never get an email"
            " (name at least one source, or remove sources to get every source)",
        )
    for index, name in found:
        if name not in names:
            match = close_match(name, names)
            known = ", ".join(quote(known) for known in sorted(names)) or "none"
            hint = (
                f'did you mean "{match}"? the sources are: {known}'
                if match
                else f"the sources are: {known}"
            )
            problems.add(f"{where}.sources[{index}]", f"unknown source {quote(name)} ({hint})")
    return tuple(name for _, name in found)
