"""The digest email as a reader gets it (SPEC sections 3, 4 and 6, issue 10): every paper due is in
the email, every paper has a working link, no source secret is ever shown, highlights stay out of
URLs, URLs in abstracts are links, the date is the listing's."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from bot import identity
from bot.mail.digest import MAX_LISTED, compose, email_batch
from bot.mail.render import Renderer
from bot.models import Paper, Pending, Settings, Source, Subscriber
from bot.query.matcher import highlight
from bot.sources import parse
from tests.support import http_site, maildir_messages, run_bot

NOW = datetime(2026, 4, 28, 9, 0, tzinfo=UTC)


def _rss(items: list[str]) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Test feed'
        "</title><link>https://example.org/</link><description>d</description>\n"
        + "\n".join(items)
        + "\n</channel></rss>\n"
    )


def _item(title: str, abstract: str, link: str | None = None, date: str | None = None) -> str:
    parts = [f"<title>{title}</title>", f"<description>{abstract}</description>"]
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + "</item>"


class Html(HTMLParser):
    """The HTML part as a reader's client sees it: links (href, text) and marks (text, inside an
    <a>?)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.links: list[list[str]] = []  # [href, text]
        self.marks: list[tuple[str, str | None]] = []  # (text, href of the enclosing <a>)
        self.text: list[str] = []
        self._href: str | None = None
        self._mark: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self.links.append([self._href, ""])
        elif tag == "mark":
            self._mark = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None
        elif tag == "mark" and self._mark is not None:
            self.marks.append(("".join(self._mark), self._href))
            self._mark = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._href is not None:
            self.links[-1][1] += data
        if self._mark is not None:
            self._mark.append(data)


def _bodies(msg) -> tuple[str, str]:
    text = msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    return text, msg.get_body(preferencelist=("html",)).get_content()


# --- max_items: nothing starves (SPEC section 4) -------------------------------------------------


def test_max_items_5_and_8_polls_of_6_matches_put_every_paper_in_an_email(tmp_path: Path):
    feed = tmp_path / "feed.xml"
    (tmp_path / "settings.toml").write_text(
        '[bot]\ndatabase = "sqlite:///bot.db"\nmax_items = 5\n\n'
        '[mail]\ntransport = "maildir"\nmaildir = "outbox"\n\n'
        f'[[sources]]\nname = "feed"\ntype = "feed"\nurl = "{feed.as_uri()}"\n\n'
        '[[subscribers]]\nemail = "ann@example.org"\nkeywords = ["sparse"]\n'
        'cadence = "instant"\n',
        encoding="utf-8",
    )
    for poll in range(8):
        numbers = range(6 * poll, 6 * poll + 6)
        feed.write_text(
            _rss(
                [
                    _item(
                        f"Sparse attention study {n}", f"Sparse study {n}.", f"https://ex.org/{n}"
                    )
                    for n in numbers
                ]
            ),
            encoding="utf-8",
        )
        done = run_bot("--config", "settings.toml", "once", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    messages = maildir_messages(tmp_path / "outbox")
    seen_text: list[int] = []
    seen_html: list[int] = []
    for msg in messages:
        text, html = _bodies(msg)
        # The table of contents (before the dashed line in text, #paper-N links in HTML) lists
        # the cards' titles once more: count the cards and the listed lines only.
        cards = text.split("-" * 78 + "\n", 1)[-1]
        seen_text += [int(n) for n in re.findall(r"attention study (\d+)\n", cards)]
        links = [(h, t) for h, t in Html(html).links if not h.startswith("#")]
        seen_html += [int(t.rsplit(" ", 1)[1]) for _, t in links if "attention study" in t]
        # Each poll's six: five cards and one listed line, nothing promised for "the next email".
        assert msg["Subject"].startswith("6 new papers")
        # All five cards matched the one query: said once at the top, not on every card.
        assert text.count("Matched: sparse") == 0
        assert text.count("\nEvery paper below matched: sparse\n") == 1
        assert "Also new, one line each:" in text and "next email" not in text
    assert sorted(seen_text) == list(range(48))
    assert sorted(seen_html) == list(range(48))
    assert len(messages) == 8


def _owed(n: int, queued: datetime) -> Pending:
    paper = Paper(title=f"Paper {n}", id=f"t:{n}", first_seen=queued)
    return Pending("a@example.org", paper, ("paper",), queued)


def test_past_1000_listed_lines_the_oldest_go_first_and_the_rest_next_time():
    old = [_owed(n, NOW) for n in range(5)]
    new = [_owed(n, NOW + timedelta(hours=1, seconds=n)) for n in range(5, 5 + MAX_LISTED + 10)]
    ranked = new + old  # newer rank first here: the old ones must not starve behind them
    first = email_batch(ranked, 5)
    assert len(first) == 5 + MAX_LISTED
    assert {d.paper.id for d in old} <= {d.paper.id for d in first}
    assert first == new[:MAX_LISTED] + old  # the oldest owed, in rank order
    rest = [d for d in ranked if d not in first]
    assert len(rest) == 10
    newer = [_owed(n, NOW + timedelta(hours=2)) for n in range(10_000, 10_000 + MAX_LISTED)]
    second = email_batch(newer + rest, 5)
    assert set(map(id, rest)) <= set(map(id, second))  # one email behind, never more


# --- links and secrets (SPEC section 3) ----------------------------------------------------------

SECRET = "SECRET-TOKEN-93f1"
PASSWORD = "hunter2pw"

PAGE = """Daily papers

Mar 12

Sparse Mixtures Without Links

We study sparse mixtures of experts, a listing line with no link of its own at all.

Sparse Retrieval for Long Documents

A second sparse paper on this page, with no link either, so a title search is shown.
"""


def test_no_email_log_or_json_shows_a_source_urls_password_or_token(tmp_path: Path):
    with http_site() as site:
        base = site.base.replace("http://", f"http://reader:{PASSWORD}@")
        site.put(f"/page.txt?token={SECRET}", PAGE)
        feed = _rss(
            [
                _item("Sparse Paper With A Relative Link", "Sparse one.", "papers/7"),
                _item(
                    "Sparse Paper Linking The Listing",
                    "Sparse two.",
                    f"{base}/feed.xml?token={SECRET}",
                ),
                _item(
                    "Sparse Paper With A Token",
                    "Sparse three.",
                    f"https://ex.org/p?id=3&key={SECRET}",
                ),
                _item(
                    "Sparse Paper On arXiv", "Sparse four.", "https://arxiv.org/abs/2604.00004v2"
                ),
            ]
        )
        site.put(f"/feed.xml?token={SECRET}", feed, "application/rss+xml")
        (tmp_path / "settings.toml").write_text(
            '[bot]\ndatabase = "sqlite:///bot.db"\n\n'
            '[mail]\ntransport = "maildir"\nmaildir = "outbox"\n\n'
            f'[[sources]]\nname = "page"\ntype = "page"\nurl = "{base}/page.txt?token={SECRET}"\n\n'
            f'[[sources]]\nname = "feed"\ntype = "feed"\nurl = "{base}/feed.xml?token={SECRET}"\n\n'
            f'[[sources]]\nname = "gone"\ntype = "feed"\nurl = "{base}/gone.xml?token={SECRET}"\n\n'
            '[[subscribers]]\nemail = "ann@example.org"\nkeywords = ["sparse"]\n'
            'cadence = "instant"\n',
            encoding="utf-8",
        )
        outputs = []
        for args in (
            ("--log-level", "debug", "fetch"),
            ("search", "--json", "sparse"),
            ("search", "sparse"),
            ("status", "--json"),
            ("status",),
            ("preview", "ann@example.org"),
            ("--log-level", "debug", "send"),
        ):
            done = run_bot("--config", "settings.toml", *args, cwd=tmp_path)
            outputs += [done.stdout, done.stderr]
        assert "gone.xml" in "".join(outputs)  # the failing source is logged, by name and URL
        found = json.loads(outputs[2])
        assert len(found) == 6
    messages = maildir_messages(tmp_path / "outbox")
    assert len(messages) == 1
    text, html = _bodies(messages[0])
    for shown in [*outputs, text, html, messages[0].as_string()]:
        assert SECRET not in shown and PASSWORD not in shown and "reader" not in shown
    # Every paper has a working link: its own, else a title search at arXiv, labelled as one.
    parsed = Html(html)
    links = {t: h for h, t in parsed.links}
    own = {
        "Sparse Paper On arXiv": "https://arxiv.org/abs/2604.00004",
        "Sparse Paper With A Token": "https://ex.org/p?id=3",
    }
    for title, href in own.items():
        assert links[title] == href and f"\n    {href}\n" in text
    for title in (
        "Sparse Mixtures Without Links",
        "Sparse Retrieval for Long Documents",
        "Sparse Paper Linking The Listing",
    ):
        search = "https://arxiv.org/search/?query=" + title.replace(" ", "+") + "&searchtype=title"
        # The title links to the search (once: no second link), and the card says it is one.
        assert links[title] == search and [h for h, _ in parsed.links].count(search) == 1
        assert f"{title}\n" in text.replace("*", "")
        assert f" · arXiv title search:\n    {search}\n" in text
    assert html.count(" · title links to an arXiv search</p>") == 3
    relative = links.get("Sparse Paper With A Relative Link")
    assert relative is None or relative.startswith("http://127.0.0.1:")


# --- highlights, URLs and dates (SPEC section 6) -------------------------------------------------

ABSTRACT = (
    "We train a model with sparse rewards. Code: https://github.com/thu-coai/SPaR. "
    "Data (see https://example.org/sparse-data/v1?x=1&amp;sparse=2) and "
    "javascript:alert('sparse') and ftp://files.example.org/sparse.tar are not links; "
    "nor is www.sparse.org."
)


def test_an_email_from_a_feed_keeps_marks_out_of_urls_links_them_and_shows_the_listing_date():
    body = _rss(
        [
            _item(
                "Sparse Self-Play Refinement",
                ABSTRACT,
                "https://arxiv.org/abs/2412.11605",
                "Mon, 27 Apr 2026 00:00:00 -0400",
            ),
            _item("Sparse Paper Without A Date", "A plain abstract.", "https://ex.org/2"),
        ]
    )
    papers = [identity.identify(p) for p in parse("feed", body.encode())]
    first_seen = datetime(2026, 4, 29, 7, 0, tzinfo=UTC)
    papers = [
        Paper(
            **{
                **{f: getattr(p, f) for f in p.__slots__},
                "first_seen": first_seen,
                "sources": ("feed",),
            }
        )
        for p in papers
    ]
    who = Subscriber("ann@example.org", keywords=("sparse",))
    settings = Settings(
        path=Path("settings.toml"),
        sources=(Source("feed", "feed", "https://example.org/feed.xml"),),
        subscribers=(who,),
    )
    pending = [Pending(who.email, p, ("sparse",), first_seen) for p in papers]
    # The matcher does mark "sparse" inside the URLs: the email must not show those marks there.
    marks = highlight(papers[0], ("sparse",)).abstract
    assert any(
        ABSTRACT.find("sparse-data") <= a < ABSTRACT.find(" and javascript") for a, _ in marks
    )
    email = compose(settings, who, pending, Renderer(), NOW)
    assert email is not None
    text, html = email.text, email.html

    parsed = Html(html)
    hrefs = [h for h, _ in parsed.links]
    assert "https://github.com/thu-coai/SPaR" in hrefs
    assert "https://example.org/sparse-data/v1?x=1&sparse=2" in hrefs
    for href, _ in parsed.links:
        # The table of contents links to the cards in the page (#paper-N); no other scheme.
        assert href.split(":")[0] in ("https", "http", "mailto") or href.startswith("#paper-")
        assert "<mark>" not in href
    for mark, inside in parsed.marks:
        # Only a paper's title link holds a mark (its text is the title, not a URL).
        assert inside in (None, "https://arxiv.org/abs/2412.11605", "https://ex.org/2"), mark
    url_texts = [t for h, t in parsed.links if t.startswith("http")]
    assert url_texts == [
        "https://github.com/thu-coai/SPaR",
        "https://example.org/sparse-data/v1?x=1&sparse=2",
    ]
    assert not any(h.startswith(("javascript", "ftp")) or "www.sparse" in h for h in hrefs)
    visible = "".join(parsed.text)
    assert (
        "javascript:alert('sparse')" in visible and "ftp://files.example.org/sparse.tar" in visible
    )
    # Marks are where the words are, not in URLs: "sparse rewards", and the titles.
    assert [m for m, _ in parsed.marks].count("sparse") == 1
    assert ("Sparse", "https://arxiv.org/abs/2412.11605") in parsed.marks

    # Text part: the same, with *word* marks only outside URLs, URLs whole on their lines.
    assert "*sparse* rewards" in text
    assert "https://github.com/thu-coai/SPaR." in text and "*SPaR*" not in text
    assert "https://example.org/sparse-data/v1?x=1&sparse=2)" in text
    assert "javascript:alert('sparse')" in text and "ftp://files.example.org/sparse.tar" in text
    assert "www.sparse.org" in text
    # Dates: the feed item's date (the listing's), else the day the bot first saw the paper.
    assert "    feed · 2026-04-27\n" in text and "feed · 2026-04-27</p>" in html
    assert "    feed · 2026-04-29\n" in text and "feed · 2026-04-29</p>" in html
