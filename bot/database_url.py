"""What the database part of a SQLite URL names; pure, shared by the settings loader and the ledger.

SQLAlchemy's `sqlite:///NAME`: NAME is a file path, or `:memory:` / empty (an in-memory database),
or a `file:` URI (sqlite.org/uri.html, with `?uri=true`), which SQLite itself resolves.
"""

from __future__ import annotations

__all__ = ["is_sqlite_path"]


def is_sqlite_path(name: str | None) -> bool:
    """Whether the database NAME of a SQLite URL is a file path: not empty, not `:memory:` and
    not a `file:` URI (the settings resolve such a path against their folder; the ledger creates,
    checks and locks that file)."""
    return bool(name) and name != ":memory:" and not name.startswith("file:")
