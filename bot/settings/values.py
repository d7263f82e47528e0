"""Checks of single settings values: each parses a value, or says why it is wrong."""

from __future__ import annotations

import difflib
import json
import re
import zoneinfo
from collections.abc import Iterable
from datetime import time, timedelta
from email.utils import parseaddr
from functools import lru_cache
from urllib.parse import SplitResult, unquote, urlsplit

__all__ = [
    "MAX_DURATION",
    "parse_duration",
    "parse_send_at",
    "email_problem",
    "sender_problem",
    "timezone_problem",
    "unsubscribe_problem",
    "source_url_problem",
    "close_match",
    "quote",
    "hide_password",
]

_DURATION = re.compile(r"([0-9]{1,15})([smhd])")  # more digits is a typo
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The longest `every`: a year is far past any listing's life, and far inside any clock's range.
MAX_DURATION = timedelta(days=365)
_SEND_AT = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
# RFC 5322 dot-atom for the local part; RFC 1035 labels for the domain, which needs a dot and a TLD.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})")
# user:password@ at the start of a URL's authority, or of a URL written without its scheme; not
# sqlite:///… (no authority). Greedy to the last @: a password may hold an unencoded @.
_USERINFO = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+._-]*://)?[^/:@\s]*):(?!//).*@", re.DOTALL)
_NAME_ADDR = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]*)>")


def parse_duration(text: str) -> timedelta:
    """`"90s"`, `"30m"`, `"1h"`, `"2d"` → timedelta; raises ValueError naming the fix."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"{quote(text)} is not a duration (write a whole number and a unit s, m, h or d,"
            ' e.g. "90s", "30m", "1h" or "2d")'
        )
    count, unit = int(match[1]), match[2]
    if count == 0:
        raise ValueError(f'{quote(text)} is not a positive duration (use at least "1{unit}")')
    # 15 digits of days overflow timedelta; far less overflows a scheduler's datetime (now +
    # interval past year 9999 raised OverflowError in APScheduler and stopped every poll).
    if count * _SECONDS[unit] > MAX_DURATION.total_seconds():
        raise ValueError(f'{quote(text)} is too long a duration (use at most "365d")')
    return timedelta(**{_UNITS[unit]: count})


def hide_password(url: str) -> str:
    """`url` with its password shown as ***, even when no URL parser can read it."""
    return _USERINFO.sub(r"\1:***@", url, count=1)


def parse_send_at(value: str | time) -> time:
    """`"HH:MM"` (24-hour) or a TOML local time → time; raises ValueError naming the fix."""
    if isinstance(value, time):
        if value.tzinfo is None and value.second == 0 and value.microsecond == 0:
            return value
        text = value.isoformat()
    else:
        match = _SEND_AT.fullmatch(value.strip())
        if match:
            return time(int(match[1]), int(match[2]))
        text = value
    raise ValueError(
        f'{quote(text)} is not a time of day (write "HH:MM" on the 24-hour clock,'
        ' e.g. "08:00" or "18:30")'
    )


def email_problem(address: str) -> str | None:
    """Why `address` is not a plain `local@domain.tld` address, or None when it is one."""
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in address):
        return "it contains a space or a line break"
    if not address.isascii():
        return "it contains non-ASCII characters, which many mail servers refuse"
    if address.count("@") != 1:
        return "it has no @" if "@" not in address else "it has more than one @"
    local, domain = address.split("@")
    if not _LOCAL.fullmatch(local) or len(local) > 64:
        return "the part before @ is not valid"
    if not _DOMAIN.fullmatch(domain) or len(address) > 254:
        return "the part after @ is not a domain such as example.org"
    return None


def sender_problem(value: str) -> str | None:
    """Why `value` is not `address` or `Display Name <address>`, or None when it is one."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return "it contains a line break or a control character"
    named = _NAME_ADDR.fullmatch(value.strip())
    address = named["addr"] if named else value.strip()
    reason = email_problem(address)
    if reason:
        return reason
    # Whoever writes the From header parses this again with email.utils: it must agree with us.
    if parseaddr(value)[1] != address:
        return 'its display name needs quotes, e.g. "\\"Digest, Papers\\" <digest@example.org>"'
    return None


def timezone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone known to zoneinfo (with a suggestion), or None."""
    try:
        zoneinfo.ZoneInfo(name)
        return None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    zones = _all_timezones()
    by_city = {zone.rsplit("/", 1)[-1].lower(): zone for zone in zones}
    match = by_city.get(name.strip().lower().replace(" ", "_")) or close_match(name.strip(), zones)
    hint = (
        f'did you mean "{match}"?' if match else 'use an IANA name such as "Europe/Berlin" or "UTC"'
    )
    return f"unknown time zone {quote(name)} ({hint})"


@lru_cache(maxsize=1)
def _all_timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The choice `word` most likely meant (difflib, ignoring case), or None."""
    lowered = {choice.lower(): choice for choice in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    matches = difflib.get_close_matches(word.lower(), list(lowered), n=1)
    return lowered[matches[0]] if matches else None


def quote(text: str) -> str:
    """`text` as a TOML string, so a user can copy it back: '…' when it holds only double quotes."""
    if '"' in text and "'" not in text and text.isprintable():
        return f"'{text}'"
    return json.dumps(text, ensure_ascii=False)


def _split(value: str) -> tuple[SplitResult, str | None]:
    """The parts of URL `value`, and why it is unusable (a bad [IPv6] host, a port past 65535)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (reading it is the check: it raises for a bad port)
    except ValueError as exc:
        return urlsplit(""), f"it is not a valid URL ({exc})"
    return parts, None


def unsubscribe_problem(value: str) -> str | None:
    """Why `value` is neither a `mailto:` address nor an `https:` URL, or None when it is one."""
    if any(char.isspace() for char in value):
        return "it contains a space or a line break"
    parts, problem = _split(value)
    if problem:
        return problem
    if parts.scheme.lower() == "mailto":
        return email_problem(unquote(parts.path)) and "its mailto: address is not valid"
    if parts.scheme.lower() == "https" and parts.netloc:
        return None
    return "it is neither a mailto: address nor an https: URL"


def source_url_problem(value: str) -> str | None:
    """Why `value` is not an http(s):// or file: URL, or None when it is one.

    A file: URL is absolute (file:///srv/list.txt) or relative to the settings file (file:list.txt).
    """
    if any(char.isspace() for char in value):
        return "it contains a space or a line break (write spaces as %20)"
    parts, problem = _split(value)
    if problem:
        return problem
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and parts.hostname:
        return None
    if scheme == "file" and parts.path and parts.netloc in ("", "localhost"):
        return None
    if scheme == "file":
        place = f"{quote(parts.netloc)} would be read as a host name" if parts.netloc else "no path"
        return (
            f"{place} (write file:///srv/pages/list.txt for an absolute path,"
            " or file:pages/list.txt for a path relative to the settings file)"
        )
    return "it is not an http://, https:// or file: URL"
