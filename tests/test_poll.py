"""Polls against real loopback HTTP servers and a real SQLite ledger: RELIABILITY.md H1-H15.

Every test drives `bot.poll.poll` with a real Ledger and a real Fetcher; servers that misbehave
at the socket level (hang, drip, gzip bomb, redirect loop) are raw sockets (support.raw_server).
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ledger_sql import pending_count
from support import FIXTURES, Reply, http_site, ok, raw_server, run_bot
from support.polls import (
    ARXIV_AI,
    ARXIV_IDS,
    MONDAY,
    errors,
    feed,
    poll_bomb_and_good,
    run_poll,
)

from bot.ledger import Ledger
from bot.models import Source

HOLIDAY = (FIXTURES / "arxiv" / "rss_physics_2025-12-31_empty_holiday.xml").read_bytes()
RSS = "application/rss+xml"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as opened:
        yield opened


def pending(store: Ledger, email: str = "alice@example.org") -> int:
    return pending_count(store, email)


def log_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


# ---------------------------------------------------------------------------------------------
# H1: 500 for several polls, then recovery; one ERROR line when the failure persists past a day


def test_h1_500_then_recovery_alerts_once_and_resends_nothing(store, caplog):
    caplog.set_level(logging.WARNING, logger="bot.poll")
    with http_site() as site:
        url = site.put("/rss", ok(ARXIV_AI))
        first = run_poll(store, [feed("arxiv", url)], MONDAY)
        assert [p.arxiv_id for p in first.new] == ARXIV_IDS and pending(store) == 3
        site.put("/rss", (500, {"Content-Type": "text/html"}, b"<html>oops</html>"))
        outcomes = [
            run_poll(store, [feed("arxiv", url)], MONDAY + timedelta(hours=h)) for h in (10, 20, 30)
        ]
        assert caplog.records and log_lines(caplog, logging.ERROR) == [
            f"source=arxiv url={url} failing for more than a day (last success "
            f"2026-04-27T12:00+00:00, 3 failed polls): HTTP 500 Internal Server Error from {url}"
        ]
        run_poll(store, [feed("arxiv", url)], MONDAY + timedelta(hours=40))
        state = store.papers.source_state("arxiv")
        assert (state.consecutive_failures, state.last_count) == (4, 3)
        site.put("/rss", ok(ARXIV_AI))
        recovered = run_poll(store, [feed("arxiv", url)], MONDAY + timedelta(hours=50))
    assert [errors(r) for r in outcomes] == [
        {"arxiv": f"HTTP 500 Internal Server Error from {url}"}
    ] * 3
    assert recovered.new == [] and errors(recovered) == {"arxiv": None}
    assert pending(store) == 3  # nothing queued twice, nothing forgotten
    assert len(log_lines(caplog, logging.ERROR)) == 1
    assert len(log_lines(caplog, logging.WARNING)) == 4
    assert store.papers.source_state("arxiv").consecutive_failures == 0


def test_a_source_that_never_worked_alerts_on_its_first_failure_only(store, caplog):
    caplog.set_level(logging.WARNING, logger="bot.poll")
    with http_site() as site:
        url = site.base + "/nothing"
        for hours in (0, 1, 30):
            run_poll(store, [feed("typo", url)], MONDAY + timedelta(hours=hours))
    assert log_lines(caplog, logging.ERROR) == [
        f"source=typo url={url} has never been fetched successfully: HTTP 404 Not Found from {url}"
    ]


# ---------------------------------------------------------------------------------------------
# H2: 404 and 410 are named; the other sources are processed


def test_h2_404_and_410_are_reported_and_other_sources_go_on(store):
    with http_site() as site:
        gone = site.put("/gone", (410, {}, b""))
        good = site.put("/good", ok(ARXIV_AI))
        report = run_poll(
            store,
            [feed("missing", site.base + "/missing"), feed("gone", gone), feed("good", good)],
            MONDAY,
        )
    assert errors(report) == {
        "missing": f"HTTP 404 Not Found from {site.base}/missing",
        "gone": f"HTTP 410 Gone from {gone}: the listing is gone; remove the source or fix its url",
        "good": None,
    }
    assert len(report.new) == 3 and pending(store) == 3


# ---------------------------------------------------------------------------------------------
# H3: 429/503 with Retry-After


def test_h3_short_retry_after_is_slept_and_retried_once_in_the_same_poll(store):
    with http_site() as site:
        url = site.put("/rss", [(429, {"Retry-After": "1"}, b""), ok(ARXIV_AI)])
        started = time.monotonic()
        report = run_poll(store, [feed("arxiv", url)], MONDAY)
        elapsed = time.monotonic() - started
    assert errors(report) == {"arxiv": None} and len(report.new) == 3
    assert site.requests == ["/rss", "/rss"]
    assert 1.0 <= elapsed < 4


def test_h3_long_retry_after_skips_the_source_until_then(store):
    with http_site() as site:
        url = site.put("/rss", [(503, {"Retry-After": "120"}, b""), ok(ARXIV_AI)])
        asked = run_poll(store, [feed("arxiv", url)], MONDAY)
        waiting = run_poll(store, [feed("arxiv", url)], MONDAY + timedelta(seconds=60))
        assert site.requests == ["/rss"]  # not asked again within the 120 s
        later = run_poll(store, [feed("arxiv", url)], MONDAY + timedelta(seconds=121))
    told = f"HTTP 503 Service Unavailable from {url}: asked to retry after 120 s"
    assert errors(asked) == {"arxiv": told}
    assert errors(waiting) == {"arxiv": f"not polled: the server asked to wait, 60 s left ({told})"}
    assert waiting.sources[0].deferred and waiting.failed == []  # not a failure of this poll
    assert errors(later) == {"arxiv": None} and len(later.new) == 3
    assert site.requests == ["/rss", "/rss"]


def test_a_redirect_to_an_impossible_port_fails_that_source_alone(store):
    with http_site() as site:
        bad = site.put("/bad", (302, {"Location": "http://127.0.0.1:99999/x"}, b""))
        good = site.put("/rss", ok(ARXIV_AI))
        report = run_poll(store, [feed("bad", bad), feed("good", good)], MONDAY)
    assert errors(report) == {
        "bad": f"cannot fetch {bad}: connect(): port must be 0-65535.",
        "good": None,
    }
    assert len(report.new) == 3


# ---------------------------------------------------------------------------------------------
# H4-H7: a server that never answers, a slow drip, a gzip bomb, a redirect loop


def never_answer(conn, stop):
    stop.wait(30)


def drip(conn, stop):
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 9999\r\n\r\n"
    )
    while not stop.is_set():
        conn.sendall(b"<")
        time.sleep(0.2)


BOMB = gzip.compress(b" " * (16 * 1024 * 1024))


def gzip_bomb(conn, stop):
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(BOMB)}\r\n\r\n".encode()
        + BOMB
    )


def redirect_loop(conn, stop):
    conn.sendall(
        b"HTTP/1.1 302 Found\r\nLocation: /feed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (never_answer, "no complete answer within 1 s from {url}"),
        (drip, "no complete answer within 1 s from {url}"),
        (gzip_bomb, "body larger than 1 MiB from {url}"),
        (redirect_loop, "more than 5 redirects from {url}"),
    ],
    ids=["h4-never-answers", "h5-slow-drip", "h6-gzip-bomb", "h7-redirect-loop"],
)
def test_h4_to_h7_a_misbehaving_server_fails_its_source_in_bounded_time(store, reply, message):
    with raw_server(reply) as bad, http_site() as site:
        good = site.put("/rss", ok(ARXIV_AI))
        started = time.monotonic()
        report = run_poll(
            store, [feed("bad", bad), feed("good", good)], MONDAY, deadline=1.0, max_bytes=2**20
        )
        elapsed = time.monotonic() - started
    assert errors(report) == {"bad": message.format(url=bad), "good": None}
    assert len(report.new) == 3
    assert elapsed < 2.5  # one deadline, not one per socket read


# ---------------------------------------------------------------------------------------------
# H8: an HTML page, a challenge page or an empty body served with 200 is an error, not an empty feed


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            ok(
                b"<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>",
                "text/html",
            ),
            "not a feed: an HTML page was served (title 'Just a moment...')",
        ),
        (
            ok(b"<html><body><h1>502 Bad Gateway</h1></body></html>", RSS),
            "not a feed: an HTML page was served",
        ),
        (ok(b""), "not a feed: the body is empty"),
    ],
    ids=["challenge", "error-page", "empty"],
)
def test_h8_a_page_that_is_not_a_feed_keeps_the_old_state(store, reply, message):
    with http_site() as site:
        url = site.put("/rss", ok(ARXIV_AI, ETag='"v1"'))
        run_poll(store, [feed("arxiv", url)], MONDAY)
        site.put("/rss", reply)
        report = run_poll(store, [feed("arxiv", url)], MONDAY + timedelta(hours=1))
    assert errors(report) == {"arxiv": message}
    state = store.papers.source_state("arxiv")
    assert (state.etag, state.last_count, state.consecutive_failures) == ('"v1"', 3, 1)
    assert len(store.papers.seen()) == 3 and pending(store) == 3


# ---------------------------------------------------------------------------------------------
# H9: truncated XML at four cut points, then the whole feed: nothing twice, no id-less paper


def test_h9_truncated_feeds_then_the_whole_one_record_each_paper_once(store):
    cuts = [len(ARXIV_AI) * n // 10 for n in (3, 5, 7, 9)]
    with http_site() as site:
        url = site.put("/rss", [ok(ARXIV_AI[:cut]) for cut in cuts] + [ok(ARXIV_AI)])
        reports = [
            run_poll(store, [feed("arxiv", url)], MONDAY + timedelta(hours=n)) for n in range(5)
        ]
    recorded = [p.arxiv_id for report in reports for p in report.new]
    assert sorted(recorded) == ARXIV_IDS  # each once, none under a fallback identity
    assert all(p.arxiv_id for p in store.papers.seen())
    assert pending(store) == 3


# ---------------------------------------------------------------------------------------------
# H10-H11: feedparser's raises and entity expansion, contained per source


def test_h10_bogus_encoding_declarations_are_one_source_error(store):
    with http_site() as site:
        bad_byte = site.put(
            "/a", ok(b'<?xml version="1.0" encoding="\xcc\xdd"?><rss version="2.0"/>')
        )
        nul = site.put("/b", ok(b'<?xml version="1.0" encoding="u\x00tf-8"?><rss version="2.0"/>'))
        good = site.put("/c", ok(ARXIV_AI))
        report = run_poll(store, [feed("a", bad_byte), feed("b", nul), feed("c", good)], MONDAY)
    assert errors(report) == {
        "a": "not a readable feed: feedparser failed (UnicodeDecodeError: 'utf-8' codec can't "
        "decode byte 0xcc in position 0: invalid continuation byte)",
        "b": "not a readable feed: feedparser failed (ValueError: embedded null character)",
        "c": None,
    }


def entity_feed(value: bytes, references: int) -> bytes:
    return (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + value + b'">]><rss version="2.0">'
        b"<channel><title>t</title><item><title>" + b"&a;" * references + b"</title></item>"
        b"</channel></rss>"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            # RELIABILITY.md 3.1: 20 000 x 20 000, a 100 KB feed that gave a 400 MB title.
            entity_feed(b"A" * 20_000, 20_000),
            "refusing a feed whose DOCTYPE declares the XML entity 'a' (20000 characters): "
            "entity expansion can exhaust memory",
        ),
        (
            # A short entity referenced 3 million times (9 MB) would expand to 48 MB of text.
            entity_feed(b"A" * 16, 3_000_000),
            "refusing a feed whose XML entity references would expand to more than 1,000,000 "
            "characters: entity expansion can exhaust memory",
        ),
    ],
    ids=["long-entity", "many-references"],
)
def test_h11_entity_bombs_fail_in_bounded_time_and_memory(store, body, message):
    report, elapsed, peak = poll_bomb_and_good(store, ok(body))
    assert errors(report) == {"bomb": message, "good": None}
    assert elapsed < 2.0
    assert peak < 100 * 2**20, f"peak {peak / 2**20:.0f} MiB"


# ---------------------------------------------------------------------------------------------
# H12: hostile Hugging Face JSON


def hf_item(arxiv_id: str, title: str) -> dict:
    return {
        "paper": {"id": arxiv_id, "title": title, "summary": f"About {title}.", "authors": []},
        "title": title,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[{"paper": ', "not JSON: Expecting value at line 1 column 12"),
        (b"[" * 200_000, "not JSON: the document is nested too deeply"),
        (
            json.dumps([{"paper": {"title": "No id"}}, {"paper": {"id": 7}}]).encode(),
            "no usable daily-paper items among 2: each item needs paper.id and a title "
            "(has the Hugging Face format changed?)",
        ),
        (
            b"[" + b",".join([b"{}"] * 1_000_000) + b"]",
            "no usable daily-paper items among 1000000: each item needs paper.id and a title "
            "(has the Hugging Face format changed?)",
        ),
        (b'{"error": "Invalid date"}', "Hugging Face API error: Invalid date"),
    ],
    ids=["invalid", "deep-nesting", "schema-drift", "million-items", "error-object"],
)
def test_h12_hostile_hf_json_is_one_source_error_and_stores_nothing(store, body, message):
    with http_site() as site:
        url = site.put("/api/daily_papers", ok(body, "application/json"))
        started = time.monotonic()
        report = run_poll(store, [Source("hf", "hf-daily", url)], MONDAY)
    assert errors(report) == {"hf": message}
    assert time.monotonic() - started < 5
    assert store.papers.seen() == []


# ---------------------------------------------------------------------------------------------
# H13-H14: one paper under many names; GUID churn


def test_h13_the_same_paper_from_arxiv_and_hugging_face_is_one_paper_one_delivery(store):
    item = hf_item("2604.21935", "Math Takes Two: A test for emergent mathematical reasoning")
    with http_site() as site:
        arxiv = site.put("/rss", ok(ARXIV_AI))
        hf = site.put("/api/daily_papers", ok(json.dumps([item]).encode(), "application/json"))
        report = run_poll(store, [feed("arxiv", arxiv), Source("hf", "hf-daily", hf)], MONDAY)
    assert sorted(p.arxiv_id for p in report.new) == ARXIV_IDS
    (paper,) = [p for p in report.new if p.arxiv_id == "2604.21935"]
    assert sorted(paper.sources) == ["arxiv", "hf"]
    assert pending(store) == 3


def test_h14_guid_churn_resends_nothing(store):
    churned = ARXIV_AI.replace(b"oai:arXiv.org:", b"tag:arxiv.org,2026:").replace(
        b"<link>https://arxiv.org/abs/", b"<link>http://export.arxiv.org/pdf/"
    )
    assert churned != ARXIV_AI
    with http_site() as site:
        url = site.put("/rss", [ok(ARXIV_AI), ok(churned)])
        first = run_poll(store, [feed("arxiv", url)], MONDAY)
        second = run_poll(store, [feed("arxiv", url)], MONDAY + timedelta(hours=1))
    assert len(first.new) == 3 and second.new == [] and errors(second) == {"arxiv": None}
    assert pending(store) == 3


# ---------------------------------------------------------------------------------------------
# H15: conditional GET


def test_h15_a_304_is_no_change_and_a_server_ignoring_validators_dedupes(store):
    def conditional(headers: dict[str, str]) -> Reply:
        if headers.get("if-none-match") == '"v1"':
            return (304, {"ETag": '"v1"'}, b"")
        return ok(ARXIV_AI, ETag='"v1"', **{"Last-Modified": "Mon, 27 Apr 2026 04:00:00 GMT"})

    with http_site() as site:
        url = site.put("/rss", conditional)
        first = run_poll(store, [feed("arxiv", url)], MONDAY)
        second = run_poll(store, [feed("arxiv", url)], MONDAY + timedelta(hours=1))
        ignoring = site.put("/plain", ok(ARXIV_AI, ETag='"v1"'))
        third = run_poll(store, [feed("plain", ignoring)], MONDAY + timedelta(hours=2))
        fourth = run_poll(store, [feed("plain", ignoring)], MONDAY + timedelta(hours=3))
    assert site.headers[1]["if-none-match"] == '"v1"'
    assert site.headers[1]["if-modified-since"] == "Mon, 27 Apr 2026 04:00:00 GMT"
    assert len(first.new) == 3
    assert second.sources[0].unchanged and second.new == []
    assert store.papers.source_state("arxiv").last_count == 3  # "no change" is not "empty"
    assert third.new == [] and fourth.new == [] and not fourth.sources[0].unchanged
    assert pending(store) == 3


# ---------------------------------------------------------------------------------------------
# rss2email nodejs feed1 -> feed2 -> feed3 (same guid, changed content); arXiv revisions


def test_nodejs_same_guid_with_changed_content_is_sent_once(store):
    bodies = [
        (FIXTURES / "odd" / "rss2email" / "nodejs" / f"feed{n}.xml").read_bytes() for n in (1, 2, 3)
    ]
    assert bodies[0] != bodies[1] != bodies[2]
    with http_site() as site:
        url = site.put("/nodejs", [ok(body) for body in bodies])
        reports = [
            run_poll(store, [feed("nodejs", url)], MONDAY + timedelta(hours=n)) for n in range(3)
        ]
    assert [[p.title for p in r.new] for r in reports] == [
        ["February 2020 Security Releases"],
        [],
        [],
    ]
    assert pending(store) == 1


def revised(body: bytes, arxiv_id: str) -> bytes:
    """The feed with `arxiv_id` announced as a replacement (version 2) instead of new."""
    start = body.rindex(b"<item>", 0, body.index(f"oai:arXiv.org:{arxiv_id}v1".encode()))
    head, item = body[:start], body[start:]
    item = item.replace(b"Announce Type: new", b"Announce Type: replace", 1)
    item = item.replace(b"<arxiv:announce_type>new", b"<arxiv:announce_type>replace", 1)
    return head + item.replace(f"{arxiv_id}v1".encode(), f"{arxiv_id}v2".encode())


def test_an_arxiv_replace_of_a_paper_already_seen_sends_nothing(store):
    with http_site() as site:
        url = site.put("/rss", [ok(ARXIV_AI), ok(revised(ARXIV_AI, "2604.21935"))])
        source = feed("arxiv", url, include_revisions=True)
        first = run_poll(store, [source], MONDAY)
        second = run_poll(store, [source], MONDAY + timedelta(days=1))
    assert [p.arxiv_id for p in first.new] == ARXIV_IDS
    assert errors(second) == {"arxiv": None} and second.sources[0].listed == 3
    assert second.new == [] and pending(store) == 3


def test_revisions_of_unseen_papers_count_only_with_include_revisions(store):
    body = revised(ARXIV_AI, "2604.21937")
    with http_site() as site:
        url = site.put("/rss", ok(body))
        strict = run_poll(store, [feed("arxiv", url)], MONDAY)
        admitted = run_poll(store, [feed("arxiv", url, include_revisions=True)], MONDAY)
    assert [p.arxiv_id for p in strict.new] == ARXIV_IDS[:2]
    assert [p.arxiv_id for p in admitted.new] == ["2604.21937"]
    assert store.papers.source_state("arxiv").last_count == 3


# ---------------------------------------------------------------------------------------------
# Empty listings: normal on weekends, one alert on an unexpected empty weekday


def test_an_empty_weekday_after_a_full_one_alerts_once(store, caplog):
    caplog.set_level(logging.WARNING, logger="bot.poll")
    with http_site() as site:
        url = site.put("/rss", [ok(ARXIV_AI), ok(HOLIDAY)])
        run_poll(store, [feed("arxiv", url)], MONDAY)
        alerts = []
        for days in (1, 2):
            report = run_poll(store, [feed("arxiv", url)], MONDAY + timedelta(days=days))
            assert errors(report) == {"arxiv": None}
            alerts.append(report.sources[0].alert)
    alert = (
        "listed no papers on a weekday (Tuesday) after listing 3 at "
        "2026-04-27T12:00+00:00; normal on a holiday, otherwise check the source"
    )
    assert alerts == [alert, None]  # bot fetch/once print it once, as an error line
    assert log_lines(caplog, logging.ERROR) == [f"source=arxiv url={url} {alert}"]
    assert log_lines(caplog, logging.WARNING) == []


@pytest.mark.parametrize(
    "empty_at",
    [datetime(2026, 5, 2, 9, 0, tzinfo=UTC), datetime(2026, 5, 4, 2, 0, tzinfo=UTC)],
    ids=["saturday", "monday-02-utc-is-sunday-in-new-york"],
)
def test_an_empty_weekend_listing_is_normal(store, caplog, empty_at):
    caplog.set_level(logging.WARNING, logger="bot.poll")
    with http_site() as site:
        url = site.put("/rss", [ok(ARXIV_AI), ok(HOLIDAY)])
        run_poll(store, [feed("arxiv", url)], datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
        report = run_poll(store, [feed("arxiv", url)], empty_at)
    assert errors(report) == {"arxiv": None} and report.sources[0].listed == 0
    assert caplog.records == []


# ---------------------------------------------------------------------------------------------
# hf-daily catches up the days missed during a downtime


def test_hf_daily_catches_up_missed_days_with_date(store):
    friday_item = hf_item("2604.20001", "Agent papers listed on Friday")
    monday_item = hf_item("2604.21111", "Agent papers listed on Monday")
    with http_site() as site:
        url = site.put(
            "/api/daily_papers",
            [ok(json.dumps([]).encode()), ok(json.dumps([monday_item]).encode())],
        )
        site.put("/api/daily_papers?date=2026-04-24", ok(json.dumps([friday_item]).encode()))
        site.put("/api/daily_papers?date=2026-04-25", ok(b"[]"))
        site.put("/api/daily_papers?date=2026-04-26", ok(b"[]"))
        source = Source("hf", "hf-daily", url)
        run_poll(store, [source], datetime(2026, 4, 24, 6, 0, tzinfo=UTC))
        report = run_poll(store, [source], MONDAY)
    assert site.requests == [
        "/api/daily_papers",
        "/api/daily_papers",
        "/api/daily_papers?date=2026-04-24",
        "/api/daily_papers?date=2026-04-25",
        "/api/daily_papers?date=2026-04-26",
    ]
    assert sorted(p.arxiv_id for p in report.new) == ["2604.20001", "2604.21111"]
    assert report.sources[0].listed == 2 and store.papers.source_state("hf").last_count == 1
    assert pending(store) == 2


def test_hf_daily_catch_up_is_capped_at_seven_days_and_a_failed_day_fails_the_source(store):
    with http_site() as site:
        url = site.put("/api/daily_papers", ok(b"[]"))
        for day in range(17, 27):
            site.put(f"/api/daily_papers?date=2026-04-{day:02d}", ok(b"[]"))
        site.put("/api/daily_papers?date=2026-04-22", (500, {}, b""))
        source = Source("hf", "hf-daily", url)
        run_poll(store, [source], datetime(2026, 4, 10, 6, 0, tzinfo=UTC))
        report = run_poll(store, [source], MONDAY)
    assert site.requests[1:] == ["/api/daily_papers"] + [
        f"/api/daily_papers?date=2026-04-{day}" for day in range(20, 23)
    ]
    assert errors(report) == {
        "hf": f"HTTP 500 Internal Server Error from {site.base}/api/daily_papers?…"
    }
    # the failure keeps last_success, so the next poll asks for the same days again
    assert store.papers.source_state("hf").last_success == datetime(2026, 4, 10, 6, 0, tzinfo=UTC)


def test_hf_daily_with_another_url_is_fetched_as_is(store):
    with http_site() as site:
        url = site.put("/daily.json", ok(b"[]"))
        run_poll(store, [Source("hf", "hf-daily", url)], datetime(2026, 4, 20, tzinfo=UTC))
        run_poll(store, [Source("hf", "hf-daily", url)], MONDAY)
    assert site.requests == ["/daily.json", "/daily.json"]


# ---------------------------------------------------------------------------------------------
# `bot status` through the real CLI


def test_status_shows_consecutive_failures_and_the_last_error(tmp_path: Path):
    with http_site() as site:
        url = site.put("/rss", (500, {}, b""))
        (tmp_path / "settings.toml").write_text(
            f'[[sources]]\nname = "arxiv"\ntype = "feed"\nurl = "{url}"\n'
            '[[subscribers]]\nemail = "a@example.org"\nkeywords = ["agent"]\n',
            encoding="utf-8",
        )
        for _ in range(2):
            fetched = run_bot("fetch", cwd=tmp_path)
            assert fetched.returncode == 1
        status = run_bot("status", cwd=tmp_path)
    assert f"error: source 'arxiv': HTTP 500 Internal Server Error from {url}" in fetched.stderr
    [line] = [x for x in status.stdout.splitlines() if x.startswith("source arxiv:")]
    assert line.startswith(
        "source arxiv: no good poll yet; failing now: 2 polls in a row failed, the last "
    ), line
    assert f": HTTP 500 Internal Server Error from {url}; next poll " in line, line
