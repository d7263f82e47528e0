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

from bot.models import CADENCES, SOURCE_TYPES, WEEKDAYS, Source, Subscriber
from bot.settings.problems import Problems, key_path
from bot.settings.queries import once_per_text, read_exclude, read_keywords
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
        exclude = read_exclude(item, where, problems, check_query)
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
    check_query = once_per_text(check_query)
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
        keywords = read_keywords(item, where, problems, check_query, names, own)
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
