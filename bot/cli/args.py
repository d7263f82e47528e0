"""Reading the command line: option values and queries that argparse would misread."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime

__all__ = ["protect_queries", "date", "positive", "limit"]

# Options that take a value, for telling a query such as "-medical" from an option.
_VALUED = {
    *("--config", "--log-level", "--since", "--limit", "--html", "--paper"),
    *("--name", "--cadence", "--send-at", "--day", "--timezone", "--source"),
}
_QUERY_OPTIONS = {"-k", "--keyword", "--add-keyword", "--remove-keyword"}
_FLAGS = {"--json", "--help", "--mark-seen", "--connect", "--version", "--all", "--all-sources"}


def _long(token: str) -> str | None:
    """The long option `token` names, by itself or by a prefix (argparse's abbreviations)."""
    name = token.split("=", 1)[0]
    if not name.startswith("--") or len(name) < 3:
        return None
    found = [option for option in _VALUED | _FLAGS if option.startswith(name)]
    return found[0] if len(found) == 1 else (name if name in found else None)


def _valued(token: str) -> bool:
    """An option whose value is the next token (not written as --option=value)."""
    return "=" not in token and (token in _VALUED or _long(token) in _VALUED)


def _known(token: str) -> bool:
    return token in ("-h", *_QUERY_OPTIONS) or _long(token) is not None


def protect_queries(argv: Sequence[str]) -> list[str]:
    """Let a query start with "-" (SPEC section 5: `-medical`), which argparse takes for an option.

    `-k -medical` becomes `-k=-medical`; the QUERY of `search`/`explain` that starts with "-" is
    moved behind "--". Anything else is left for argparse to judge.
    """
    out: list[str] = []
    tokens = list(argv)
    command = None
    query: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--":
            out.extend(tokens[i:])
            break
        if token in _QUERY_OPTIONS and i + 1 < len(tokens):
            out.append(f"{token}={tokens[i + 1]}")
            i += 2
            continue
        if _valued(token):
            out.extend(tokens[i : i + 2])
            i += 2
            continue
        if command is None and not token.startswith("-"):
            command = token
        elif (
            command in ("search", "explain")
            and token.startswith("-")
            and len(token) > 1
            and not _known(token)
        ):
            query.append(token)
            i += 1
            continue
        out.append(token)
        i += 1
    if query and "--" not in out:
        out += ["--", *query]
    return out


def date(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"not a whole number from 1 up: {text!r}")
    return number


def limit(text: str) -> int | None:
    """`--limit N` or `--limit all` (None: no limit)."""
    if text.strip().lower() == "all":
        return None
    try:
        return positive(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"not a whole number from 1 up, nor 'all': {text!r}"
        ) from None
