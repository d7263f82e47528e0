"""The outbox's SQL for claiming and finishing emails, shared by every send run.

Claims: a row is due when pending and past `next_attempt`, or `sending` by a process that is gone
(same host) or whose lease ran out. The hot statements (finish an email, finish its deliveries) are
built once at import: building a SQLAlchemy statement per email cost more than running it.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Text, and_, bindparam, func, or_, select, update

from bot.ledger.recipients import drop_claimed
from bot.ledger.schema import PENDING, SENDING, deliveries, outbox, outbox_data

__all__ = [
    "OutboxEmail",
    "new_owner",
    "claim",
    "finish",
]

# Up to this many emails are filtered in SQL (IN …); a longer list is filtered here.
_CHUNK_EMAILS = 200

# Tells this process from an earlier one that had the same pid (pids are reused).
_PROCESS = uuid.uuid4().hex[:8]


def _pid_namespace() -> str:
    """The inode of this process's pid namespace: two containers may share a hostname, never it."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


# Where a pid means something: only an owner with the same host and pid namespace can be checked
# for being alive (os.kill(pid, 0)); any other is presumed alive until its lease runs out.
_HOST = f"{socket.gethostname()}/{_pid_namespace()}"


@dataclass(frozen=True, slots=True)
class OutboxEmail:
    """A claimed outbox row: what to send, to whom; `attempts` counts this one."""

    id: int
    email: str
    message_id: str
    data: bytes
    papers: int
    attempts: int
    created_at: datetime | None = None  # when it was rendered: deferred too long, it is failed


def new_owner() -> str:
    """A claim owner for one send run: "host:pid:process:run" (the pid tells when it died)."""
    return f"{_HOST}:{os.getpid()}:{_PROCESS}:{uuid.uuid4().hex[:8]}"


def claim(
    conn: Connection,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    wanted: set[str] | None,
) -> list[OutboxEmail]:
    """Take up to `limit` due rows (of `wanted` emails, if given), oldest first, for `owner`.

    On PostgreSQL the pending candidates are locked FOR UPDATE SKIP LOCKED (SPEC section 8), so
    concurrent claimers take different rows; the conditional UPDATE gives a row to one claimer
    only, on either database. Four statements built once (five with stops): a send run claims
    every few emails.
    """
    # Rows being sent are few, read at once; pending rows are paged along the (state, id) index:
    # sent rows are never read, so a claim costs the same for the first email of a run and the
    # 10,000th.
    while True:
        gone, abandoned = _abandoned(conn, owner, now, wanted)
        picked = sorted(abandoned + _due(conn, now, wanted, limit))[:limit]
        chosen = drop_claimed(conn, picked, now)  # a recipient's stop, checked at the last moment
        if len(chosen) == len(picked):
            break
        # Rows of stopped addresses were dropped (no longer due): choose again, so that fewer rows
        # than `limit` always means that no more are due (the sender's feeder relies on it).
    if not chosen:
        return []
    claimed = conn.execute(
        _CLAIM,
        {"chosen": chosen, "now": now, "gone": gone, "owner": owner, "until": now + lease},
    ).all()
    bodies = dict(conn.execute(_BODIES, {"ids": [r.id for r in claimed]}).all())
    found = [
        OutboxEmail(
            r.id, r.email, r.message_id, bytes(bodies[r.id]), r.papers, r.attempts, r.created_at
        )
        for r in claimed
    ]
    return sorted(found, key=lambda e: e.id)


# A row is due when pending and past its retry time, or abandoned: sending, and its lease over or
# its owner gone (see _abandoned).
_DUE = and_(
    outbox.c.state == PENDING,
    or_(outbox.c.next_attempt.is_(None), outbox.c.next_attempt <= bindparam("now")),
)
_ABANDONED = and_(
    outbox.c.state == SENDING,
    or_(
        outbox.c.lease_until < bindparam("now"),
        outbox.c.claimed_by.in_(bindparam("gone", expanding=True)),
    ),
)
_CLAIM = (
    update(outbox)
    .where(outbox.c.id.in_(bindparam("chosen", expanding=True)), or_(_ABANDONED, _DUE))
    .values(
        state=SENDING,
        claimed_by=bindparam("owner"),
        lease_until=bindparam("until"),
        attempts=outbox.c.attempts + 1,
    )
    .returning(
        outbox.c.id,
        outbox.c.email,
        outbox.c.message_id,
        outbox.c.papers,
        outbox.c.attempts,
        outbox.c.created_at,
    )
)
_BODIES = select(outbox_data.c.outbox_id, outbox_data.c.data).where(
    outbox_data.c.outbox_id.in_(bindparam("ids", expanding=True))
)
# Rows being sent: a few per sender at any time (those claimed ahead and those in flight).
_SENDING = select(outbox.c.id, outbox.c.email, outbox.c.claimed_by, outbox.c.lease_until).where(
    outbox.c.state == SENDING
)


def _abandoned(
    conn: Connection, owner: str, now: datetime, wanted: set[str] | None
) -> tuple[list[str], list[int]]:
    """(owners on this host whose process is gone, ids of the sending rows to take over: their
    lease over or their owner gone), of `wanted` emails if given."""
    rows = conn.execute(_SENDING).all()
    owners = {r.claimed_by for r in rows if r.claimed_by != owner}
    gone = sorted(o for o in owners if o is not None and _is_gone(o))
    taken = [
        r.id
        for r in rows
        if ((r.lease_until is not None and r.lease_until < now) or r.claimed_by in gone)
        and (wanted is None or r.email in wanted)
    ]
    return gone, taken


_PAGE = select(outbox.c.id, outbox.c.email).where(_DUE, outbox.c.id > bindparam("after"))


def _page(locked: bool, filtered: bool) -> Any:
    """A page of due rows, oldest first; `filtered`: of the emails given; `locked`: PostgreSQL's
    FOR UPDATE SKIP LOCKED."""
    query = (
        _PAGE.where(outbox.c.email.in_(bindparam("emails", expanding=True))) if filtered else _PAGE
    )
    query = query.order_by(outbox.c.id).limit(bindparam("page"))
    return query.with_for_update(skip_locked=True) if locked else query


_PAGES = {
    (locked, filtered): _page(locked, filtered)
    for locked in (False, True)
    for filtered in (False, True)
}


def _due(conn: Connection, now: datetime, wanted: set[str] | None, limit: int) -> list[int]:
    """Up to `limit` ids of pending rows due at `now` (of `wanted` emails, if given), oldest first.

    On PostgreSQL they are locked FOR UPDATE SKIP LOCKED until the claim commits.
    """
    filtered = wanted is not None and len(wanted) <= _CHUNK_EMAILS
    query = _PAGES[conn.dialect.name == "postgresql", filtered]
    values: dict[str, Any] = {"now": now, "page": 4 * limit}
    if filtered:
        values["emails"] = sorted(wanted or ())
    chosen: list[int] = []
    after = 0
    while len(chosen) < limit:
        rows = conn.execute(query, {**values, "after": after}).all()
        chosen += [r.id for r in rows if wanted is None or r.email in wanted]
        if len(rows) < 4 * limit:
            break
        after = rows[-1].id
    return chosen[:limit]


_FINISH_EMAILS = (
    update(outbox)
    .where(
        outbox.c.id.in_(bindparam("ids", expanding=True)), outbox.c.state.in_((PENDING, SENDING))
    )
    .values(
        state=bindparam("outcome"),
        finished_at=bindparam("at"),
        error=bindparam("reply"),
        claimed_by=None,
    )
    .returning(outbox.c.id)
)

# Deliveries are selected by outbox_id alone: a condition on `state` too makes SQLite walk the
# state index, i.e. every pending delivery, for each email.
_FINISH_DELIVERIES = (
    update(deliveries)
    .where(deliveries.c.outbox_id.in_(bindparam("done", expanding=True)))
    .values(
        state=bindparam("outcome"),
        sent_at=bindparam("at"),
        message_id=select(outbox.c.message_id)
        .where(outbox.c.id == deliveries.c.outbox_id)
        .scalar_subquery(),
        # A refusal's reply replaces the error; a success keeps what was noted before.
        error=func.coalesce(bindparam("reply", type_=Text), deliveries.c.error),
    )
)


def finish(
    conn: Connection, row_ids: list[int], outcome: str, now: datetime, reply: str | None = None
) -> None:
    """These emails (still open) and their deliveries end as `outcome` (sent/failed) at `now`."""
    done = conn.scalars(
        _FINISH_EMAILS, {"ids": row_ids, "outcome": outcome, "at": now, "reply": reply}
    ).all()
    if done:
        conn.execute(
            _FINISH_DELIVERIES, {"done": done, "outcome": outcome, "at": now, "reply": reply}
        )


def _is_gone(owner: str | None) -> bool:
    """True when `owner` (see new_owner) ran on this host and its process no longer exists."""
    host, pid, process, *_ = [*(owner or "").split(":"), "", "", ""]
    if host != _HOST or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return process != _PROCESS  # else a run of this very process: it may still be sending
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
