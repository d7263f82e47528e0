"""The ledger on real SQLite files, and on PostgreSQL when BOT_TEST_DATABASE_URL is set."""

from __future__ import annotations

import multiprocessing
import os
import socket
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from ledger_sql import outbox_ids, outbox_row, paper_count, pending_count
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from bot import identity
from bot.errors import ConfigError, StoreError
from bot.ledger import Ledger, SourceState
from bot.models import Paper

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)


def arxiv(number: str, title: str, source: str = "arxiv-rss", **fields: object) -> Paper:
    """A paper as the arXiv feed lists it, identified."""
    return identity.identify(
        Paper(title=title, url=f"https://arxiv.org/abs/{number}v1", sources=(source,), **fields)
    )


def other(title: str, source: str, doi: str | None = None) -> Paper:
    """A paper as a non-arXiv listing shows it: a title, maybe a DOI."""
    return identity.identify(Paper(title=title, doi=doi, sources=(source,)))


def everyone(emails: list[str]):
    """A queue function matching every new paper for every email, recording what it was given."""
    calls: list[list[str]] = []

    def queue(new: list[Paper]):
        calls.append([p.id for p in new])
        return [(email, p.id, ("q",)) for p in new for email in emails]

    queue.calls = calls  # type: ignore[attr-defined]
    return queue


@pytest.fixture
def store(database_url: str) -> Iterator[Ledger]:
    with Ledger.open(database_url) as opened:
        yield opened


# --- identity and "new" -----------------------------------------------------------------------


def test_a_paper_seen_by_arxiv_id_then_title_only_is_one_paper(store: Ledger) -> None:
    first = arxiv("2501.00001", "Sparse Attention, Revisited")
    assert [p.id for p in store.papers.record([first], T0)] == ["arxiv:2501.00001"]

    title_only = other("sparse attention revisited", "hf-daily")
    assert store.papers.record([title_only], T1) == []
    # Two strong ids never merge by title (SPEC section 4): a DOI record of that title is
    # another paper, unless it also carries the arXiv id.
    with_doi = other("Sparse  Attention: Revisited!", "journal", doi="10.1234/SA.7")
    assert [p.id for p in store.papers.record([with_doi], T2)] == ["doi:10.1234/sa.7"]
    both = arxiv("2501.00001", "Sparse attention revisited", "crossref", doi="10.1234/other")
    assert store.papers.record([both], T2) == []

    stored = {p.id: p for p in store.papers.seen()}
    assert stored["arxiv:2501.00001"].first_seen == T0
    assert stored["arxiv:2501.00001"].title == "Sparse Attention, Revisited"  # nothing else
    assert stored["arxiv:2501.00001"].sources == ("arxiv-rss", "hf-daily", "crossref")
    assert paper_count(store) == 2


def test_a_key_first_seen_on_a_known_paper_identifies_it_later(store: Ledger) -> None:
    store.papers.record([arxiv("2501.00002", "Graph Kernels")], T0)
    # The arXiv id is shared: the DOI key is attached to the arXiv paper ...
    store.papers.record([arxiv("2501.00002", "Graph kernels", "journal", doi="10.5555/gk")], T1)
    # ... so the DOI alone, under a reworded title, is that paper too.
    assert (
        store.papers.record(
            [other("Kernels on Graphs (extended)", "crossref", doi="10.5555/GK")], T2
        )
        == []
    )
    assert paper_count(store) == 1
    assert store.papers.seen()[0].sources == ("arxiv-rss", "journal", "crossref")


def test_same_title_and_different_arxiv_ids_are_two_papers_in_the_ledger(store: Ledger) -> None:
    title = "Comment on language model scaling"
    assert [p.id for p in store.papers.record([arxiv("2501.00201", title)], T0)] == [
        "arxiv:2501.00201"
    ]
    assert [p.id for p in store.papers.record([arxiv("2501.00202", title.upper())], T1)] == [
        "arxiv:2501.00202"
    ]
    both = [arxiv("2501.00203", title), arxiv("2501.00204", title)]
    assert [p.id for p in store.papers.record(both, T2)] == ["arxiv:2501.00203", "arxiv:2501.00204"]
    assert paper_count(store) == 4


def test_same_title_and_different_dois_are_two_papers_in_the_ledger(store: Ledger) -> None:
    week1 = other("Editorial", "nature", doi="10.1038/d41586-025-00001-1")
    week2 = other("Editorial", "nature", doi="10.1038/d41586-025-00002-2")
    assert [p.id for p in store.papers.record([week1], T0)] == ["doi:10.1038/d41586-025-00001-1"]
    assert [p.id for p in store.papers.record([week2], T1)] == ["doi:10.1038/d41586-025-00002-2"]
    assert store.papers.record([week1, week2, other("EDITORIAL", "page")], T2) == []
    assert paper_count(store) == 2


def test_a_title_only_line_then_the_arxiv_item_is_one_paper_with_the_feeds_link(
    store: Ledger,
) -> None:
    line = other("Language Model Cascades: Token-level uncertainty and beyond", "page")
    [new] = store.papers.record([line], T0)
    assert (new.id, new.url, new.authors) == (
        "title:language model cascades token level uncertainty and beyond",
        "",
        (),
    )
    item = arxiv(
        "2404.10136",
        "Language model cascades: token-level uncertainty and beyond",
        authors=("Neha Gupta", "Harikrishna Narasimhan"),
        categories=("cs.CL",),
    )
    assert store.papers.record([item], T1) == []  # the same paper: not new, not mailed again
    [stored] = store.papers.seen()
    assert stored.id == "arxiv:2404.10136"
    assert stored.url == "https://arxiv.org/abs/2404.10136v1"
    assert stored.authors == ("Neha Gupta", "Harikrishna Narasimhan")
    assert stored.categories == ("cs.CL",)
    assert stored.first_seen == T0
    assert stored.title == line.title
    assert stored.sources == ("page", "arxiv-rss")
    # Its ids now identify it, and a second arXiv id of that title is another paper.
    assert store.papers.record([arxiv("2404.10136", "Renamed")], T2) == []
    assert [p.id for p in store.papers.record([arxiv("2404.99999", line.title)], T2)] == [
        "arxiv:2404.99999"
    ]


def test_the_arxiv_item_then_a_title_only_line_is_one_paper(store: Ledger) -> None:
    item = arxiv("2404.10136", "Language Model Cascades", authors=("Neha Gupta",))
    store.papers.record([item], T0)
    assert store.papers.record([other("language model cascades", "page")], T1) == []
    [stored] = store.papers.seen()
    assert (stored.id, stored.authors, stored.sources) == (
        "arxiv:2404.10136",
        ("Neha Gupta",),
        ("arxiv-rss", "page"),
    )


def test_a_title_only_line_and_its_arxiv_item_in_one_batch_are_one_new_paper(
    store: Ledger,
) -> None:
    line = other("Language Model Cascades", "page")
    item = arxiv("2404.10136", "Language model cascades", authors=("Neha Gupta",))
    [new] = store.papers.record([line, item], T0)
    assert (new.id, new.url, new.authors, new.sources) == (
        "arxiv:2404.10136",
        "https://arxiv.org/abs/2404.10136v1",
        ("Neha Gupta",),
        ("page", "arxiv-rss"),
    )
    [stored] = store.papers.seen()
    assert (stored.id, stored.url, stored.authors) == (new.id, new.url, new.authors)
    assert sorted(stored.sources) == ["arxiv-rss", "page"]


def test_record_returns_new_papers_with_first_seen_and_skips_keyless(store: Ledger) -> None:
    published = datetime(2025, 2, 28, 20, 0, tzinfo=UTC)
    paper = arxiv("2501.00003", "Tiny Models", authors=("A. One", "B. Two"), published=published)
    [new] = store.papers.record([paper, Paper(title="  ")], T0)
    assert new == Paper(
        title="Tiny Models",
        url="https://arxiv.org/abs/2501.00003v1",
        authors=("A. One", "B. Two"),
        sources=("arxiv-rss",),
        published=published,
        arxiv_id="2501.00003",
        id="arxiv:2501.00003",
        first_seen=T0,
    )
    assert store.papers.seen() == [new]


def test_queue_is_called_once_with_only_the_new_papers(store: Ledger) -> None:
    store.papers.ensure_subscribers(["a@example.org"], T0)
    queue = everyone(["a@example.org"])
    store.papers.record([arxiv("2501.00010", "Old News")], T0, queue)
    batch = [arxiv("2501.00010", "Old News"), arxiv("2501.00011", "Fresh Result")]
    store.papers.record(batch, T1, queue)
    store.papers.record(batch, T2, queue)  # nothing new: queue is not called
    assert queue.calls == [["arxiv:2501.00010"], ["arxiv:2501.00011"]]


def test_one_pending_delivery_per_pair_never_two(store: Ledger) -> None:
    store.papers.ensure_subscribers(["a@example.org", "b@example.org"], T0)
    paper = arxiv("2501.00020", "Twice Told")

    def queue_twice(new: list[Paper]):
        return [("a@example.org", p.id, ("x",)) for p in new] * 2 + [
            ("B@Example.org", p.id, ("y",)) for p in new
        ]

    store.papers.record([paper, paper], T1, queue_twice)  # the same paper twice in one batch
    store.papers.record([paper], T2, queue_twice)  # and again later
    assert paper_count(store) == 1
    assert [
        (p.email, p.paper.id, p.queries) for p in store.deliveries.pending("a@example.org")
    ] == [("a@example.org", "arxiv:2501.00020", ("x",))]
    assert pending_count(store, "b@example.org") == 1
    assert store.status().deliveries == {
        "a@example.org": {"pending": 1, "sent": 0, "failed": 0, "quarantined": 0},
        "b@example.org": {"pending": 1, "sent": 0, "failed": 0, "quarantined": 0},
    }


def test_a_subscriber_gets_only_papers_first_seen_after_the_subscriber(store: Ledger) -> None:
    store.papers.ensure_subscribers(["early@example.org"], T0)
    store.papers.ensure_subscribers(["late@example.org", "EARLY@example.org"], T2)  # early keeps T0
    queue = everyone(["early@example.org", "late@example.org", "stranger@example.org"])
    store.papers.record([arxiv("2501.00030", "Before Late Joined")], T1, queue)
    store.papers.record([arxiv("2501.00031", "After Late Joined")], T2, queue)
    assert [p.paper.id for p in store.deliveries.pending("early@example.org")] == [
        "arxiv:2501.00030",
        "arxiv:2501.00031",
    ]
    assert [p.paper.id for p in store.deliveries.pending("late@example.org")] == [
        "arxiv:2501.00031"
    ]
    assert pending_count(store, "stranger@example.org") == 0  # never in the settings
    assert store.deliveries.emails_with_pending() == ["early@example.org", "late@example.org"]


def test_record_is_one_transaction(store: Ledger) -> None:
    store.papers.ensure_subscribers(["a@example.org"], T0)

    def bad_queue(new: list[Paper]):
        return [("a@example.org", "arxiv:9999.99999", ("q",))]

    with pytest.raises(ValueError, match="not new in this record"):
        store.papers.record([arxiv("2501.00040", "Rolled Back")], T1, bad_queue)
    assert paper_count(store) == 0
    assert store.papers.record([arxiv("2501.00040", "Rolled Back")], T2)[0].first_seen == T2


# --- the outbox ---------------------------------------------------------------------------------


def test_pending_is_oldest_queued_first_with_a_limit(store: Ledger) -> None:
    store.papers.ensure_subscribers(["a@example.org"], T0)
    queue = everyone(["a@example.org"])
    store.papers.record([arxiv("2501.00052", "Third")], T2, queue)
    store.papers.record([arxiv("2501.00050", "First"), arxiv("2501.00051", "Second")], T1, queue)
    pending = store.deliveries.pending("a@example.org")
    assert [(p.paper.title, p.queued_at) for p in pending] == [
        ("First", T1),
        ("Second", T1),
        ("Third", T2),
    ]
    assert [p.paper.title for p in store.deliveries.pending("a@example.org", limit=2)] == [
        "First",
        "Second",
    ]


def test_sent_and_failed_emails_finish_only_their_pending_deliveries(store: Ledger) -> None:
    store.papers.ensure_subscribers(["a@example.org", "b@example.org"], T0)
    ids = ["arxiv:2501.00060", "arxiv:2501.00061"]
    papers = [arxiv("2501.00060", "One"), arxiv("2501.00061", "Two")]
    store.papers.record(papers, T0, everyone(["a@example.org", "b@example.org"]))
    lease = timedelta(minutes=5)

    refused = store.outbox.add_email("A@example.org", ids[:1], "<m1@example.org>", b"1", T1)
    store.outbox.claim_due("me", T1, lease, 1)
    store.outbox.email_failed(refused, "550 mailbox unavailable", T1)
    sent = store.outbox.add_email("a@example.org", ids[1:], "<m2@example.org>", b"2", T1)
    store.outbox.claim_due("me", T1, lease, 1)
    store.outbox.emails_sent([sent], T1)
    store.outbox.email_failed(sent, "late failure", T2)  # finished already: no change

    assert store.deliveries.pending("a@example.org") == []
    assert store.deliveries.emails_with_pending() == ["b@example.org"]
    assert store.status().deliveries == {
        "a@example.org": {"pending": 0, "sent": 1, "failed": 1, "quarantined": 0},
        "b@example.org": {"pending": 2, "sent": 0, "failed": 0, "quarantined": 0},
    }
    assert [outbox_row(store, i)["state"] for i in (refused, sent)] == ["failed", "sent"]


# --- time ---------------------------------------------------------------------------------------


def test_datetimes_come_back_aware_utc(store: Ledger) -> None:
    berlin = timezone(timedelta(hours=1))
    now = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=berlin)
    published = datetime(2025, 2, 28, 19, 0, tzinfo=timezone(timedelta(hours=-5)))
    store.papers.ensure_subscribers(["a@example.org"], now)
    store.papers.record(
        [arxiv("2501.00070", "Zoned", published=published)], now, everyone(["a@example.org"])
    )
    store.papers.save_poll("arxiv-rss", now)

    [paper] = store.papers.seen()
    [pending] = store.deliveries.pending("a@example.org")
    state = store.papers.source_state("arxiv-rss")
    assert state is not None
    for value, expected in [
        (paper.first_seen, now),
        (paper.published, published),
        (pending.queued_at, now),
        (state.last_poll, now),
    ]:
        assert value == expected
        assert value is not None and value.tzinfo is UTC
    assert paper.first_seen is not None and paper.first_seen.hour == 8  # 09:30 +01:00 is 08:30Z
    # `since` compares instants, not wall-clock text.
    assert store.papers.seen(since=datetime(2025, 3, 1, 9, 0, tzinfo=berlin)) == [paper]
    assert store.papers.seen(since=datetime(2025, 3, 1, 9, 0, tzinfo=UTC)) == []


def test_a_naive_datetime_is_refused(store: Ledger) -> None:
    # A caller bug, so it fails loudly (SQLAlchemy wraps the type's ValueError) instead of guessing.
    with pytest.raises(
        StatementError, match="naive datetime 2025-03-01T08:00:00 given to the store"
    ):
        store.papers.ensure_subscribers(["a@example.org"], datetime(2025, 3, 1, 8, 0))


def test_papers_are_newest_first_with_since_and_limit(store: Ledger) -> None:
    store.papers.record([arxiv("2501.00080", "Old")], T0)
    store.papers.record([arxiv("2501.00081", "Middle")], T1)
    store.papers.record([arxiv("2501.00082", "New")], T2)
    assert [p.title for p in store.papers.seen()] == ["New", "Middle", "Old"]
    assert [p.title for p in store.papers.seen(since=T1)] == ["New", "Middle"]
    assert [p.title for p in store.papers.seen(limit=1)] == ["New"]


# --- sources and status -------------------------------------------------------------------------


def test_save_poll_counts_failures_and_keeps_validators(store: Ledger) -> None:
    assert store.papers.source_state("arxiv-rss") is None
    store.papers.save_poll(
        "arxiv-rss", T0, etag='"v1"', last_modified="Sat, 01 Mar 2025 08:00:00 GMT", count=7
    )
    store.papers.save_poll("arxiv-rss", T1, error="HTTP 503 from https://rss.arxiv.org/rss/cs")
    store.papers.save_poll("arxiv-rss", T2, error="timed out after 30 s", etag='"ignored"')
    assert store.papers.source_state("arxiv-rss") == SourceState(
        name="arxiv-rss",
        etag='"v1"',
        last_modified="Sat, 01 Mar 2025 08:00:00 GMT",
        last_poll=T2,
        last_success=T0,
        last_error="timed out after 30 s",
        consecutive_failures=2,
        last_count=7,
    )
    later = T2 + timedelta(hours=1)
    store.papers.save_poll("arxiv-rss", later, count=0)  # a 304: no new validators sent
    assert store.papers.source_state("arxiv-rss") == SourceState(
        name="arxiv-rss",
        etag='"v1"',
        last_modified="Sat, 01 Mar 2025 08:00:00 GMT",
        last_poll=later,
        last_success=later,
        last_error=None,
        consecutive_failures=0,
        last_count=0,
    )
    store.papers.save_poll("arxiv-rss", later, etag='"v2"', count=3)
    state = store.papers.source_state("arxiv-rss")
    assert state is not None and (state.etag, state.last_count) == ('"v2"', 3)


def test_status_lists_sources_papers_and_every_state(store: Ledger) -> None:
    store.papers.ensure_subscribers(["quiet@example.org", "busy@example.org"], T0)
    store.papers.record(
        [arxiv("2501.00090", "A"), arxiv("2501.00091", "B")], T1, everyone(["busy@example.org"])
    )
    store.papers.save_poll("zeta", T1)
    store.papers.save_poll("alpha", T1, error="boom")
    status = store.status()
    assert [(s.name, s.consecutive_failures) for s in status.sources] == [("alpha", 1), ("zeta", 0)]
    assert status.papers == 2
    assert status.deliveries == {
        "busy@example.org": {"pending": 2, "sent": 0, "failed": 0, "quarantined": 0},
        "quiet@example.org": {"pending": 0, "sent": 0, "failed": 0, "quarantined": 0},
    }


def test_reopening_keeps_the_ledger(database_url: str) -> None:
    with Ledger.open(database_url) as first:
        first.papers.record([arxiv("2501.00095", "Persisted")], T0)
    with Ledger.open(database_url) as second:
        assert second.papers.record([arxiv("2501.00095", "Persisted")], T1) == []
        assert paper_count(second) == 1


# --- opening ------------------------------------------------------------------------------------


def test_a_new_sqlite_file_and_its_wal_are_private(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "folder" / "bot.db"
    old = os.umask(0o022)  # the usual umask, under which SQLite itself would create 0644
    try:
        with Ledger.open(f"sqlite:///{path}") as store:
            store.papers.record([arxiv("2501.00100", "Private")], T0)
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            wal = path.with_name("bot.db-wal")
            assert wal.exists()  # WAL journal mode is on
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_an_unopenable_sqlite_path_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("not a folder")
    with pytest.raises(StoreError) as caught:
        Ledger.open(f"sqlite:///{tmp_path}/plain-file/bot.db")
    assert str(caught.value) == (
        f"cannot open database sqlite:///{tmp_path}/plain-file/bot.db: "
        f"cannot create folder {tmp_path}/plain-file: File exists"
    )

    (tmp_path / "a-folder").mkdir()
    with pytest.raises(StoreError) as caught:
        Ledger.open(f"sqlite:///{tmp_path}/a-folder")
    assert (
        str(caught.value) == f"cannot open database sqlite:///{tmp_path}/a-folder: Is a directory"
    )


def test_an_unreachable_server_error_hides_the_password() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoreError) as caught:
        Ledger.open(f"postgresql+psycopg://bot:s3cret@127.0.0.1:{port}/ledger")
    message = str(caught.value)
    assert message.startswith(
        f"cannot open database postgresql+psycopg://bot:***@127.0.0.1:{port}/ledger: "
    )
    assert "s3cret" not in message
    assert "\n" not in message


def test_a_malformed_url_is_one_line_without_its_password() -> None:
    with pytest.raises(ConfigError) as caught:  # a settings problem: exit 2
        Ledger.open("postgresql+psycopg://u:S3cret@db.example.org:5432x/db")
    assert str(caught.value) == (
        "database postgresql+psycopg://u:***@db.example.org:5432x/db: not a database URL"
        " (invalid literal for int() with base 10: '5432x')"
        " (write sqlite:///bot.db, or postgresql+psycopg://user@host/dbname for PostgreSQL)"
    )


# --- concurrency --------------------------------------------------------------------------------

EMAILS = ["a@example.org", "b@example.org"]
BATCH = 200


def _batch() -> list[Paper]:
    return [arxiv(f"2502.{n:05d}", f"Concurrent paper {n}") for n in range(BATCH)]


def _record_when_released(url: str, barrier, results) -> None:  # noqa: ANN001 (process target)
    """Open the store, wait for the other writer, then record the same batch."""
    with Ledger.open(url) as store:
        store.papers.ensure_subscribers(EMAILS, T0)
        barrier.wait(timeout=30)
        new = store.papers.record(_batch(), T1, everyone(EMAILS))
    results.put([p.id for p in new])


def _assert_recorded_once(url: str, news: list[list[str]]) -> None:
    everything = sorted(p.id for p in _batch())
    assert sorted(news[0] + news[1]) == everything  # each paper new to exactly one writer
    with Ledger.open(url) as store:
        assert paper_count(store) == BATCH
        assert [pending_count(store, e) for e in EMAILS] == [BATCH, BATCH]


def test_two_threads_recording_at_once_record_each_paper_once(database_url: str) -> None:
    Ledger.open(database_url).close()  # tables exist before the race starts
    barrier = threading.Barrier(2)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    class Collect:
        def put(self, item: list[str]) -> None:
            results.append(item)

    def run() -> None:
        try:
            _record_when_released(database_url, barrier, Collect())
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    _assert_recorded_once(database_url, results)


def _in_processes(target, args: tuple, count: int, timeout: float) -> list:  # noqa: ANN001
    """Run `target(*args, barrier, results)` in `count` new processes; what each one put."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(count)
    results = context.Queue()
    workers = [context.Process(target=target, args=(*args, barrier, results)) for _ in range(count)]
    for worker in workers:
        worker.start()
    try:
        found = [results.get(timeout=timeout) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    assert [w.exitcode for w in workers] == [0] * count
    return found


def test_two_processes_recording_at_once_record_each_paper_once(database_url: str) -> None:
    news = _in_processes(_record_when_released, (database_url,), 2, 60)
    _assert_recorded_once(database_url, news)


NEW_FILES = 150  # fresh databases opened at once; before the fix ~1 in 30 collided


def _open_new_files_in_step(folder: str, barrier, results) -> None:  # noqa: ANN001 (process)
    """Open each new database of `folder` together with the other processes, and write to it."""
    failures = []
    for index in range(NEW_FILES):
        barrier.wait(timeout=60)
        try:
            with Ledger.open(f"sqlite:///{folder}/{index}.db") as store:
                store.papers.ensure_subscribers(EMAILS, T0)
        except StoreError as exc:
            failures.append(f"{index}: {exc}")
    results.put(failures)


def test_processes_opening_a_new_sqlite_database_at_once_all_succeed(tmp_path: Path) -> None:
    """Two cron jobs on a new install: switching a new file to WAL once said "database is locked"
    (SQLite does not wait on the busy handler there)."""
    failures = _in_processes(_open_new_files_in_step, (str(tmp_path),), 3, 240)
    assert failures == [[], [], []]
    with Ledger.open(f"sqlite:///{tmp_path}/{NEW_FILES - 1}.db") as store:
        assert pending_count(store, EMAILS[0]) == 0


# --- the outbox (emails) ------------------------------------------------------------------------


def _owed(store: Ledger, emails: list[str], number: str = "2501.00500") -> list[str]:
    store.papers.ensure_subscribers(emails, T0)
    store.papers.record([arxiv(number, f"Owed {number}")], T0, everyone(emails))
    return [f"arxiv:{number}"]


def test_an_email_and_its_deliveries_become_sent_together(store: Ledger) -> None:
    ids = _owed(store, ["a@example.org"])
    row = store.outbox.add_email("A@example.org", ids, "<m1@example.org>", b"bytes", T0)
    assert row is not None
    assert store.deliveries.pending("a@example.org") == []  # in an email now, still owed
    assert pending_count(store, "a@example.org") == 1
    assert store.outbox.open_emails() == {"a@example.org"}
    [claimed] = store.outbox.claim_due("me", T1, timedelta(minutes=5), 10)
    assert (claimed.email, claimed.data, claimed.attempts) == ("a@example.org", b"bytes", 1)
    assert store.outbox.claim_due("other", T1, timedelta(minutes=5), 10) == []  # held by "me"
    store.outbox.emails_sent([claimed.id], T2)
    assert store.status().deliveries["a@example.org"] == {
        "pending": 0, "sent": 1, "failed": 0, "quarantined": 0
    }  # fmt: skip
    assert outbox_row(store, claimed.id)["state"] == "sent"
    assert store.outbox.open_emails() == set()


def test_a_refused_email_fails_its_deliveries_with_the_reply(store: Ledger) -> None:
    ids = _owed(store, ["a@example.org"])
    row = store.outbox.add_email("a@example.org", ids, "<m1@example.org>", b"x", T0)
    store.outbox.claim_due("me", T1, timedelta(minutes=5), 1)
    store.outbox.email_failed(row, "550 5.1.1 no such user", T2)
    status = store.status()
    assert status.deliveries["a@example.org"]["failed"] == 1
    assert status.errors["a@example.org"] == (T2, "550 5.1.1 no such user")


def test_a_deferred_email_is_not_due_before_its_next_attempt(store: Ledger) -> None:
    ids = _owed(store, ["a@example.org"])
    store.outbox.add_email("a@example.org", ids, "<m1@example.org>", b"x", T0)
    [claimed] = store.outbox.claim_due("me", T0, timedelta(minutes=5), 1)
    store.outbox.email_deferred(claimed.id, "me", "451 later", T2)
    assert store.outbox.next_attempt() == T2
    assert store.outbox.claim_due("me", T1, timedelta(minutes=5), 1) == []
    [again] = store.outbox.claim_due("me", T2, timedelta(minutes=5), 1)
    assert again.attempts == 2
    store.outbox.release([again.id], "me")
    assert outbox_row(store, again.id)["attempts"] == 1  # released untried: not an attempt


def test_one_email_per_subscriber_and_period(store: Ledger) -> None:
    ids = _owed(store, ["a@example.org"])
    assert not store.outbox.has_digest("a@example.org", "daily:2025-03-01")
    assert store.outbox.add_email("a@example.org", ids, "<m1@x>", b"x", T0, "daily:2025-03-01")
    assert store.outbox.has_digest("a@example.org", "daily:2025-03-01")
    more = _owed(store, ["a@example.org"], "2501.00501")
    assert (
        store.outbox.add_email("a@example.org", more, "<m2@x>", b"y", T1, "daily:2025-03-01")
        is None
    )
    assert (
        store.deliveries.pending("a@example.org")[0].paper.id == more[0]
    )  # still owed, in no email
    assert store.outbox.add_email("a@example.org", more, "<m3@x>", b"y", T1, None) is not None
    assert store.outbox.last_periods() == {"a@example.org": "daily:2025-03-01"}


def test_add_email_writes_nothing_when_no_delivery_is_left(store: Ledger) -> None:
    ids = _owed(store, ["a@example.org"])
    assert store.outbox.add_email("a@example.org", ids, "<m1@x>", b"x", T0) is not None
    assert (
        store.outbox.add_email("a@example.org", ids, "<m2@x>", b"x", T0) is None
    )  # already in one
    assert len(outbox_ids(store, "pending")) == 1


def test_an_email_composed_before_another_took_some_of_its_papers_is_not_stored(
    store: Ledger,
) -> None:
    # Run A composed {1}; a poll queued 2; run B composed {1, 2}; A stored its email first.
    first = _owed(store, ["a@example.org"], "2501.00501")
    second = _owed(store, ["a@example.org"], "2501.00502")
    assert store.outbox.add_email("a@example.org", first, "<a@x>", b"A", T0) is not None
    assert store.outbox.add_email("a@example.org", first + second, "<b@x>", b"B", T0) is None
    assert [
        p.paper.id for p in store.deliveries.pending("a@example.org")
    ] == second  # composed again later
    assert [e.data for e in store.outbox.claim_due("me", T0, timedelta(minutes=5), 10)] == [b"A"]


def test_a_paper_that_never_renders_is_quarantined_on_the_third_failure(store: Ledger) -> None:
    ids = _owed(store, ["a@example.org"])
    assert store.deliveries.note_render_failure("a@example.org", ids, "boom", T0) == []
    assert store.deliveries.note_render_failure("a@example.org", ids, "boom", T1) == []
    assert store.deliveries.note_render_failure("a@example.org", ids, "boom", T2) == ids
    assert store.deliveries.pending("a@example.org") == []
    assert store.status().deliveries["a@example.org"]["quarantined"] == 1


def test_concurrent_claimers_never_take_the_same_email(database_url: str) -> None:
    emails = [f"p{i}@example.org" for i in range(60)]
    with Ledger.open(database_url) as store:
        ids = _owed(store, emails)
        for email in emails:
            store.outbox.add_email(email, ids, f"<{email}>", b"x", T0)
    taken: list[int] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        with Ledger.open(database_url) as mine:
            while rows := mine.outbox.claim_due(name, T1, timedelta(minutes=5), 3):
                with lock:
                    taken.extend(r.id for r in rows)

    threads = [threading.Thread(target=claimer, args=(f"c{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 60


# --- many deliveries (issue 14) -----------------------------------------------------------------


def test_deliveries_are_stored_as_the_ledger_stores_every_row(store: Ledger) -> None:
    # Written in bulk, apart from SQLAlchemy's per-row processing: the time must be stored as
    # every other time is (SQLite: the same text, so that comparisons in SQL hold).
    store.papers.ensure_subscribers(["a@example.org"], T0)
    store.papers.record([arxiv("2501.00090", "Stored Alike")], T1, everyone(["A@example.org"]))
    sql = (
        "SELECT d.email, d.state, d.queries, d.attempts, d.sent_at, d.outbox_id,"
        " d.queued_at = p.first_seen FROM deliveries d JOIN papers p ON p.id = d.paper_id"
    )
    with store.database.read() as conn:
        rows = [(*row[:-1], bool(row[-1])) for row in conn.execute(text(sql))]
    assert rows == [("a@example.org", "pending", '["q"]', 0, None, None, True)]
    assert store.deliveries.oldest_unassigned() == {"a@example.org": T1}


MANY_PAPERS, MANY_EMAILS = 120, 430  # 51,600 deliveries: more than one batch of inserts


def test_a_poll_of_many_deliveries_writes_each_pair_once_with_its_first_queries(
    store: Ledger,
) -> None:
    emails = [f"reader{n:03d}@example.org" for n in range(MANY_EMAILS)]
    store.papers.ensure_subscribers(emails, T0)
    store.papers.ensure_subscribers(["late@example.org"], T2)
    papers = [arxiv(f"2501.{n:05d}", f"Paper Number {n}") for n in range(MANY_PAPERS)]

    def queue(new: list[Paper]):
        # Paper by paper (not in the ledger's order), a subscriber first seen later, and every
        # pair of the first paper given again at the end with other queries.
        for paper in new:
            for email in [*emails, "late@example.org"]:
                yield email.upper() if paper is new[0] else email, paper.id, (f"q {paper.id}",)
        for email in emails:
            yield email, new[0].id, ("again",)

    store.papers.record(papers, T1, queue)
    sql = (
        "SELECT count(*), count(DISTINCT d.email), count(DISTINCT d.paper_id) FROM deliveries d"
        " JOIN papers p ON p.id = d.paper_id"
        " WHERE d.state = 'pending' AND d.queued_at = p.first_seen"
    )
    with store.database.read() as conn:
        counted = tuple(conn.execute(text(sql)).one())
    assert counted == (MANY_PAPERS * MANY_EMAILS, MANY_EMAILS, MANY_PAPERS)
    pending = store.deliveries.pending(emails[-1])
    assert [(p.paper.id, p.queries) for p in pending] == [
        (p.id, (f"q {p.id}",)) for p in sorted(papers, key=lambda p: p.id)
    ]
    assert pending_count(store, "late@example.org") == 0
