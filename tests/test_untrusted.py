"""SPEC section 3 "untrusted text", rule by rule: bot.sources.untrusted.clean_paper, and through
bot.sources.parse for every source type."""

from __future__ import annotations

import json

import pytest

from bot.models import Paper
from bot.sources import SKIPPED_NO_TEXT, parse
from bot.sources.untrusted import clean_paper, plain_text


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("A <b>bold</b> claim", "A bold claim"),
        ("Q&amp;A &lt;i&gt;in&lt;/i&gt; text", "Q&A <i>in</i> text"),  # one decoding, as HTML
        ("<p>One.</p><p>Two.</p>", "One. Two."),
        ("S<sub>N</sub>2 reactions", "SN2 reactions"),
        ("A <script>alert(1)</script> title", "A title"),
        ("A <script> in a title", "A in a title"),  # unclosed: only the tag goes
        # TeX stays as written, even where it looks like a tag: a < b > c is not <b>.
        ("Where $a<b$ holds", "Where $a<b$ holds"),
        ("Chains $a<b>c$ and <b>bold</b>", "Chains $a<b>c$ and bold"),
        ("Display $$x<i>y$$ math", "Display $$x<i>y$$ math"),
        ("Head $x<head$ stays", "Head $x<head$ stays"),
        ("x < y and z > w", "x < y and z > w"),
        ("Bell\x07 tab\tNUL\x00 C1\x85 ESC\x1b[2J", "Bell tab NUL C1 ESC[2J"),
        ("Lone \ud800surrogate\udfff", "Lone surrogate"),
        ("  spread\n\nover   lines ", "spread over lines"),
    ],
)
def test_markup_controls_and_surrogates_become_plain_text(raw: str, plain: str):
    assert plain_text(raw, 1_000) == plain


def test_fields_are_capped_with_an_ellipsis():
    paper = clean_paper(
        Paper(
            title="word " * 1_000,
            abstract="x" * 6_000_000,
            authors=tuple(f"Author {n}" for n in range(300)),
        )
    )
    assert len(paper.title) <= 1_000 and paper.title.endswith("word\u2026")
    assert paper.abstract == "x" * 19_999 + "\u2026"
    assert len(paper.authors) == 200
    assert paper.authors[:2] == ("Author 0", "Author 1") and paper.authors[-1] == "\u2026"
    assert paper.authors[-2] == "Author 198"


def test_two_hundred_authors_are_kept_whole():
    authors = tuple(f"Author {n}" for n in range(200))
    assert clean_paper(Paper(title="T", authors=authors)).authors == authors


def test_identifiers_and_links_lose_controls_and_surrogates():
    paper = clean_paper(
        Paper(title="T", url="https://example.org/\x00a\ud800", doi="10.1/x\x07", arxiv_id=None)
    )
    assert (paper.url, paper.doi, paper.arxiv_id) == ("https://example.org/a", "10.1/x", None)


def test_a_title_that_is_only_markup_is_counted_not_recorded():
    items = [
        {"paper": {"id": "2604.00001", "title": "<b></b>\x00\ud800", "summary": "S."}},
        {"paper": {"id": "2604.00002", "title": "Kept", "summary": "S."}},
    ]
    listing = parse("hf-daily", json.dumps(items).encode())
    assert [p.title for p in listing] == ["Kept"]
    assert listing.skipped == {SKIPPED_NO_TEXT: 1}


def test_every_source_type_is_cleaned():
    hf = json.dumps([{"paper": {"id": "2604.00001", "title": "A <i>B</i> &amp; C"}}]).encode()
    page = b"Header\n\nA <i>B</i> &amp; C\n\nWe show that a long enough abstract is read as one.\n"
    feed = (
        b'<rss version="2.0"><channel><title>t</title><item><title>A &lt;i&gt;B&lt;/i&gt; '
        b"&amp;amp; C</title><link>https://example.org/1</link></item></channel></rss>"
    )
    for source_type, body in (("hf-daily", hf), ("page", page), ("feed", feed)):
        assert [p.title for p in parse(source_type, body)] == ["A B & C"], source_type
