"""The ledger: everything the bot remembers, in SQLite or PostgreSQL (all of the bot's SQL).

Its public face, for the code around it: `Ledger` (the parts: papers, deliveries, outbox, status,
on one `Database`), what the sender handles (`OutboxEmail`, `new_owner`, `OffLoop`), what
`bot status` reads (`Status`, `SourceState`, `DELIVERY_STATES`), `check_database` for `bot check`,
the recipients' stops (`Recipients`, `RecipientState`),
and the daemon's locks (`daemon_lock`, `Leadership`).
"""

from bot.ledger.check import check_database
from bot.ledger.claims import OutboxEmail, new_owner
from bot.ledger.deliveries import Deliveries
from bot.ledger.handle import Database, OffLoop
from bot.ledger.ledger import Ledger
from bot.ledger.lock import Leadership, daemon_lock
from bot.ledger.outbox import Outbox
from bot.ledger.papers import Papers, SourceState
from bot.ledger.recipients import STOPS, Recipients, RecipientState, stops_in
from bot.ledger.status import DELIVERY_STATES, Status

__all__ = [
    "Ledger",
    "Papers",
    "Deliveries",
    "Outbox",
    "Recipients",
    "RecipientState",
    "STOPS",
    "stops_in",
    "Database",
    "OffLoop",
    "OutboxEmail",
    "new_owner",
    "Status",
    "SourceState",
    "DELIVERY_STATES",
    "check_database",
    "daemon_lock",
    "Leadership",
]
