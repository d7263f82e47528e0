"""Every ill-formed and odd feed of tests/fixtures/odd/ gives a paper list or one ParseError.

The corpora are feedparser's illformed/ and encoding/ tests and rss2email's real snapshots
(tests/fixtures/README.md). feedparser's own files carry simulated HTTP headers in their leading
comment ("Header: Content-type: ..."); those are served as the real Content-Type here.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import FIXTURES, http_site
from support.polls import ALICE

from bot import sources
from bot.errors import ParseError
from bot.ledger import Ledger
from bot.models import Settings, Source
from bot.poll import poll
from bot.sources.fetch import Fetcher

ODD = FIXTURES / "odd"
FILES = sorted(
    path
    for path in ODD.rglob("*")
    if path.is_file() and path.name not in ("README", "LICENSE.feedparser")
)
NAMES = [str(path.relative_to(ODD)) for path in FILES]
_HEADER = re.compile(rb"Header:\s*Content-type:\s*([^\r\n]*?)\s*(?:-->|\r?\n)", re.IGNORECASE)

# Files whose entries become papers; every other file is a feed without a usable entry (most of
# feedparser's tests check feed-level fields, or entries without a title) and gives [].
PAPERS = {
    "feedparser/encoding/http_text_xml_charset_2.xml": ["Foo"],
    "feedparser/encoding/http_text_xml_charset_overrides_encoding_2.xml": ["Foo"],
    "feedparser/illformed/rdf_channel_empty_textinput.xml": ["crashes here"],
    # Legacy encodings without a declared charset: feedparser (without chardet) falls back to
    # windows-1252, so the titles are mojibake; they are still one paper each, never a crash.
    "feedparser/illformed/chardet/eucjp.xml": 1,
    "feedparser/illformed/chardet/euckr.xml": 1,
    "feedparser/illformed/chardet/gb2312.xml": 1,
    "feedparser/illformed/chardet/koi8r.xml": 1,
    "feedparser/illformed/chardet/shiftjis.xml": 1,
    "rss2email/allthingsrss/feed.atom": 3,
    "rss2email/bbc-chinese/feed.atom": 2,
    "rss2email/disqus/feed.rss": 2,
    "rss2email/gmane/feed.rss": 5,
    "rss2email/nodejs/feed1.xml": ["February 2020 Security Releases"],
    "rss2email/nodejs/feed2.xml": ["February 2020 Security Releases"],
    "rss2email/nodejs/feed3.xml": ["February 2020 Security Releases"],
}
ERRORS = {
    "feedparser/illformed/rss_empty_document.xml": (
        "not a feed: no RSS or Atom element found (no element found)"
    ),
}


def content_type(body: bytes) -> str | None:
    """The Content-Type a feedparser test file asks to simulate, if any."""
    found = _HEADER.search(body[:2048])
    return found.group(1).decode("latin-1").strip() if found else None


def test_the_odd_corpus_holds_108_feeds():
    assert len(FILES) == 108
    assert set(PAPERS) | set(ERRORS) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_of_the_108_odd_feeds_gives_papers_or_one_parse_error(name: str):
    body = (ODD / name).read_bytes()
    try:
        papers = sources.parse("feed", body, content_type=content_type(body), url="http://x.org/f")
    except ParseError as error:
        assert str(error) == ERRORS.get(name), f"unexpected error for {name}: {error}"
        return
    assert name not in ERRORS
    expected = PAPERS.get(name, [])
    if isinstance(expected, int):
        assert len(papers) == expected
    else:
        assert [p.title for p in papers] == expected
    for paper in papers:
        assert paper.title.strip() and "\n" not in paper.title
        assert paper.url == "" or paper.url.startswith(("http://", "https://"))


def test_all_108_odd_feeds_served_over_http_in_one_poll(tmp_path: Path):
    with http_site() as site, Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as store:
        listed = []
        for number, path in enumerate(FILES):
            body = path.read_bytes()
            headers = {"Content-Type": content_type(body) or "application/xml"}
            url = site.put(f"/{number}", (200, headers, body))
            listed.append(Source(name=NAMES[number], type="feed", url=url))
        settings = Settings(path=Path("settings.toml"), sources=tuple(listed), subscribers=(ALICE,))

        async def go():
            async with Fetcher(politeness=0) as fetcher:
                return await poll(
                    settings, store.papers, datetime(2026, 4, 27, tzinfo=UTC), fetcher=fetcher
                )

        report = asyncio.run(go())
    outcomes = {outcome.name: outcome for outcome in report.sources}
    assert len(outcomes) == 108
    assert {name: o.error for name, o in outcomes.items() if o.error} == ERRORS
    counts = {name: (len(v) if isinstance(v, list) else v) for name, v in PAPERS.items()}
    assert {name: o.listed for name, o in outcomes.items() if o.listed} == counts
