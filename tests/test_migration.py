"""A ledger written by the code before identity v2 keeps working (SPEC section 4, v2).

tests/fixtures/ledgers/identity_v1.sqlite was built by that code (commit 6da7de6) with
build_identity_v1.py beside it: it merged records by title, so "Comment on language model
scaling" under a second arXiv id and a second week's "Editorial" were never recorded.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from ledger_sql import paper_count
from sqlalchemy import create_engine, delete, insert, select
from support import FIXTURES

from bot.identity import identify
from bot.ledger import Ledger
from bot.ledger.migrations import migrations
from bot.ledger.schema import paper_keys, papers
from bot.models import Paper

LATER = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def _old_ledger(tmp_path: Path) -> str:
    path = tmp_path / "bot.db"
    shutil.copyfile(FIXTURES / "ledgers" / "identity_v1.sqlite", path)
    return f"sqlite:///{path}"


def _paper(title: str, **fields: object) -> Paper:
    return identify(Paper(title=title, sources=("again",), **fields))


def test_an_old_ledger_opens_keeps_every_paper_and_delivery_and_gains_the_link(tmp_path: Path):
    with Ledger.open(_old_ledger(tmp_path)) as store:
        papers = {p.title: p for p in store.papers.seen()}
        status = store.status()
    assert len(papers) == 4
    assert status.deliveries["reader@example.org"]["pending"] == 4
    cascades = papers["Language Model Cascades"]
    assert (cascades.id, cascades.arxiv_id, cascades.url) == (
        "arxiv:2611.00003",
        "2611.00003",
        "https://arxiv.org/abs/2611.00003",
    )
    assert papers["Comment on language model scaling"].id == "arxiv:2611.00001"
    assert papers["Editorial"].id == "doi:10.1038/d41586-026-00001-1"


def test_papers_the_old_code_merged_by_title_are_recorded_when_listed_again(tmp_path: Path):
    url = _old_ledger(tmp_path)
    with Ledger.open(url) as store:
        listed = [
            _paper("Comment on Language Model Scaling", arxiv_id="2611.00002"),
            _paper("EDITORIAL", doi="10.1038/d41586-026-00002-2"),
            # these are the papers they always were: nothing new
            _paper("Comment on language model scaling", arxiv_id="2611.00001"),
            _paper("Editorial", doi="10.1038/d41586-026-00001-1"),
            _paper("Language model cascades", arxiv_id="2611.00003"),
            _paper("Language Model Cascades"),
            _paper("Graph Kernels", arxiv_id="2611.00004"),
            _paper("Kernels on graphs", doi="10.5555/gk"),
        ]
        new = store.papers.record(listed, LATER)
    assert sorted(p.id for p in new) == ["arxiv:2611.00002", "doi:10.1038/d41586-026-00002-2"]
    with Ledger.open(url) as store:  # opened again: the migration does not run twice
        assert paper_count(store) == 6
        assert store.papers.record(listed, LATER) == []


def test_the_migration_is_recorded_once(tmp_path: Path):
    url = _old_ledger(tmp_path)
    for _ in range(2):
        Ledger.open(url).close()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        assert [name for (name,) in db.execute("SELECT name FROM migrations")] == [
            "identity-v2",
            "title-key-hash",
        ]


def test_the_migration_splits_old_merges_on_both_databases(database_url: str):
    Ledger.open(database_url).close()  # a current ledger: the migration is recorded as done
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:  # what the old code wrote for two merges by title
            conn.execute(
                insert(papers),
                [
                    _row("arxiv:2611.00001", "Comment on scaling", arxiv_id="2611.00001"),
                    _row("doi:10.1000/a", "Editorial", doi="10.1000/a"),
                ],
            )
            ids = dict(conn.execute(select(papers.c.canonical, papers.c.id)).all())
            conn.execute(
                insert(paper_keys),
                [
                    {"key": key, "paper_id": ids[owner]}
                    for key, owner in [
                        ("arxiv:2611.00001", "arxiv:2611.00001"),
                        ("arxiv:2611.00002", "arxiv:2611.00001"),
                        ("title:comment on scaling", "arxiv:2611.00001"),
                        ("doi:10.1000/a", "doi:10.1000/a"),
                        ("doi:10.1000/b", "doi:10.1000/a"),
                        ("title:editorial", "doi:10.1000/a"),
                    ]
                ],
            )
            conn.execute(delete(migrations))  # as if written before the migration existed
    finally:
        engine.dispose()
    with Ledger.open(database_url) as store:
        new = store.papers.record(
            [
                _paper("Comment on scaling", arxiv_id="2611.00002"),
                _paper("Editorial", doi="10.1000/b"),
                _paper("Comment on scaling", arxiv_id="2611.00001"),
                _paper("Editorial", doi="10.1000/a"),
            ],
            LATER,
        )
    assert sorted(p.id for p in new) == ["arxiv:2611.00002", "doi:10.1000/b"]


def _row(canonical: str, title: str, **ids: str) -> dict[str, object]:
    return {
        "canonical": canonical,
        "title": title,
        "first_seen": LATER,
        "arxiv_id": None,
        "doi": None,
        **ids,
    }


# 1,000 CJK characters: 3,000 bytes in UTF-8, over PostgreSQL's 2,704-byte btree entry limit.
LONG_CJK = "".join(chr(0x4E00 + (i * 7) % 20000) for i in range(1000))


def test_a_1000_character_cjk_title_is_recorded_and_known_again(database_url: str):
    with Ledger.open(database_url) as store:
        first = store.papers.record([_paper(LONG_CJK)], LATER)
        again = store.papers.record([_paper(LONG_CJK), _paper(LONG_CJK[:-1] + "x")], LATER)
        titles = sorted(p.title for p in store.papers.seen())
    assert [p.title for p in first] == [LONG_CJK]
    assert [p.title for p in again] == [LONG_CJK[:-1] + "x"]  # only the other title is new
    assert titles == sorted([LONG_CJK, LONG_CJK[:-1] + "x"])


def test_a_long_title_key_written_before_is_hashed_and_the_paper_stays_known(database_url: str):
    title = LONG_CJK[:300]  # 900 bytes: an earlier version stored its key on both databases
    Ledger.open(database_url).close()
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:  # what the code before the hashing wrote
            conn.execute(insert(papers), [_row(f"title:{title}", title)])
            paper_id = conn.scalar(select(papers.c.id))
            conn.execute(insert(paper_keys), [{"key": f"title:{title}", "paper_id": paper_id}])
            conn.execute(delete(migrations).where(migrations.c.name == "title-key-hash"))
    finally:
        engine.dispose()
    with Ledger.open(database_url) as store:
        assert store.papers.record([_paper(title)], LATER) == []
        (known,) = store.papers.seen()
    assert (known.title, known.id.startswith("title:sha256:")) == (title, True)
