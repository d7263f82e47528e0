"""Recording papers in the ledger: which records are papers it already holds, and which are new.

Used by `Papers.record` inside its one transaction. A record is a known paper by
`identity.same_paper` against the keys the ledger holds for it (SPEC section 4, v2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from bot import identity
from bot.ledger.db import insert_if_absent
from bot.ledger.handle import chunks
from bot.ledger.schema import paper_from_row, paper_keys, paper_row, paper_sources
from bot.ledger.schema import papers as paper_table
from bot.models import Paper

__all__ = ["record_papers"]


def record_papers(
    conn: Connection, given: Sequence[Paper], now: datetime
) -> tuple[list[Paper], dict[str, int]]:
    """Insert what is unknown; return the new papers and their canonical id -> row id.

    A record is a known paper by `identity.same_paper` against the keys the ledger holds for
    it: a shared strong id without a conflicting one, or an equal title when one side has no
    strong id. A title-only paper that a record with ids joins gains them, with the record's
    link, authors, categories and date where it had none (SPEC section 3, Links).
    """
    wanted = [(p, ks) for p in given if (ks := _keys(p))]
    stored: dict[str, int] = {}  # key -> row id, for the keys already in the ledger
    for chunk in chunks(list(dict.fromkeys(k for _, ks in wanted for k in ks))):
        query = select(paper_keys.c.key, paper_keys.c.paper_id).where(paper_keys.c.key.in_(chunk))
        stored.update({key: paper_id for key, paper_id in conn.execute(query)})
    # Every key of the papers found: their strong ids decide what may join them.
    held: dict[int | str, set[str]] = {}
    for chunk in chunks(sorted(set(stored.values()))):
        query = select(paper_keys.c.key, paper_keys.c.paper_id).where(
            paper_keys.c.paper_id.in_(chunk)
        )
        for key, paper_id in conn.execute(query):
            held.setdefault(paper_id, set()).add(key)
    owners: dict[str, list[int | str]] = {k: [row] for k, row in stored.items()}
    new: dict[str, Paper] = {}  # target (first canonical) -> new paper
    gains: dict[int, Paper] = {}  # stored title-only paper -> the record with ids it joins
    links: dict[str, int | str] = {}  # key to add -> its paper
    seen_in: dict[tuple[int | str, str], None] = {}  # (paper, source) to add if absent
    for paper, ks in wanted:
        mine = identity.strong(ks)
        titles = [k for k in ks if k.startswith("title:")]
        target = None
        for candidate in dict.fromkeys(t for k in ks for t in owners.get(k, ())):
            keys_of = held.get(candidate, set())
            theirs = identity.strong(keys_of)
            if identity.same_paper(mine, titles, theirs, keys_of):
                target = candidate
                break
        if target is None:
            target = ks[0]
            new[target] = replace(paper, id=target, first_seen=now)
        elif mine and not identity.strong(held[target]):  # a title-only paper gains ids
            if isinstance(target, str):
                new[target] = _gain(new[target], paper)
            else:
                gains[target] = paper
        elif isinstance(target, str):  # a repeat, within this batch, of a paper new in it
            merged = tuple(dict.fromkeys(new[target].sources + paper.sources))
            new[target] = replace(new[target], sources=merged)
        held.setdefault(target, set()).update(ks)
        for key in ks:
            holders = owners.setdefault(key, [])
            if target not in holders:
                holders.append(target)
            if key not in stored:
                links.setdefault(key, target)
        seen_in.update(dict.fromkeys((target, source) for source in paper.sources))
    ids: dict[str, int] = {}
    if new:
        inserted = conn.execute(
            insert(paper_table).returning(
                paper_table.c.canonical, paper_table.c.id, sort_by_parameter_order=True
            ),
            [paper_row(p) for p in new.values()],
        )
        ids = {canonical: row_id for canonical, row_id in inserted}
    rows_of = {target: ids[paper.id] for target, paper in new.items()}
    if gains:
        _gain_ids(conn, gains)
    if links:
        rows = [{"key": k, "paper_id": rows_of.get(t, t)} for k, t in links.items()]
        conn.execute(insert_if_absent(conn, paper_keys), rows)
    # Most of a listing is already known with the same sources: skip those no-op inserts.
    known = sorted({t for t, _ in seen_in if isinstance(t, int)})
    for chunk in chunks(known):
        query = select(paper_sources.c.paper_id, paper_sources.c.source).where(
            paper_sources.c.paper_id.in_(chunk)
        )
        for pair in conn.execute(query):
            seen_in.pop((pair[0], pair[1]), None)
    if seen_in:
        rows = [{"paper_id": rows_of.get(t, t), "source": s, "first_seen": now} for t, s in seen_in]
        conn.execute(insert_if_absent(conn, paper_sources), rows)
    return list(new.values()), ids


def _gain_ids(conn: Connection, gains: dict[int, Paper]) -> None:
    """Give each stored title-only paper the ids, link and details of the record it joins."""
    query = select(paper_table).where(paper_table.c.id.in_(list(gains)))
    for row in conn.execute(query).all():
        before = paper_from_row(row, ())
        after = _gain(before, gains[row.id])
        values = paper_row(after)
        del values["first_seen"]
        conn.execute(update(paper_table).where(paper_table.c.id == row.id).values(**values))


def _keys(paper: Paper) -> tuple[str, ...]:
    """The paper's identity keys, its `id` (the canonical key) first."""
    return tuple(dict.fromkeys(([paper.id] if paper.id else []) + list(identity.keys(paper))))


def _gain(title_only: Paper, record: Paper) -> Paper:
    """A title-only paper joined by `record`, which has an arXiv id or DOI: it takes the record's
    identity and link (its own was at best a listing's), and its authors, categories and date
    where it had none."""
    found = identity.identify(record)
    return replace(
        title_only,
        id=found.id,
        arxiv_id=found.arxiv_id,
        doi=found.doi,
        url=record.url or title_only.url,
        authors=title_only.authors or record.authors,
        categories=title_only.categories or record.categories,
        published=title_only.published or record.published,
        sources=tuple(dict.fromkeys(title_only.sources + record.sources)),
    )
