"""Plain SQL reads of the ledger, for tests: what is stored, read as a reader of the tables would
(no ledger method stands between the test and the rows)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from bot.ledger import Ledger


def _rows(ledger: Ledger, sql: str, **params: Any) -> list[Any]:
    with ledger.database.read() as conn:
        return conn.execute(text(sql), params).all()


def paper_count(ledger: Ledger) -> int:
    """How many papers the ledger holds."""
    return _rows(ledger, "SELECT count(*) FROM papers")[0][0]


def pending_count(ledger: Ledger, email: str) -> int:
    """How many deliveries to `email` are pending (in an unsent email or in none yet)."""
    sql = "SELECT count(*) FROM deliveries WHERE email = :email AND state = 'pending'"
    return _rows(ledger, sql, email=email.lower())[0][0]


def outbox_row(ledger: Ledger, row_id: int) -> dict[str, Any]:
    """One outbox row with its bytes (`data`), as a dict."""
    sql = (
        "SELECT o.*, d.data FROM outbox o JOIN outbox_data d ON d.outbox_id = o.id WHERE o.id = :id"
    )
    (row,) = _rows(ledger, sql, id=row_id)
    found = dict(row._mapping)
    found["data"] = bytes(found["data"])
    return found


def outbox_ids(ledger: Ledger, state: str) -> list[int]:
    """The ids of the outbox rows in `state`, oldest first."""
    sql = "SELECT id FROM outbox WHERE state = :state ORDER BY id"
    return [r.id for r in _rows(ledger, sql, state=state)]
