"""One-time changes to a ledger written by an earlier version; run when the ledger is opened.

Each migration runs once per ledger, in the transaction that creates missing tables (under the
schema lock, so two processes opening one ledger never both run it), and is recorded in
`migrations`. Each is also safe to run twice.

identity-v2 (SPEC section 4, v2). Earlier versions merged any two records sharing a title key, so
one stored paper may hold two arXiv ids ("Comment on …" under two ids) or, with no arXiv id, two
DOIs (weekly "Editorial" items); the second paper was never recorded nor mailed. The migration
keeps one strong id of each kind per paper (its canonical one, else the one in its row, else the
first in sort order) and deletes the others from `paper_keys`, so that such a paper, listed again,
is recorded and mailed as the paper it is. Its title key stays with the first paper. A paper
stored under its title that had since gained an arXiv id or DOI takes it as its identity, with
that id's link (the arXiv abstract page or the DOI resolver): its own was at best a listing's.

title-key-hash. A title key longer than identity.TITLE_KEY_BYTES is now its title's hash
(identity.title_key): PostgreSQL cannot index a long one. Such keys, and canonical ids, written
before (SQLite took them, PostgreSQL took those under its 2,704-byte limit) become the hash, so
the paper stays known when listed again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Connection, String, Table, delete, func, select, update

from bot.identity import TITLE_KEY_BYTES, title_key
from bot.ledger.schema import UTCDateTime, metadata, paper_keys, papers

__all__ = ["migrations", "IDENTITY_V2", "TITLE_KEY_HASH", "migrate"]

migrations = Table(
    "migrations",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("applied_at", UTCDateTime(), nullable=False),
)

IDENTITY_V2 = "identity-v2"
TITLE_KEY_HASH = "title-key-hash"


def migrate(conn: Connection, insert_if_absent: Callable[[Connection, Table], Any]) -> None:
    """Run every migration this ledger has not had yet, and record it."""
    done = set(conn.scalars(select(migrations.c.name)))
    for name, run in ((IDENTITY_V2, _identity_v2), (TITLE_KEY_HASH, _title_key_hash)):
        if name not in done:
            run(conn)
            conn.execute(
                insert_if_absent(conn, migrations),
                [{"name": name, "applied_at": datetime.now(UTC)}],
            )


def _identity_v2(conn: Connection) -> None:
    strong: dict[int, list[str]] = {}
    query = select(paper_keys.c.key, paper_keys.c.paper_id).where(
        ~paper_keys.c.key.startswith("title:")
    )
    for key, paper_id in conn.execute(query):
        strong.setdefault(paper_id, []).append(key)
    if not strong:
        return
    rows = {
        row.id: row
        for row in conn.execute(
            select(papers.c.id, papers.c.canonical, papers.c.arxiv_id, papers.c.doi, papers.c.url)
        )
    }
    dropped: list[str] = []
    for paper_id, keys in strong.items():
        row = rows[paper_id]
        arxiv = sorted(k for k in keys if k.startswith("arxiv:"))
        kind, found = ("arxiv:", arxiv) if arxiv else ("doi:", sorted(keys))
        column = row.arxiv_id if arxiv else row.doi
        if row.canonical in found:
            keep = row.canonical
        elif column and f"{kind}{column.lower() if kind == 'doi:' else column}" in found:
            keep = f"{kind}{column.lower() if kind == 'doi:' else column}"
        else:
            keep = found[0]
        if arxiv:  # DOIs beside an arXiv id may all be the paper's (preprint and journal)
            dropped.extend(k for k in arxiv if k != keep)
        else:
            dropped.extend(k for k in found if k != keep)
        if row.canonical.startswith("title:"):
            conn.execute(update(papers).where(papers.c.id == paper_id).values(**_identity(keep)))
    for start in range(0, len(dropped), 500):
        conn.execute(delete(paper_keys).where(paper_keys.c.key.in_(dropped[start : start + 500])))


def _title_key_hash(conn: Connection) -> None:
    # A key over TITLE_KEY_BYTES bytes has over a quarter of that in characters (UTF-8: at most 4
    # bytes each); length() counts characters on both databases.
    for column, table in ((paper_keys.c.key, paper_keys), (papers.c.canonical, papers)):
        long = select(column).where(
            column.startswith("title:"), func.length(column) > TITLE_KEY_BYTES // 4
        )
        for (old,) in conn.execute(long).all():
            new = title_key(old.removeprefix("title:"))
            if new != old:
                conn.execute(update(table).where(column == old).values({column.name: new}))


def _identity(key: str) -> dict[str, str]:
    """The row values of a paper whose identity becomes `key` ("arxiv:…" or "doi:…")."""
    kind, value = key.split(":", 1)
    if kind == "arxiv":
        return {"canonical": key, "arxiv_id": value, "url": f"https://arxiv.org/abs/{value}"}
    return {"canonical": key, "doi": value, "url": f"https://doi.org/{value}"}
