"""The ledger's layout, used by the ledger modules only (opening it: `db`).

Tables (SQLAlchemy Core) the same on SQLite and PostgreSQL; every datetime column is
`UTCDateTime`: aware UTC in, aware UTC out. Also Paper <-> row.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.types import TypeDecorator

from bot.models import Paper

__all__ = [
    "UTCDateTime",
    "metadata",
    "papers",
    "paper_keys",
    "paper_sources",
    "sources",
    "subscribers",
    "deliveries",
    "outbox",
    "outbox_data",
    "recipients",
    "PENDING",
    "SENDING",
    "SENT",
    "FAILED",
    "QUARANTINED",
    "DROPPED",
    "STATES",
    "EMAIL_STATES",
    "paper_row",
    "paper_from_row",
]

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
QUARANTINED = "quarantined"
# A delivery or an email a recipient's opt-out (or a suspension) cancelled before it went: kept,
# never sent; `bot status` counts it when there is one (bot.ledger.recipients).
DROPPED = "dropped"
STATES = (PENDING, SENT, FAILED, QUARANTINED)  # of a delivery (one paper owed to one subscriber)
EMAIL_STATES = (PENDING, SENDING, SENT, FAILED)  # of an outbox row (one email)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC; values come back aware UTC.

    SQLite's DATETIME keeps no offset (DESIGN.md pitfalls), so it gets naive UTC text, which also
    sorts and compares correctly; PostgreSQL gets `timestamptz`. Raises ValueError on a naive value:
    guessing its zone would silently shift every comparison.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} given to the store; pass aware UTC"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

# One row per paper; `canonical` is identity.keys(paper)[0] ("arxiv:…", "doi:…" or "title:…").
# authors and categories are JSON arrays as text, portable across both databases.
papers = Table(
    "papers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("canonical", Text, nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("url", Text, nullable=False, default=""),
    Column("abstract", Text, nullable=False, default=""),
    Column("authors", Text, nullable=False, default="[]"),
    Column("categories", Text, nullable=False, default="[]"),
    Column("arxiv_id", Text),
    Column("doi", Text),
    Column("published", UTCDateTime()),
    Column("first_seen", UTCDateTime(), nullable=False),
    Index("ix_papers_first_seen", "first_seen"),
)

# Every identity key a paper was ever seen under; a paper is known when any of its keys is here.
paper_keys = Table(
    "paper_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column("paper_id", Integer, ForeignKey("papers.id"), nullable=False),
    Index("ix_paper_keys_paper_id", "paper_id"),
)

paper_sources = Table(
    "paper_sources",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id"), nullable=False),
    Column("source", String(200), nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("paper_id", "source"),
)

# Poll state per source: HTTP validators for conditional GET and what `bot status` shows.
sources = Table(
    "sources",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_poll", UTCDateTime()),
    Column("last_success", UTCDateTime()),
    Column("last_error", Text),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_count", Integer, nullable=False, default=0),
)

# When the bot first saw each (lower-cased) email: it only receives papers first seen after that.
subscribers = Table(
    "subscribers",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("first_seen", UTCDateTime(), nullable=False),
)

# One row per (subscriber, paper), never two (SPEC section 4). While pending it may already be in
# an email (`outbox_id`); it becomes sent/failed in the same transaction as that email's row.
# `attempts` counts failed renders: at 3 the delivery is quarantined (RELIABILITY K4).
deliveries = Table(
    "deliveries",
    metadata,
    Column("email", String(320), nullable=False),
    Column("paper_id", Integer, ForeignKey("papers.id"), nullable=False),
    Column("state", String(12), nullable=False, default=PENDING),
    Column("queries", Text, nullable=False, default="[]"),
    Column("queued_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("message_id", Text),
    Column("error", Text),
    Column("outbox_id", Integer, ForeignKey("outbox.id")),
    Column("attempts", Integer, nullable=False, default=0),
    PrimaryKeyConstraint("email", "paper_id"),
    Index("ix_deliveries_state_email", "state", "email", "queued_at"),
    Index("ix_deliveries_outbox_id", "outbox_id"),
)

# The outbox: one row per email, rendered once; its bytes and Message-ID never change, so a retry
# after a crash sends the very same message (RELIABILITY finding 1). pending -> sending -> sent or
# failed, one commit per step. A `sending` row belongs to `claimed_by` ("host:pid") until
# `lease_until`; after that, or once that process is gone, it is sent again. `period` (e.g.
# "daily:2026-11-22") makes a scheduled digest idempotent: one per (email, period); NULLs never
# collide, on SQLite and PostgreSQL alike.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("period", Text),
    Column("state", String(12), nullable=False, default=PENDING),
    Column("message_id", Text, nullable=False),
    Column("papers", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("next_attempt", UTCDateTime()),
    Column("claimed_by", Text),
    Column("lease_until", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("error", Text),
    UniqueConstraint("email", "period", name="uq_outbox_email_period"),
    Index("ix_outbox_state_id", "state", "id"),
    Index("ix_outbox_email_state", "email", "state"),
)

# The bytes of each outbox email, written once. Apart from `outbox` because a database rewrites a
# whole row on UPDATE: with the ~20 KB body inline, every state change copied it (measured on
# SQLite: 2 ms per email, a tenth of that without).
outbox_data = Table(
    "outbox_data",
    metadata,
    Column("outbox_id", Integer, ForeignKey("outbox.id"), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)


# What recipients decided on their page, or their mail server for them (SPEC section 6): one row
# per (lower-cased) address, shared by every process on the ledger. `state` is "unsubscribed",
# "paused", "suspended" or "" (nothing stops sending; the row only counts refusals). `refusals`
# counts emails in a row refused at RCPT with a 5xx, the last at `refused_at` with `reply`. Kept
# apart from the settings file: the operator's edits never undo it.
recipients = Table(
    "recipients",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("state", String(12), nullable=False, default=""),
    Column("since", UTCDateTime()),
    Column("how", Text),  # "one-click", "page", or the server's reply of a suspension
    Column("refusals", Integer, nullable=False, default=0),
    Column("refused_at", UTCDateTime()),
    Column("reply", Text),
)


def paper_row(paper: Paper) -> dict[str, Any]:
    """The `papers` row of a Paper whose id and first_seen are set."""
    return {
        "canonical": paper.id,
        "title": paper.title,
        "url": paper.url,
        "abstract": paper.abstract,
        "authors": json.dumps(list(paper.authors), ensure_ascii=False),
        "categories": json.dumps(list(paper.categories), ensure_ascii=False),
        "arxiv_id": paper.arxiv_id,
        "doi": paper.doi,
        "published": paper.published,
        "first_seen": paper.first_seen,
    }


def paper_from_row(row: Row[Any], source_names: tuple[str, ...]) -> Paper:
    """The Paper of a `papers` row (revision is not stored: a stored paper is just a paper)."""
    return Paper(
        title=row.title,
        url=row.url,
        abstract=row.abstract,
        authors=tuple(json.loads(row.authors)),
        categories=tuple(json.loads(row.categories)),
        sources=source_names,
        published=row.published,
        arxiv_id=row.arxiv_id,
        doi=row.doi,
        id=row.canonical,
        first_seen=row.first_seen,
    )
