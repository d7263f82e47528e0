"""The settings file (SPEC section 2): TOML → the frozen records of `bot.models`.

Every problem in a file is reported at once, one line each, in one ConfigError.
Refused: an empty file (an editor that truncates the file mid-save must not unsubscribe
everyone) and a file without [[sources]]. Allowed: a file without [[subscribers]] (the bot
still records papers). Relative paths (a sqlite database file, `maildir`, `templates`, a
`file:` source URL) are taken from the file's folder.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.models import Settings
from bot.query.syntax import parse_query
from bot.settings.lists import read_sources, read_subscribers
from bot.settings.problems import Problems
from bot.settings.tables import (
    KNOWN_KEYS,
    CheckQuery,
    elsewhere,
    read_bot,
    read_mail,
    table,
)
from bot.settings.values import parse_duration
from bot.settings.web import read_web

__all__ = [
    "KNOWN_KEYS",
    "load_settings",
    "read_settings_file",
    "parse_settings",
    "config_path",
    "parse_duration",
]

# tomllib ends each message with "(at line L, column C)" or "(at end of document)".
_TOML_AT = re.compile(r"(.*) \(at line (\d+), column (\d+)\)", re.DOTALL)


def config_path(cli_value: str | None, environ: Mapping[str, str]) -> Path:
    """--config, else $BOT_CONFIG, else ./settings.toml; an empty value counts as not given."""
    chosen = cli_value or environ.get("BOT_CONFIG") or "settings.toml"
    return Path(chosen).expanduser()


def load_settings(
    path: str | os.PathLike[str], *, check_query: CheckQuery | None = None
) -> Settings:
    """Read and validate the settings file at `path`; raises ConfigError, one line per problem."""
    return parse_settings(read_settings_file(path), path, check_query=check_query)


def read_settings_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the settings file at `path`; raises ConfigError saying why it cannot be read.

    Only a regular file is read: a FIFO or a device given as --config would block for ever
    (O_NONBLOCK lets the open return, fstat then says what it is).
    """
    shown = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(
            f"{shown}: settings file not found (run 'bot init' to write a commented example"
            " there and edit it, or pass --config PATH or set BOT_CONFIG)"
        ) from None
    except PermissionError:
        raise ConfigError(
            f"{shown}: cannot read the settings file: permission denied"
            " (make it readable by the user that runs bot)"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"{shown}: cannot read the settings file: {error.strerror or error} (check the path)"
        ) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise ConfigError(
                f"{shown}: is a folder, not a settings file"
                " (pass --config with the path of the .toml file)"
            )
        raise ConfigError(
            f"{shown}: is not a regular file (a pipe, socket or device cannot be read as"
            " settings; pass --config with the path of the .toml file)"
        )
    with os.fdopen(fd, "rb") as file:
        try:
            return file.read()
        except OSError as error:
            raise ConfigError(
                f"{shown}: cannot read the settings file: {error.strerror or error}"
            ) from None


def parse_settings(
    text_bytes: bytes, path: str | os.PathLike[str], *, check_query: CheckQuery | None = None
) -> Settings:
    """Validate settings given as bytes; `path` names the file and anchors its relative paths.

    `check_query(text)` raises QueryError for a bad query (default: `bot.query.syntax.parse_query`).
    Settings.path is `path` made absolute. Raises ConfigError with one line per problem.
    """
    shown = os.fspath(path)
    document = _parse_toml(text_bytes, shown)
    if not document:
        raise ConfigError(
            f"{shown}: the settings file is empty (refusing to run with no sources and no"
            " subscribers; restore it from your backup or from settings.example.toml)"
        )
    if check_query is None:
        check_query = parse_query
    try:
        return _validate(document, path, check_query)
    except RecursionError:  # a value nested too deep for our checks: tomllib took it
        raise _too_deep(shown) from None


def _too_deep(shown: str) -> ConfigError:
    return ConfigError(
        f"{shown}: arrays or tables nested too deeply (no setting needs more than two levels;"
        " fix the file where brackets open inside brackets)"
    )


def _validate(document: dict[str, Any], path: str | os.PathLike[str], check_query) -> Settings:
    shown = os.fspath(path)
    file = Path(path).absolute()
    problems = Problems(shown)
    problems.unknown_keys(document, tuple(KNOWN_KEYS), "", elsewhere(""))
    bot = read_bot(table(problems, document, "bot"), problems, file.parent)
    mail = read_mail(table(problems, document, "mail"), problems, file.parent)
    web = read_web(table(problems, document, "web"), problems) if "web" in document else None
    sources, names = read_sources(document.get("sources"), problems, file.parent, check_query)
    subscribers = read_subscribers(
        document.get("subscribers", []), problems, bot["timezone"], names, check_query
    )
    if problems.lines:
        raise ConfigError(problems.lines)
    return Settings(path=file, mail=mail, web=web, sources=sources, subscribers=subscribers, **bot)


def _parse_toml(data: bytes, shown: str) -> dict[str, Any]:
    """The TOML document in `data`; raises ConfigError naming the line and column of a bad byte."""
    body = data.removeprefix(codecs.BOM_UTF8)  # Windows editors write one; the text is UTF-8 anyway
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = body.rfind(b"\n", 0, error.start) + 1
        line = body.count(b"\n", 0, error.start) + 1
        column = len(body[line_start : error.start].decode("utf-8", "replace")) + 1
        raise ConfigError(
            f"{shown}:{line}:{column}: not valid UTF-8:"
            f" byte 0x{body[error.start]:02x} cannot be read"
            f" (save the file as UTF-8, fixing line {line}, column {column})"
        ) from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise _too_deep(shown) from None
    except tomllib.TOMLDecodeError as error:
        message = " ".join(str(error).split())
        at = _TOML_AT.fullmatch(message)
        if at:
            what, line, column = at[1], at[2], at[3]
            raise ConfigError(
                f"{shown}:{line}:{column}: TOML syntax error: {what}"
                f" (fix the file at line {line}, column {column})"
            ) from None
        what = message.removesuffix(" (at end of document)")
        last = len(text.rstrip().splitlines()) or 1
        raise ConfigError(
            f"{shown}:{last}: TOML syntax error: {what} at the end of the file"
            f" (fix the file at or before line {last})"
        ) from None
