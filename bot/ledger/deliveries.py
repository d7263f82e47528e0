"""The ledger's deliveries: one paper owed to one subscriber (SPEC section 4), until an email.

Deliveries are written with their paper, in `Papers.record`'s transaction (`queue_deliveries`);
here they are read for composing and quarantined when a paper cannot be rendered (RELIABILITY
K4). Once in an outbox email they follow that email (see `outbox`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Text,
    bindparam,
    cast,
    column,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from bot.ledger.db import insert_if_absent
from bot.ledger.handle import Database, chunks, sources_of
from bot.ledger.schema import (
    PENDING,
    QUARANTINED,
    deliveries,
    paper_from_row,
    subscribers,
)
from bot.ledger.schema import papers as paper_table
from bot.models import Pending

__all__ = ["Deliveries", "queue_deliveries", "unassigned", "row_ids"]

_COLUMNS = ("email", "paper_id", "state", "queries", "queued_at", "attempts")
_BATCH = 50_000  # deliveries per INSERT: memory stays flat however many subscribers


class Deliveries:
    """Deliveries owed: read for composing, listed by subscriber, quarantined."""

    def __init__(self, database: Database):
        self._db = database

    def pending(
        self, email: str, limit: int | None = None, outbox_id: int | None = None
    ) -> list[Pending]:
        """The subscriber's pending deliveries not yet in an email (or, with `outbox_id`, those
        in that email), oldest queued first."""
        where = (
            unassigned(email)
            if outbox_id is None
            else (deliveries.c.email == email.lower(), deliveries.c.outbox_id == outbox_id)
        )
        query = (
            select(paper_table, deliveries.c.queries, deliveries.c.queued_at)
            .join(deliveries, deliveries.c.paper_id == paper_table.c.id)
            .where(*where)
            .order_by(deliveries.c.queued_at, paper_table.c.first_seen, paper_table.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            by_id = sources_of(conn, [r.id for r in rows])
        return [
            Pending(
                email=email.lower(),
                paper=paper_from_row(r, by_id.get(r.id, ())),
                queries=tuple(json.loads(r.queries)),
                queued_at=r.queued_at,
            )
            for r in rows
        ]

    def emails_with_pending(self) -> list[str]:
        """Every email with at least one pending delivery not yet in an email, sorted."""
        query = (
            select(deliveries.c.email)
            .where(deliveries.c.state == PENDING, deliveries.c.outbox_id.is_(None))
            .distinct()
        )
        with self._db.read() as conn:
            return sorted(conn.scalars(query))

    def oldest_unassigned(self) -> dict[str, datetime]:
        """email -> when its oldest pending delivery not yet in an email was queued."""
        query = (
            select(deliveries.c.email, func.min(deliveries.c.queued_at).label("oldest"))
            .where(deliveries.c.state == PENDING, deliveries.c.outbox_id.is_(None))
            .group_by(deliveries.c.email)
        )
        with self._db.read() as conn:
            return {row.email: row.oldest for row in conn.execute(query)}

    def note_render_failure(
        self, email: str, paper_ids: Sequence[str], error: str, now: datetime, limit: int = 3
    ) -> list[str]:
        """Count a failed render against these deliveries; quarantine those at `limit` failures.

        Returns the canonical ids quarantined now (RELIABILITY K4: a poison paper must not stop
        the subscriber's other papers, nor be retried forever).
        """
        quarantined: list[str] = []
        with self._db.write() as conn:
            for chunk in chunks(list(dict.fromkeys(paper_ids))):
                where = (*unassigned(email), deliveries.c.paper_id.in_(row_ids(chunk)))
                conn.execute(
                    update(deliveries)
                    .where(*where)
                    .values(attempts=deliveries.c.attempts + 1, error=error)
                )
                poison = select(deliveries.c.paper_id).where(*where, deliveries.c.attempts >= limit)
                rows = list(conn.scalars(poison))
                if rows:
                    conn.execute(
                        update(deliveries)
                        .where(deliveries.c.email == email.lower(), deliveries.c.paper_id.in_(rows))
                        .values(state=QUARANTINED, sent_at=now)
                    )
                    quarantined += conn.scalars(
                        select(paper_table.c.canonical).where(paper_table.c.id.in_(rows))
                    )
        return sorted(quarantined)


def queue_deliveries(
    conn: Connection,
    triples: Iterable[tuple[str, str, tuple[str, ...]]],
    ids: dict[str, int],
    now: datetime,
) -> None:
    """A pending delivery per (email, canonical id, queries) whose subscriber was first seen at or
    before `now`, in `Papers.record`'s transaction: a paper and its deliveries commit together.
    `ids`: canonical id -> row id of the papers new in it. A pair given twice keeps its first
    queries. `triples` is read as it comes, _BATCH rows at a time (a poll of 50,000 subscribers
    queues millions: issue 14)."""
    eligible = set(conn.scalars(select(subscribers.c.email).where(subscribers.c.first_seen <= now)))
    encoded: dict[tuple[str, ...], str] = {}  # queries -> JSON text: few distinct, many rows
    batch: dict[tuple[str, int], str] = {}
    for email, paper_id, queries in triples:
        row = ids.get(paper_id)
        if row is None:
            raise ValueError(
                f"queue returned paper {paper_id!r}, which is not new in this record()"
            )
        key = (email.lower(), row)
        if key[0] in eligible and key not in batch:
            text = encoded.get(queries)
            if text is None:
                text = encoded[queries] = json.dumps(list(queries), ensure_ascii=False)
            batch[key] = text
            if len(batch) >= _BATCH:
                _insert_pending(conn, batch, now)
                batch = {}
    if batch:
        _insert_pending(conn, batch, now)


def _insert_pending(conn: Connection, batch: dict[tuple[str, int], str], now: datetime) -> None:
    """Insert pending deliveries {(email, paper row id): queries as JSON}; a pair already in the
    ledger is left as it is.

    Sorted by (email, paper_id), the primary key and the state index are written in order: 300k
    rows took 7.2 s in a paper's order, 2.0 s sorted (SQLite). Not through SQLAlchemy's
    executemany, which processes every row's parameters in Python (3 s for 300k rows): on SQLite
    the compiled INSERT goes to the driver's executemany with plain tuples and `now` converted
    once; on PostgreSQL one INSERT … SELECT per batch (psycopg's executemany sends one INSERT per
    row: 13 s for 300k rows).
    """
    rows = sorted(batch.items())
    if conn.dialect.name == "sqlite":
        _executemany(conn, rows, now)
    else:
        _insert_from_json(conn, rows, now)


def _executemany(conn: Connection, rows: list[tuple[tuple[str, int], str]], now: datetime) -> None:
    """SQLite: the INSERT compiled once, executed by the driver with a tuple per row."""
    statement = insert_if_absent(conn, deliveries).compile(
        dialect=conn.dialect, column_keys=_COLUMNS
    )
    assert statement.positiontup == list(_COLUMNS), statement.positiontup  # the tuples' order
    stored = deliveries.c.queued_at.type.dialect_impl(conn.dialect)
    at = stored.bind_processor(conn.dialect)(now)  # the text SQLAlchemy stores for `now`
    conn.exec_driver_sql(
        statement.string, [(email, row, PENDING, text, at, 0) for (email, row), text in rows]
    )


def _insert_from_json(
    conn: Connection, rows: list[tuple[tuple[str, int], str]], now: datetime
) -> None:
    """PostgreSQL: INSERT … SELECT FROM json_to_recordset(the rows as one JSON text).

    One parameter, encoded by json.dumps in C: psycopg dumps a list parameter item by item with a
    regex each (5.7 s of 286k rows as three arrays), and its executemany sends one INSERT per row.
    """
    given = (
        func.json_to_recordset(cast(bindparam("rows", type_=Text), postgresql.JSON))
        .table_valued(column("email", Text), column("paper_id", Integer), column("queries", Text))
        .render_derived(name="given", with_types=True)
    )
    values = select(
        given.c.email,
        given.c.paper_id,
        literal(PENDING),
        given.c.queries,
        literal(now, deliveries.c.queued_at.type),
        literal(0),
    )
    statement = postgresql.insert(deliveries).from_select(_COLUMNS, values)
    payload = [{"email": e, "paper_id": row, "queries": text} for (e, row), text in rows]
    conn.execute(
        statement.on_conflict_do_nothing(), {"rows": json.dumps(payload, ensure_ascii=False)}
    )


def unassigned(email: str) -> tuple[Any, ...]:
    """Where-clauses: this subscriber's pending deliveries that are in no email yet."""
    return (
        deliveries.c.email == email.lower(),
        deliveries.c.state == PENDING,
        deliveries.c.outbox_id.is_(None),
    )


def row_ids(canonical: list[str]) -> Any:
    """The row ids of papers given by canonical id, as a subquery for IN (...)."""
    return select(paper_table.c.id).where(paper_table.c.canonical.in_(canonical)).scalar_subquery()
