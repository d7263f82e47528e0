"""`bot subscribers …`: edit the [[subscribers]] of a settings file in place.

tomlkit keeps the operator's comments and layout. Every edit is validated as a whole settings
file before it is written, and written atomically (a temporary file renamed over the old one),
so a failed edit leaves the file as it was and a running daemon never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from bot.errors import ConfigError
from bot.models import Settings
from bot.settings import parse_settings

__all__ = ["add_subscriber", "remove_subscriber", "set_subscriber"]

# The optional per-subscriber keys that `add` and `set` take, in the order they are written.
FIELDS = ("name", "cadence", "send_at", "day", "timezone", "sources")


def _load(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: settings file not found") from None
    except (TOMLKitError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot edit: {exc} (run bot check)") from None


def _save(path: Path, document: tomlkit.TOMLDocument) -> Settings:
    """Validate the edited document as a settings file, then replace the file atomically."""
    text = tomlkit.dumps(document)
    settings = parse_settings(text.encode("utf-8"), path)
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return settings


def _find(document: tomlkit.TOMLDocument, email: str, path: Path) -> tuple[int, dict]:
    people = document.get("subscribers", [])
    for index, person in enumerate(people):
        if str(person.get("email", "")).lower() == email.lower():
            return index, person
    raise ConfigError(f"{path}: no subscriber {email} (bot subscribers list shows them)")


def add_subscriber(path: Path, email: str, keywords: Sequence[str], **fields: object) -> Settings:
    """Append a subscriber; refused (file unchanged) when it exists or the result is invalid."""
    document = _load(path)
    people = document.get("subscribers")
    if people is not None and any(str(p.get("email", "")).lower() == email.lower() for p in people):
        raise ConfigError(f"{path}: subscriber {email} exists already (use bot subscribers set)")
    table = tomlkit.table()
    table.add("email", email)
    for key in FIELDS[:1]:
        if fields.get(key) is not None:
            table.add(key, fields[key])
    table.add("keywords", list(keywords))
    for key in FIELDS[1:]:
        if fields.get(key) is not None:
            table.add(key, fields[key])
    if people is None:
        people = tomlkit.aot()
        document.add("subscribers", people)
    people.append(table)
    return _save(path, document)


def remove_subscriber(path: Path, email: str) -> Settings:
    """Remove a subscriber; their delivery history stays in the database."""
    document = _load(path)
    index, _ = _find(document, email, path)
    del document["subscribers"][index]
    return _save(path, document)


def set_subscriber(
    path: Path,
    email: str,
    *,
    keywords: Sequence[str] | None = None,
    add_keywords: Sequence[str] = (),
    remove_keywords: Sequence[str] = (),
    **fields: object,
) -> Settings:
    """Change a subscriber's keys; `keywords` replaces the list, add/remove edit it."""
    document = _load(path)
    _, person = _find(document, email, path)
    if keywords is not None:
        person["keywords"] = list(keywords)
    current = [str(k) for k in person.get("keywords", [])]
    missing = [k for k in remove_keywords if k not in current]
    if missing:
        raise ConfigError(f"{path}: {email} has no keyword {missing[0]!r}")
    current = [k for k in current if k not in remove_keywords]
    current += [k for k in add_keywords if k not in current]
    if add_keywords or remove_keywords:
        person["keywords"] = current
    for key, value in fields.items():
        if value is not None:
            person[key] = value
    return _save(path, document)
