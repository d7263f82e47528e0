"""`bot subscribers …`: edit the [[subscribers]] of a settings file in place.

tomlkit keeps the operator's comments and layout. Every edit is validated as a whole settings
file before it is written, and written atomically (a temporary file renamed over the old one),
so a failed edit leaves the file as it was and a running daemon never sees half a file.
"""

from __future__ import annotations

import codecs
import fcntl
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT

from bot.errors import ConfigError
from bot.models import Settings
from bot.settings.load import load_settings, parse_settings, read_settings_file
from bot.settings.tables import SUBSCRIBER_OPTIONS

__all__ = ["add_subscriber", "remove_subscriber", "set_subscriber"]


@contextmanager
def _editing(path: Path) -> Iterator[tuple[Path, tomlkit.TOMLDocument]]:
    """The settings document to edit, under an exclusive lock; saved when the block ends.

    A symlink is followed (the file it points to is edited, the link stays). Two edits at once
    wait for each other instead of one silently undoing the other: the lock is an flock on the
    file itself, taken again if an edit replaced the file while this one waited.
    """
    shown = Path(path)  # as the user named it, for messages and for the settings' own folder
    real = shown.resolve()
    with _locked(real):
        try:
            raw = read_settings_file(real)
            text = raw.decode("utf-8-sig")  # the loader accepts a BOM, so must the editor
            document = tomlkit.parse(text)
        except (TOMLKitError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{shown}: cannot edit: {exc} (run bot check)") from None
        yield shown, document
        out = tomlkit.dumps(document).replace("\r\n", "\n")
        if "\r\n" in text:  # keep the file's own line ends
            out = out.replace("\n", "\r\n")
        bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
        _save(real, bom + out.encode("utf-8"), shown)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block: refused below
        except FileNotFoundError:
            raise ConfigError(f"{path}: settings file not found") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot edit: {exc.strerror}") from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # replaced while we waited: lock the new file
    try:
        yield
    finally:
        os.close(fd)


def _save(path: Path, data: bytes, shown: Path) -> None:
    """Validate the edited file as settings, then replace it atomically, keeping mode and owner."""
    parse_settings(data, shown)
    st = path.stat()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, st.st_mode & 0o7777)
        try:  # after `sudo bot subscribers add`, the daemon's user must still read its file
            os.chown(tmp, st.st_uid, st.st_gid)
        except PermissionError:
            pass  # not root: the file is ours anyway
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _find(document: tomlkit.TOMLDocument, email: str, path: Path) -> tuple[int, dict]:
    people = document.get("subscribers", [])
    for index, person in enumerate(people):
        if str(person.get("email", "")).lower() == email.lower():
            return index, person
    raise ConfigError(f"{path}: no subscriber {email} (bot subscribers list shows them)")


def add_subscriber(path: Path, email: str, keywords: Sequence[str], **fields: object) -> Settings:
    """Append a subscriber; refused (file unchanged) when it exists or the result is invalid."""
    with _editing(path) as (path, document):
        _add(document, path, email, keywords, fields)
    return load_settings(path)


def _add(
    document: tomlkit.TOMLDocument,
    path: Path,
    email: str,
    keywords: Sequence[str],
    fields: dict[str, object],
) -> None:
    people = document.get("subscribers")
    if people is not None and any(str(p.get("email", "")).lower() == email.lower() for p in people):
        raise ConfigError(f"{path}: subscriber {email} exists already (use bot subscribers set)")
    table = tomlkit.table()
    table.add("email", email)
    for key in SUBSCRIBER_OPTIONS[:1]:
        if fields.get(key) is not None:
            table.add(key, fields[key])
    table.add("keywords", list(keywords))
    for key in SUBSCRIBER_OPTIONS[1:]:
        if fields.get(key) not in (None, [], False):
            table.add(key, fields[key])
    if people is not None and not isinstance(people, AoT):
        # `subscribers = [{…}]` written inline: rewrite it as [[subscribers]] tables at the end.
        rows = [dict(person) for person in people]
        del document["subscribers"]
        people = None
    else:
        rows = []
    if people is None:
        people = tomlkit.aot()
        for row in rows:
            people.append(tomlkit.item(row))
        document.add("subscribers", people)
    people.append(table)


def remove_subscriber(path: Path, email: str) -> Settings:
    """Remove a subscriber; their delivery history stays in the database."""
    with _editing(path) as (path, document):
        index, _ = _find(document, email, path)
        del document["subscribers"][index]
        if not document["subscribers"]:
            del document["subscribers"]  # no `subscribers = []` left for the next add to trip on
    return load_settings(path)


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
    with _editing(path) as (path, document):
        _, person = _find(document, email, path)
        _change(person, path, email, keywords, add_keywords, remove_keywords, fields)
    return load_settings(path)


def _change(
    person: dict,
    path: Path,
    email: str,
    keywords: Sequence[str] | None,
    add_keywords: Sequence[str],
    remove_keywords: Sequence[str],
    fields: dict[str, object],
) -> None:
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
        if value is None:
            continue
        # Back to the default: `sources = []` (every source) and `paused = false` are not
        # written; the key goes, so the file says only what differs from the defaults.
        if (key == "sources" and not value) or (key == "paused" and value is False):
            if key in person:
                del person[key]
        else:
            person[key] = value
