"""Readers of the [bot] and [mail] tables, and what every reader shares (the known keys, paths).

Each reader records what is wrong in `Problems` and returns what it could read; `bot.settings.load`
raises when any problem was recorded, so a half-read record never leaves the loader.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.database_url import is_sqlite_path
from bot.models import MailSettings
from bot.settings.problems import Problems
from bot.settings.values import (
    hide_password,
    quote,
    sender_problem,
    timezone_problem,
    unsubscribe_problem,
)

__all__ = [
    "KNOWN_KEYS",
    "SUBSCRIBER_OPTIONS",
    "ABSTRACT_CHOICES",
    "CheckQuery",
    "elsewhere",
    "table",
    "resolve_path",
    "resolve_database",
    "resolve_file_url",
    "read_bot",
    "read_mail",
]

#: Every key each table accepts, in the order problems are reported; the example file shows all.
KNOWN_KEYS: Mapping[str, tuple[str, ...]] = {
    "bot": ("database", "timezone", "max_items", "abstract", "templates"),
    "mail": (
        "transport",
        "maildir",
        "from",
        "host",
        "port",
        "security",
        "username",
        "password_env",
        "concurrency",
        "timeout",
        "unsubscribe",
    ),
    "web": ("listen", "base_url", "secret_env"),
    "sources": ("name", "type", "url", "every", "include_revisions", "exclude"),
    "subscribers": (
        "email",
        "name",
        "keywords",
        "cadence",
        "send_at",
        "day",
        "timezone",
        "sources",
        "abstract",
        "paused",
    ),
}

#: The optional keys of a subscriber, in the order a new [[subscribers]] table is written: the
#: options of `bot subscribers add/set` (bot.settings.edit, bot.cli.subscribers).
SUBSCRIBER_OPTIONS = tuple(k for k in KNOWN_KEYS["subscribers"] if k not in ("email", "keywords"))

#: SPEC section 2: what a card shows of the abstract.
ABSTRACT_CHOICES = ("snippet", "full")

#: Raises QueryError when a keyword query cannot be parsed (bot.query.syntax.parse_query); when it
#: returns a bot.query.tree.Query, that query's `source:` names are checked against the sources.
CheckQuery = Callable[[str], object]

_HEADERS = {
    "bot": "[bot]",
    "mail": "[mail]",
    "web": "[web]",
    "sources": "[[sources]]",
    "subscribers": "[[subscribers]]",
}
# Upper bounds of numbers (SPEC section 2: values a sender or a clock cannot hold are refused):
MAX_ITEMS = 1000  # cards in one email; more is a message mail servers refuse for its size
MAX_CONCURRENCY = 100  # SMTP connections at once; each is a socket and a login
MAX_TIMEOUT = 3600  # seconds to wait for one SMTP answer
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DB_URL = re.compile(r"[A-Za-z][A-Za-z0-9+._-]*://")
_SQLITE_URL = re.compile(r"(sqlite(?:\+[A-Za-z0-9_]+)?):///(.*)", re.DOTALL)


def elsewhere(section: str) -> dict[str, str]:
    """Keys of the other tables that `section` lacks → the header they belong under ("" = top).

    A key written above [bot], or [mail] keys written after a [[subscribers]] line, land in the
    wrong table; saying where they belong is the fix.
    """
    homes: dict[str, str] = {}
    for other, keys in KNOWN_KEYS.items():  # a key of two tables goes to the first: [bot] timezone
        for key in keys:
            homes.setdefault(key, _HEADERS[other])
    own = KNOWN_KEYS.get(section, ())
    return {key: home for key, home in homes.items() if key not in own}


def table(problems: Problems, document: Mapping[str, Any], name: str) -> dict[str, Any]:
    """`document[name]` when it is a table (absent: empty); else {} and a problem."""
    value = document.get(name, {})
    if isinstance(value, dict):
        return value
    problems.wrong_type(
        name, value, "table", f"write [{name}] on a line of its own, its keys below"
    )
    return {}


def resolve_path(text: str, folder: Path) -> Path:
    """`text` (`~` expanded) as an absolute path; a relative one is taken from `folder`."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else folder / path


def resolve_database(url: str, folder: Path) -> str:
    """`sqlite:///rel.db` → `sqlite:////folder/rel.db`; absolute, memory, other URLs as given."""
    match = _SQLITE_URL.fullmatch(url)
    if match is None:
        return url
    file, separator, query = match[2].partition("?")
    if not is_sqlite_path(file) or Path(file).is_absolute():
        return url
    return f"{match[1]}:///{(folder / file).as_posix()}{separator}{query}"


def resolve_file_url(url: str, folder: Path) -> str:
    """`file:pages/x.txt` → `file:///folder/pages/x.txt`; other URLs as given."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "file" or parts.netloc or parts.path.startswith("/"):
        return url
    return Path(os.path.normpath(folder / unquote(parts.path))).as_uri()


def read_bot(raw: dict[str, Any], problems: Problems, folder: Path) -> dict[str, Any]:
    """The [bot] table as keyword arguments of Settings."""
    problems.unknown_keys(raw, KNOWN_KEYS["bot"], "bot", elsewhere("bot"))
    database = problems.take(raw, "bot", "database", "string", '"sqlite:///bot.db"')
    if database is not None and not _DB_URL.match(database):
        shown = hide_password(database)
        fix = quote(f"sqlite:///{shown}") if "://" not in shown else '"sqlite:///bot.db"'
        problems.add(
            "bot.database",
            f"{quote(shown)} is not a database URL (write database = {fix}, or any SQLAlchemy URL)",
        )
    timezone = problems.take(raw, "bot", "timezone", "string", '"UTC"')
    if timezone is not None and (reason := timezone_problem(timezone)):
        problems.add("bot.timezone", reason)
        timezone = None
    max_items = problems.take_between(raw, "bot", "max_items", "integer", "50", 1, MAX_ITEMS)
    abstract = problems.choose(raw, "bot", "abstract", ABSTRACT_CHOICES, "abstract setting")
    templates = problems.take(raw, "bot", "templates", "string", '"my-templates"')
    if templates is not None:
        templates = resolve_path(templates, folder)
        if not templates.is_dir():
            problems.add(
                "bot.templates",
                f"folder not found: {templates}"
                " (create it, or remove templates to use the bundled templates)",
            )
    return {
        "database": resolve_database(database or "sqlite:///bot.db", folder),
        "timezone": timezone or "UTC",
        "max_items": max_items or 50,
        "abstract": abstract or "snippet",
        "templates": templates,
    }


def read_mail(raw: dict[str, Any], problems: Problems, folder: Path) -> MailSettings:
    """The [mail] table; the login checks apply only when transport = "smtp"."""
    if "password" in raw:
        problems.add(
            "mail.password",
            "passwords do not go in the settings file (remove it, write password_env ="
            ' "BOT_SMTP_PASSWORD" and export BOT_SMTP_PASSWORD with the password)',
        )
    others = {key: value for key, value in raw.items() if key != "password"}
    problems.unknown_keys(others, KNOWN_KEYS["mail"], "mail", elsewhere("mail"))
    take = problems.take
    fields: dict[str, Any] = {}
    transport = problems.choose(raw, "mail", "transport", ("maildir", "smtp"), "transport")
    fields["transport"] = transport or "maildir"
    fields["maildir"] = resolve_path(
        take(raw, "mail", "maildir", "string", '"outbox"') or "outbox", folder
    )
    from_addr = take(raw, "mail", "from", "string", '"Paper Digest <digest@example.org>"')
    if from_addr is not None and (reason := sender_problem(from_addr)):
        problems.add(
            "mail.from",
            f"{quote(from_addr)} is not a valid sender address: {reason}"
            ' (write from = "Paper Digest <digest@example.org>" or a bare address)',
        )
    elif from_addr is not None:
        fields["from_addr"] = from_addr
    host = take(raw, "mail", "host", "string", '"smtp.example.org"')
    if host is not None and (not host or any(char.isspace() for char in host)):
        problems.add(
            "mail.host", f'{quote(host)} is not a host name (write host = "smtp.example.org")'
        )
    elif host is not None:
        fields["host"] = host
    fields["port"] = port = take(raw, "mail", "port", "integer", "587")
    if port is not None and not 1 <= port <= 65535:
        problems.add("mail.port", f"{port} is not a TCP port (write port = 587, or 1 to 65535)")
    security = problems.choose(raw, "mail", "security", ("none", "starttls", "tls"), "security")
    fields["security"] = security or "starttls"
    fields["username"] = username = take(raw, "mail", "username", "string", '"digest"')
    if username == "":
        problems.add("mail.username", 'is empty (write username = "digest", or remove it)')
    env = take(raw, "mail", "password_env", "string", '"BOT_SMTP_PASSWORD"')
    fields["password_env"] = env
    if env is not None and not _ENV_NAME.fullmatch(env):
        problems.add(
            "mail.password_env",
            f"{quote(env)} is not an environment variable name (it names the variable that holds"
            ' the password, not the password: write password_env = "BOT_SMTP_PASSWORD")',
        )
    concurrency = problems.take_between(
        raw, "mail", "concurrency", "integer", "4", 1, MAX_CONCURRENCY
    )
    fields["concurrency"] = concurrency or 4
    timeout = problems.take_between(
        raw, "mail", "timeout", "number", "30", 0, MAX_TIMEOUT, above=True
    )
    fields["timeout"] = float(timeout or 30.0)
    example = '"mailto:digest-admin@example.org?subject=unsubscribe"'
    fields["unsubscribe"] = unsubscribe = take(raw, "mail", "unsubscribe", "string", example)
    if unsubscribe is not None and (reason := unsubscribe_problem(unsubscribe)):
        problems.add(
            "mail.unsubscribe",
            f"{quote(unsubscribe)} is not usable: {reason}"
            f" (write unsubscribe = {example}, or an https:// URL)",
        )
    if transport == "smtp":
        _check_login(raw, problems, security, username, env)
    return MailSettings(**fields)


def _check_login(
    raw: dict[str, Any],
    problems: Problems,
    security: str | None,
    username: str | None,
    password_env: str | None,
) -> None:
    """An SMTP login needs both halves, and never crosses a connection without TLS."""
    if username and "password_env" not in raw:
        problems.add(
            "mail.password_env",
            "missing (username is set, so the password must come from an environment variable:"
            ' add password_env = "BOT_SMTP_PASSWORD" and export BOT_SMTP_PASSWORD)',
        )
    if password_env and "username" not in raw:
        problems.add(
            "mail.username",
            "missing (password_env is set, so the server needs a login name:"
            ' add username = "digest", or remove password_env)',
        )
    if security == "none" and username:
        problems.add(
            "mail.security",
            '"none" would send the username and password in clear text'
            ' (use security = "starttls" or "tls", or remove username and password_env)',
        )
