"""Fuzz every parser (issue 11): random bytes, random XML and random JSON give papers or a
ParseError, never another exception, and every paper that comes out is clean (SPEC section 3).

Kept fast: a modest number of examples per parser and a deadline per example; memory is bounded
by the size of the inputs hypothesis draws plus the parsers' caps, checked with tracemalloc.
"""

from __future__ import annotations

import html
import json
import re
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import ParseError
from bot.sources import parse
from bot.sources.untrusted import MAX_ABSTRACT, MAX_AUTHORS, MAX_TITLE

FUZZ = settings(
    max_examples=60,
    deadline=2000,  # ms per example: a parser stuck in a loop fails here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples on every run: a failure is reproducible
)
_UNCLEAN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
CONTENT_TYPES = [None, "text/plain", "text/html", "application/rss+xml", "application/json"]

# Text with the characters parsers trip on: markup, entities, controls, lone surrogates, TeX.
nasty_text = st.lists(
    st.one_of(
        st.characters(),
        st.sampled_from(["<", ">", "&", "$", "&amp;", "&lt;b&gt;", "<b>", "&#0;", "\ud800"]),
    ),
    max_size=30,
).map("".join)
xml_text = st.lists(
    st.one_of(
        st.characters(codec="utf-8", exclude_characters="<&"),
        st.sampled_from(["&amp;", "&lt;", "&#xD800;", "&#0;", "&a;", "&unknown;", "<![CDATA[<b>"]),
    ),
    max_size=30,
).map("".join)
TAGS = ["rss", "channel", "item", "title", "link", "description", "feed", "entry", "summary",
        "id", "author", "name", "category", "guid", "pubDate", "rdf:RDF", "dc:creator"]  # fmt: skip


def element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda tag, attrs, inner: f"<{tag}{attrs}>{''.join(inner)}</{tag}>",
        st.sampled_from(TAGS),
        st.sampled_from(
            ["", ' version="2.0"', ' type="html"', ' xmlns="http://www.w3.org/2005/Atom"']
        ),
        st.lists(children, max_size=4),
    )


random_xml = st.builds(
    lambda prolog, doctype, body, encoding: (prolog + doctype + body).encode(
        encoding, errors="ignore"
    ),
    st.sampled_from(["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-8"?>']),
    st.sampled_from(["", '<!DOCTYPE rss [<!ENTITY a "AAAA">]>', "<!DOCTYPE rss>"]),
    st.recursive(xml_text, element, max_leaves=20),
    st.sampled_from(["utf-8", "utf-16", "latin-1"]),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | nasty_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
    max_leaves=20,
)
daily_item = st.fixed_dictionaries(
    {
        "paper": st.fixed_dictionaries(
            {
                "id": st.one_of(nasty_text, st.just("2604.00001"), json_values),
                "title": nasty_text,
                "summary": nasty_text,
                "authors": st.lists(st.fixed_dictionaries({"name": nasty_text}), max_size=3),
                "publishedAt": st.one_of(nasty_text, st.just("2024-10-25T00:57:09.392Z")),
            }
        ),
        "title": nasty_text,
    }
)
random_json = st.one_of(json_values, st.lists(daily_item, max_size=5)).map(
    lambda value: json.dumps(value).encode("utf-8")
)


def hf_html(body: bytes) -> bytes:
    """A Hugging Face papers page carrying `body` as its DailyPapers data."""
    props = html.escape('{"dailyPapers": ' + body.decode("utf-8") + "}", quote=True)
    return f'<html><body><div data-target="DailyPapers" data-props="{props}"></div>'.encode()


def check(source_type: str, body: bytes, content_type: str | None) -> None:
    """parse() gives clean papers or raises ParseError, within a bounded amount of memory."""
    tracemalloc.start()
    try:
        try:
            papers = parse(source_type, body, content_type=content_type, url="https://x.org/f")
        except ParseError as error:
            assert str(error) and "\n" not in str(error)
            return
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20 + 50 * len(body), f"peak {peak / 2**20:.0f} MiB"
    for paper in papers:
        assert paper.title and len(paper.title) <= MAX_TITLE
        assert len(paper.abstract) <= MAX_ABSTRACT and len(paper.authors) <= MAX_AUTHORS
        for text in (paper.title, paper.abstract, paper.url, *paper.authors, *paper.categories):
            assert not _UNCLEAN.search(text), repr(text)
            text.encode("utf-8")  # storable anywhere


@FUZZ
@given(body=st.binary(max_size=4096), content_type=st.sampled_from(CONTENT_TYPES))
def test_random_bytes_to_every_parser(body: bytes, content_type: str | None):
    for source_type in ("feed", "hf-daily", "page"):
        check(source_type, body, content_type)


@FUZZ
@given(body=random_xml, content_type=st.sampled_from(CONTENT_TYPES))
def test_random_xml_to_the_feed_and_page_parsers(body: bytes, content_type: str | None):
    check("feed", body, content_type)
    check("page", body, content_type)


@FUZZ
@given(body=random_json)
def test_random_json_to_hf_daily_and_the_hf_html_page(body: bytes):
    check("hf-daily", body, "application/json")
    check("page", hf_html(body), "text/html")
    check("feed", body, "application/json")
