"""Hostile source bodies (issue 11 items 4, 5, 7, 8; SPEC section 3 "untrusted text").

Each test serves the hostile body from a real HTTP server on loopback and polls it with a real
Fetcher and a real SQLite ledger, or runs the real CLI. Expected values are read off the bodies.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from ledger_sql import pending_count
from support import FIXTURES, html_text, http_site, maildir_messages, ok, run_bot
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


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as opened:
        yield opened


@pytest.fixture
def any_store(database_url: str) -> Iterator[Ledger]:
    """A ledger on SQLite and on PostgreSQL (each refuses different bad text)."""
    with Ledger.open(database_url) as opened:
        yield opened


def run_cli(
    command: str, folder: Path, sources: list[tuple[str, str, str]], keywords: str | None = None
):
    """The real CLI `bot <command>` on a settings file in `folder` (SQLite ledger bot.db, Maildir
    outbox): `sources` are (name, type, url); one instant subscriber ada@example.org."""
    lines = ['[bot]\ndatabase = "sqlite:///bot.db"']
    lines += [f'[[sources]]\nname = "{n}"\ntype = "{t}"\nurl = "{u}"' for n, t, u in sources]
    if keywords:
        lines.append(
            f'[[subscribers]]\nemail = "ada@example.org"\nkeywords = ["{keywords}"]\n'
            'cadence = "instant"'
        )
    config = folder / "settings.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run_bot(command, "--config", str(config), cwd=folder)


# ---------------------------------------------------------------------------------------------
# Item 4: a lone surrogate in one source's JSON


def surrogate_items() -> bytes:
    """An hf-daily list whose only paper carries lone surrogates; json.dumps writes them as the
    escape \\ud800, which any JSON parser turns back into a lone surrogate."""
    item = {
        "paper": {
            "id": "2604.00001",
            "title": "Lone \ud800surrogates in titles",
            "summary": "An abstract with a lone \udfff surrogate.",
            "authors": [{"name": "Ada \ud800Lovelace"}],
        }
    }
    return json.dumps([item]).encode("ascii")


def test_a_lone_surrogate_in_one_source_never_stops_another_from_being_recorded(any_store):
    store = any_store
    with http_site() as site:
        hf = site.put(
            "/api/daily_papers?date=2026-04-27", ok(surrogate_items(), "application/json")
        )
        arxiv = site.put("/rss", ok(ARXIV_AI))
        report = run_poll(store, [Source("hf", "hf-daily", hf), feed("arxiv", arxiv)], MONDAY)
    assert errors(report) == {"hf": None, "arxiv": None}
    stored = {p.arxiv_id: p for p in store.papers.seen()}
    assert sorted(stored) == sorted(["2604.00001", *ARXIV_IDS])
    cleaned = stored["2604.00001"]
    assert cleaned.title == "Lone surrogates in titles"
    assert cleaned.abstract == "An abstract with a lone surrogate."
    assert cleaned.authors == ("Ada Lovelace",)


def test_a_lone_surrogate_in_an_api_error_message_is_one_source_error(store):
    body = json.dumps({"error": "bad \ud800 date"}).encode("ascii")
    with http_site() as site:
        hf = site.put("/api/daily_papers?date=2026-04-27", ok(body, "application/json"))
        arxiv = site.put("/rss", ok(ARXIV_AI))
        report = run_poll(store, [Source("hf", "hf-daily", hf), feed("arxiv", arxiv)], MONDAY)
    assert errors(report) == {"hf": "Hugging Face API error: bad date", "arxiv": None}
    assert sorted(p.arxiv_id for p in store.papers.seen()) == ARXIV_IDS


def test_bot_once_records_and_mails_the_other_sources_papers_despite_a_lone_surrogate(
    tmp_path: Path,
):
    with http_site() as site:
        hf = site.put("/api/daily_papers?date=2026-04-27", surrogate_items(), "application/json")
        arxiv = site.put("/rss", ARXIV_AI, "application/rss+xml")
        result = run_cli(
            "once",
            tmp_path,
            [("hf", "hf-daily", hf), ("arxiv", "feed", arxiv)],
            "surrogates OR agent",
        )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "bot.db") as db:
        titles = {row[0] for row in db.execute("SELECT title FROM papers")}
    assert "Lone surrogates in titles" in titles
    assert len(titles) == 4
    (message,) = maildir_messages(tmp_path / "outbox")
    text = message.get_body(("plain",)).get_content().replace("*", "")  # highlights
    assert "Lone surrogates in titles" in " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# Item 5: an absurd Retry-After


def test_an_absurd_retry_after_is_capped_at_a_day_and_never_stops_the_other_sources(store):
    with http_site() as site:
        busy = site.put("/busy", (503, {"Retry-After": "999999999999"}, b""))
        good = site.put("/rss", ok(ARXIV_AI))
        sources = [feed("busy", busy), feed("good", good)]
        first = run_poll(store, sources, MONDAY)
        later = run_poll(store, sources, MONDAY + timedelta(hours=1))
        after_a_day = run_poll(store, sources, MONDAY + timedelta(days=1, seconds=1))
    told = f"HTTP 503 Service Unavailable from {busy}: asked to retry after 86400 s"
    assert errors(first) == {"busy": told, "good": None}
    assert errors(later) == {
        "busy": f"not polled: the server asked to wait, 82800 s left ({told})",
        "good": None,
    }
    assert errors(after_a_day)["good"] is None
    assert errors(after_a_day)["busy"] == told  # asked again after a day, and told again
    assert sorted(p.arxiv_id for p in store.papers.seen()) == ARXIV_IDS


def test_a_stored_absurd_retry_after_never_stops_a_poll(store):
    # What an older version stored for `Retry-After: 999999999999`.
    store.papers.save_poll(
        "busy", MONDAY, error="HTTP 503 Service Unavailable: asked to retry after 999999999999 s"
    )
    with http_site() as site:
        busy = site.put("/busy", ok(ARXIV_AI))
        good = site.put(
            "/rss", ok((FIXTURES / "arxiv" / "rss_cs.CL_2026-04-27_first3.xml").read_bytes())
        )
        sources = [feed("busy", busy), feed("good", good)]
        waiting = run_poll(store, sources, MONDAY + timedelta(hours=1))
        after_a_day = run_poll(store, sources, MONDAY + timedelta(days=1))
    assert waiting.sources[0].deferred
    assert "82800 s left" in errors(waiting)["busy"]
    assert errors(waiting)["good"] is None and len(waiting.new) == 3
    assert errors(after_a_day) == {"busy": None, "good": None}
    assert len(after_a_day.new) == 3


# ---------------------------------------------------------------------------------------------
# Item 7: entity bombs in any declared encoding


def bomb(encoding: str, value: int, references: int) -> bytes:
    """An RSS feed declaring `encoding`, with an entity of `value` characters referenced
    `references` times in one title, encoded in that encoding."""
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        f'<!DOCTYPE rss [<!ENTITY a "{"A" * value}">]><rss version="2.0">'
        f"<channel><title>t</title><item><title>{'&a;' * references}</title>"
        "<link>https://example.org/1</link></item></channel></rss>"
    )
    return text.encode(encoding)


ENCODINGS = ["cp037", "cp500", "utf-16", "utf-32", "utf-16-be", "latin-1", "cp1252"]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_an_entity_bomb_declared_in_any_encoding_is_refused(store, encoding):
    report, elapsed, peak = poll_bomb_and_good(
        store, ok(bomb(encoding, 2_000, 2_000), "application/xml")
    )
    assert errors(report) == {
        "bomb": "refusing a feed whose DOCTYPE declares the XML entity 'a' (2000 characters): "
        "entity expansion can exhaust memory",
        "good": None,
    }
    assert elapsed < 5.0
    assert peak < 100 * 2**20, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("encoding", ["cp037", "utf-32"])
def test_many_short_entity_references_in_any_encoding_are_refused(store, encoding):
    with http_site() as site:
        url = site.put("/rss", ok(bomb(encoding, 16, 100_000), "application/xml"))
        report = run_poll(store, [feed("bomb", url)], MONDAY)
    assert errors(report) == {
        "bomb": "refusing a feed whose XML entity references would expand to more than "
        "1,000,000 characters: entity expansion can exhaust memory"
    }
    assert store.papers.seen() == []


def test_a_feed_in_ebcdic_without_entities_is_read(store):
    body = (
        '<?xml version="1.0" encoding="cp037"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>EBCDIC is still spoken</title><link>https://example.org/1</link>"
        "<description>Mainframes serve feeds.</description></item></channel></rss>"
    ).encode("cp037")
    with http_site() as site:
        url = site.put("/rss", ok(body, "application/xml"))
        report = run_poll(store, [feed("ebcdic", url)], MONDAY)
    assert errors(report) == {"ebcdic": None}
    assert [p.title for p in store.papers.seen()] == ["EBCDIC is still spoken"]


# ---------------------------------------------------------------------------------------------
# Item 8: binary garbage served as a text page


def test_random_bytes_served_as_a_text_page_are_a_source_error_not_papers(store):
    garbage = random.Random(8).randbytes(2 * 2**20)
    with http_site() as site:
        url = site.put("/page", ok(garbage, "text/plain"))
        report = run_poll(store, [Source("junk", "page", url)], MONDAY)
    assert errors(report) == {
        "junk": "not a text listing: the body is binary data, not text "
        "(check the source url and type)"
    }
    assert store.papers.seen() == []


def test_a_text_page_with_a_few_undecodable_bytes_is_still_a_listing(store):
    page = (Path(__file__).parent / "fixtures" / "pages").glob("*.txt")
    text = next(iter(sorted(page))).read_bytes()
    damaged = text[:500] + b"\xff\xfe" + text[500:]
    with http_site() as site:
        url = site.put("/page", ok(damaged, "text/plain"))
        report = run_poll(store, [Source("page", "page", url)], MONDAY)
    assert errors(report) == {"page": None}
    assert len(report.new) > 10


# ---------------------------------------------------------------------------------------------
# SPEC section 3: untrusted text becomes plain text, capped, before it is recorded

MARKUP_FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Journal</title>'
    "<link>https://journal.example.org/</link><description>d</description>"
    "<item><title>Wings &amp;amp; legs of &lt;i&gt;Drosophila&lt;/i&gt; flies</title>"
    "<link>https://journal.example.org/a/1</link>"
    "<description><![CDATA[<p>We study <b>zebrafish</b> fins &amp; tails.</p> "
    "Where $a<b$ and $c<b>d$ hold, &lt;i&gt;order&lt;/i&gt; matters.]]></description></item>"
    "</channel></rss>"
)
PLAIN_TITLE = "Wings & legs of Drosophila flies"
PLAIN_ABSTRACT = "We study zebrafish fins & tails. Where $a<b$ and $c<b>d$ hold, order matters."


def test_markup_from_a_feed_is_plain_text_in_the_email_and_escaped_in_its_html(tmp_path: Path):
    with http_site() as site:
        url = site.put("/rss", MARKUP_FEED, "application/rss+xml")
        result = run_cli("once", tmp_path, [("journal", "feed", url)], "fins")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "bot.db") as db:
        assert db.execute("SELECT title, abstract FROM papers").fetchall() == [
            (PLAIN_TITLE, PLAIN_ABSTRACT)
        ]
    (message,) = maildir_messages(tmp_path / "outbox")
    text = " ".join(message.get_body(("plain",)).get_content().replace("*", "").split())
    assert PLAIN_TITLE in text
    assert "$a<b$ and $c<b>d$ hold, order matters." in text
    assert "&amp;" not in text and "<i>" not in text and "&lt;" not in text
    raw_html = message.get_body(("html",)).get_content()
    for markup in ("<i>", "<b>", "&lt;i&gt;", "&amp;amp;"):
        assert markup not in raw_html
    assert "Wings &amp; legs of Drosophila flies" in raw_html
    assert "$a&lt;b$ and $c&lt;b&gt;d$" in raw_html
    assert PLAIN_TITLE in html_text(message)


def test_a_6_mb_abstract_is_stored_capped_at_20000_characters(tmp_path: Path):
    words = "lorem ipsum dolor sit amet " * (6 * 2**20 // 27)
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>J</title>'
        f"<item><title>{'Long title ' * 200}</title><link>https://example.org/1</link>"
        f"<description>{words}</description>"
        + "".join(f"<author>Author {n}</author>" for n in range(300))
        + "</item></channel></rss>"
    ).encode()
    assert len(body) > 6 * 10**6
    with http_site() as site:
        url = site.put("/rss", body, "application/rss+xml")
        result = run_cli("fetch", tmp_path, [("journal", "feed", url)])
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "bot.db") as db:
        ((title, abstract),) = db.execute("SELECT title, abstract FROM papers").fetchall()
    assert len(abstract) <= 20_000 and abstract.endswith("\u2026")
    assert abstract.startswith("lorem ipsum dolor sit amet lorem")
    assert len(title) <= 1_000 and title.endswith("\u2026")
    assert title.startswith("Long title Long title")


def test_papers_the_ledger_refuses_fail_their_source_alone(pg_database_url: str):
    # PostgreSQL refuses an index entry over 2,704 bytes: a 1,000-character title of random
    # CJK characters (3 bytes each in UTF-8, incompressible) is a title key it cannot index.
    # The poll's one transaction fails; each source is then recorded in its own.
    rng = random.Random(4)
    title = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(1_000))
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>J</title>'
        f"<item><title>{title}</title><link>https://example.org/1</link>"
        "<description>An agent abstract.</description></item></channel></rss>"
    ).encode()
    with Ledger.open(pg_database_url) as store, http_site() as site:
        wide = site.put("/wide", ok(body))
        arxiv = site.put("/rss", ok(ARXIV_AI))
        report = run_poll(store, [feed("wide", wide), feed("arxiv", arxiv)], MONDAY)
        papers = store.papers.seen()
        state = store.papers.source_state("wide")
    assert errors(report)["arxiv"] is None
    assert sorted(p.arxiv_id for p in papers if p.arxiv_id) == ARXIV_IDS
    assert report.queued == pending_count(store, "alice@example.org") > 0
    if len(papers) == 3:  # refused: one line naming the source, its papers asked for again
        refused = errors(report)["wide"]
        assert refused.startswith("the ledger refused this source's papers ("), refused
        assert state is not None and state.last_success is None
    else:  # a ledger that can index such a title records it like any other
        assert errors(report)["wide"] is None and len(papers) == 4


def test_bot_once_names_the_source_serving_binary_data_and_mails_nothing(tmp_path: Path):
    with http_site() as site:
        url = site.put("/page", random.Random(8).randbytes(2 * 2**20), "text/plain")
        result = run_cli("once", tmp_path, [("junk", "page", url)], "a OR e")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors_shown = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors_shown == [
        "error: source 'junk': not a text listing: the body is binary data, not text "
        "(check the source url and type)"
    ]
    with sqlite3.connect(tmp_path / "bot.db") as db:
        assert db.execute("SELECT count(*) FROM papers").fetchone() == (0,)
    assert not (tmp_path / "outbox" / "new").exists() or not any(
        (tmp_path / "outbox" / "new").iterdir()
    )
