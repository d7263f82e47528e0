"""The collector of settings problems, and typed reading of raw TOML values into it.

Every line reads `<file>: <key path>: <what is wrong> (<how to fix>)`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from bot.settings.values import close_match, quote

__all__ = ["Problems", "key_path"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_KINDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "array": "an array",
    "table": "a table",
    "tables": "an array of tables",
}


def key_path(where: str, key: str | int) -> str:
    """`where` extended by a key (`mail.from`, quoted when not a bare key) or an index (`[2]`)."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    shown = key if _BARE_KEY.fullmatch(key) else quote(key)
    return f"{where}.{shown}" if where else shown


def _describe(value: Any) -> str:
    """A TOML value as a user would name it: `the integer 30`, `an array`."""
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the float {value}"
    if isinstance(value, str):
        return f"the string {quote(value if len(value) <= 60 else value[:57] + '...')}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, date):
        return "a date"
    return "a time"


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


class Problems:
    """Collects one line per problem: `<file>: <key path>: <what is wrong> (<how to fix>)`."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: list[str] = []

    def add(self, where: str, text: str) -> None:
        """Record one problem at key path `where` ("" for the file as a whole)."""
        self.lines.append(f"{self.file}: {where}: {text}" if where else f"{self.file}: {text}")

    def unknown_keys(
        self,
        table: Mapping[str, Any],
        known: Sequence[str],
        where: str,
        elsewhere: Mapping[str, str],
    ) -> None:
        """Report each key of `table` not in `known`; `elsewhere` maps other tables' keys."""
        for key, value in table.items():
            if key in known:
                continue
            is_table = isinstance(value, dict) or (
                isinstance(value, list) and bool(value) and isinstance(value[0], dict)
            )
            match = close_match(key, known)
            if match:
                hint = f'did you mean "{match}"?'
            elif key in elsewhere:
                hint = (
                    f"this key belongs in {elsewhere[key]}; move it below the {elsewhere[key]} line"
                )
            else:
                hint = f"remove it; the keys here are: {', '.join(known)}"
            self.add(key_path(where, key), f"unknown {'table' if is_table else 'key'} ({hint})")

    def take(
        self,
        table: Mapping[str, Any],
        where: str,
        key: str,
        kind: str,
        example: str,
        *,
        required: bool = False,
    ) -> Any:
        """`table[key]` when of TOML type `kind`; else None, with a problem unless merely absent.

        `example` is a TOML literal for the fix, as in `write every = "30m"`.
        """
        if key not in table:
            if required:
                self.add(key_path(where, key), f"missing required key (add {key} = {example})")
            return None
        value = table[key]
        if kind == "number" and _is_kind(value, kind) and not math.isfinite(value):
            self.add(
                key_path(where, key), f"{value} is not a finite number (write {key} = {example})"
            )
            return None
        if _is_kind(value, kind):
            return value
        self.wrong_type(key_path(where, key), value, kind, f"write {key} = {example}")
        return None

    def take_between(
        self,
        table: Mapping[str, Any],
        where: str,
        key: str,
        kind: str,
        example: str,
        low: float,
        high: float,
        *,
        above: bool = False,
    ) -> Any:
        """`table[key]` when of TOML type `kind` and from `low` (`above`: more than `low`) to
        `high`; else None, with a problem unless merely absent.

        The bounds keep numbers a sender or a clock cannot use (a million SMTP connections, a
        timeout of years) out of the running daemon.
        """
        value = self.take(table, where, key, kind, example)
        if value is None:
            return None
        if value < low or (above and value == low):
            what = f"is not more than {low}" if above else f"is less than {low}"
        elif value > high:
            what = f"is more than {high}"
        else:
            return value
        span = f"more than {low} and at most {high}" if above else f"from {low} to {high}"
        self.add(
            key_path(where, key), f"{value} {what} (write {key} = {example}, or any number {span})"
        )
        return None

    def wrong_type(self, where: str, value: Any, kind: str, fix: str) -> None:
        """Record that the value at `where` is not of TOML type `kind`."""
        self.add(where, f"expected {_KINDS[kind]}, got {_describe(value)} ({fix})")

    def take_strings(
        self,
        table: Mapping[str, Any],
        where: str,
        key: str,
        example: str,
        *,
        required: bool = False,
    ) -> list[tuple[int, str]] | None:
        """`table[key]` as (index, text) pairs when it is an array; items that are not strings are
        reported and left out. None when absent or not an array."""
        items = self.take(table, where, key, "array", example, required=required)
        if items is None:
            return None
        good = []
        for index, item in enumerate(items):
            if isinstance(item, str):
                good.append((index, item))
            else:
                self.add(
                    key_path(key_path(where, key), index),
                    f"expected a string, got {_describe(item)} (write each item in quotes,"
                    f" e.g. {key} = {example})",
                )
        return good

    def choose(
        self,
        table: Mapping[str, Any],
        where: str,
        key: str,
        choices: Sequence[str],
        noun: str,
        *,
        aliases: Mapping[str, str] | None = None,
        required: bool = False,
    ) -> str | None:
        """`table[key]` when it is one of `choices`; else None (absent, or a problem recorded)."""
        value = self.take(table, where, key, "string", quote(choices[0]), required=required)
        if value is None or value in choices:
            return value
        match = (aliases or {}).get(value.lower()) or close_match(value, choices)
        options = ", ".join(quote(choice) for choice in choices)
        hint = (
            f'did you mean "{match}"? use one of: {options}' if match else f"use one of: {options}"
        )
        self.add(key_path(where, key), f"{quote(value)} is not a known {noun} ({hint})")
        return None
