"""The ledger, composed: one database handle shared by parts that each own their tables.

`Ledger.open(url)` gives `papers` (papers, identity keys, sources' poll state, subscribers' first
sighting), `deliveries` (papers owed to subscribers), `outbox` (rendered emails and the claims on
them), `recipients` (stops asked by recipients or forced by their servers) and `status()`;
each piece of code is handed only the part it uses (the poll gets `papers`, the sender
`deliveries`, `outbox` and `recipients`). The daemon's leadership lock is `bot.ledger.lock`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self

from bot.ledger.deliveries import Deliveries
from bot.ledger.handle import Database
from bot.ledger.history import History, daily_history
from bot.ledger.outbox import Outbox
from bot.ledger.papers import Papers
from bot.ledger.recipients import Recipients
from bot.ledger.status import Status, read_status

__all__ = ["Ledger"]


class Ledger:
    """The ledger's parts on one database; close when done (or `with`)."""

    def __init__(self, database: Database):
        self.database = database
        self.papers = Papers(database)
        self.deliveries = Deliveries(database)
        self.outbox = Outbox(database)
        self.recipients = Recipients(database)

    @classmethod
    def open(cls, url: str, *, read_only: bool = False) -> Self:
        """Connect and create missing tables; see `Database.open` (ConfigError, StoreError)."""
        return cls(Database.open(url, read_only=read_only))

    def status(self) -> Status:
        """What `bot status` shows, read in one snapshot."""
        return read_status(self.database)

    def history(self, since: datetime) -> History:
        """Counts per UTC day since `since`, for `bot status --html` (bot.ledger.history)."""
        with self.database.read() as conn:
            return daily_history(conn, since)

    def close(self) -> None:
        """Close every pooled connection."""
        self.database.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
