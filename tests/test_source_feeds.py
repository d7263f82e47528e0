"""`feed` sources: arXiv RSS/Atom and API, Nature and bioRxiv RDF, generic and hostile feeds."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import ParseError
from bot.models import Paper
from bot.sources import parse

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def feed(name: str, **kwargs) -> list[Paper]:
    return parse("feed", fixture(name), **kwargs)


ANNOUNCED = datetime(2026, 4, 27, 4, 0, tzinfo=UTC)  # "Mon, 27 Apr 2026 00:00:00 -0400"

# file, count, first paper's fields
TABLE = [
    (
        "arxiv/rss_cs.AI_2026-04-27_first3.xml",
        3,
        {
            "arxiv_id": "2604.21935",
            "url": "https://arxiv.org/abs/2604.21935",
            "title": "Math Takes Two: A test for emergent mathematical reasoning in communication",
            "authors": ("Michael Cooper", "Samuel Cooper"),
            "categories": ("cs.AI", "cs.LG"),
            "published": ANNOUNCED,
            "revision": False,
            "doi": None,
        },
    ),
    (
        "arxiv/rss_cs.CL_2026-04-27_first3.xml",
        3,
        {
            "arxiv_id": "2604.22002",
            "title": "When Cow Urine Cures Constipation on YouTube: Limits of LLMs in Detecting "
            "Culture-specific Health Misinformation",
            # dc:creator has "Ratna Kandala,  Deepti" (a mononym after a double space)
            "authors": ("Anamta Khan", "Ratna Kandala", "Deepti", "Sheza Munir", "Joyojeet Pal"),
            "categories": ("cs.CL",),
            "revision": False,
        },
    ),
    (
        "arxiv/DERIVED_rss_math.OC_spec_replace-cross.xml",
        1,
        {
            "arxiv_id": "2203.01250",
            "url": "https://arxiv.org/abs/2203.01250",
            "title": "Mass concentration in rescaled first order integral functionals",
            "authors": ("Antonin Monteil", "Paul Pegon"),
            "categories": ("math.AP", "math.OC"),
            "revision": True,
            "doi": "10.5802/jep.257",
            "published": datetime(2024, 8, 23, 4, 0, tzinfo=UTC),
        },
    ),
    (
        "arxiv/DERIVED_atom_math.OC_spec_replace-cross.xml",
        1,
        {
            "arxiv_id": "2203.01250",
            "url": "https://arxiv.org/abs/2203.01250",
            "authors": ("Antonin Monteil", "Paul Pegon"),
            "categories": ("math.AP", "math.OC"),
            "revision": True,
            "doi": "10.5802/jep.257",
            # <published>, not <updated> (the feed build time)
            "published": datetime(2024, 8, 23, 4, 0, tzinfo=UTC),
        },
    ),
    ("arxiv/rss_physics_2025-12-31_empty_holiday.xml", 0, {}),
    (
        "arxiv/api_idlist_1706.03762_2026_newformat.atom.xml",
        1,
        {
            "arxiv_id": "1706.03762",
            "url": "https://arxiv.org/abs/1706.03762",
            "title": "Attention Is All You Need",
            # entry.author is only the LAST author; all eight are kept
            "authors": (
                "Ashish Vaswani",
                "Noam Shazeer",
                "Niki Parmar",
                "Jakob Uszkoreit",
                "Llion Jones",
                "Aidan N. Gomez",
                "Lukasz Kaiser",
                "Illia Polosukhin",
            ),
            "categories": ("cs.CL", "cs.LG"),
            "published": datetime(2017, 6, 12, 17, 57, 34, tzinfo=UTC),
            "revision": False,
        },
    ),
    (
        "arxiv/api_query_all_einstein_2018.atom.xml",
        10,
        {
            "arxiv_id": "1801.05533",
            "url": "https://arxiv.org/abs/1801.05533",
            "title": "Einstein-Weyl structures on almost cosymplectic manifolds",
            "authors": ("Xiaomin Chen",),
            "categories": ("math.DG",),  # the MSC term "53D10, 53D15" is dropped
            "published": datetime(2018, 1, 17, 3, 5, 51, tzinfo=UTC),
        },
    ),
    (
        "journals/biorxiv_bioengineering_2019-11-29_1item.rdf.xml",
        1,
        {
            "arxiv_id": None,
            "doi": "10.1101/857789",
            "url": "http://biorxiv.org/cgi/content/short/857789v1?rss=1",
            "title": "Microscale Collagen and Fibroblast Interactions Enhance Primary Human "
            "Hepatocyte Functions in 3-Dimensional Models",
            "authors": ("Kukla, D.", "Crampton, A.", "Wood, D.", "Khetani, S."),
            "categories": (),
            "published": datetime(2019, 11, 29, tzinfo=UTC),
            "revision": False,
        },
    ),
    (
        "journals/nature_rss_2024-07-18.rdf.xml",
        75,
        {
            "doi": "10.1038/s41586-024-07811-4",
            "url": "https://www.nature.com/articles/s41586-024-07811-4",
            "title": "Catalysis of an SN2 pathway by geometric preorganization",  # S<sub>N</sub>2
            "authors": ("Gabriel J. Lovinger", "Marcus H. Sak", "Eric N. Jacobsen"),
            # content:encoded is "Nature, Published online: ...; doi:..." + the title again
            "abstract": "",
            "published": datetime(2024, 7, 18, tzinfo=UTC),
        },
    ),
]


@pytest.mark.parametrize(("name", "count", "first"), TABLE, ids=[row[0] for row in TABLE])
def test_fixture_feeds(name, count, first):
    papers = feed(name)
    assert len(papers) == count
    for field, expected in first.items():
        assert getattr(papers[0], field) == expected, field
    for paper in papers:
        assert paper.id == "" and paper.sources == ()
        assert paper.title and paper.title == " ".join(paper.title.split())
        assert paper.abstract == " ".join(paper.abstract.split())
        assert paper.published is None or paper.published.tzinfo is UTC


def test_arxiv_rss_abstract_is_the_plain_text_after_abstract():
    papers = feed("arxiv/rss_cs.AI_2026-04-27_first3.xml")
    assert papers[0].abstract.startswith(
        "Although language models demonstrate remarkable proficiency on mathematical benchmarks"
    )
    assert "Announce Type" not in papers[0].abstract
    assert r"\textbf{adaptability}" in papers[1].abstract  # raw LaTeX kept, not treated as HTML
    assert len(papers[1].authors) == 18
    assert papers[1].authors[-1] == "Bennett A. Landman"
    assert [p.arxiv_id for p in papers] == ["2604.21935", "2604.21936", "2604.21937"]


def test_arxiv_api_old_format_details():
    papers = feed("arxiv/api_query_all_einstein_2018.atom.xml")
    ids = [p.arxiv_id for p in papers]
    assert "math/0502287" in ids and "math/0507289" in ids
    kollar = papers[ids.index("math/0507289")]
    assert kollar.authors == ("Alessandro Ghigi", "János Kollár")
    assert kollar.categories == ("math.DG", "math.AG")
    assert papers[ids.index("0808.2097")].categories == ("math.DG", "math-ph", "math.MP")
    assert papers[0].abstract.startswith(
        "In this article, we study the Einstein-Weyl structures on almost cosymplectic manifolds. "
        "First we prove"
    )


def test_nature_titles_authors_and_teasers():
    papers = feed("journals/nature_rss_2024-07-18.rdf.xml")
    by_doi = {p.doi: p for p in papers}
    assert sum(1 for p in papers if p.doi.startswith("10.1038/s41586")) == 31
    assert not any("<" in p.title or "&lt;" in p.title for p in papers)
    assert by_doi["10.1038/s41586-024-07553-3"].title == (
        "Superconductivity in pressurized trilayer La4Ni3O10−δ single crystals"
    )
    assert by_doi["10.1038/s41586-024-07706-4"].title == (
        "Symbolic recording of signalling and cis-regulatory element activity to DNA"
    )
    news = by_doi["10.1038/d41586-024-02352-2"]
    assert news.title == "Long COVID lung damage linked to immune system response"
    assert news.abstract == (
        "Inhibiting a protein associated with chronic inflammation improves lung health in mice "
        "with COVID-19."
    )
    assert news.authors == ("Helena Kudiabor",)
    assert not any("Published online" in p.abstract for p in papers)


# ---------------------------------------------------------------------------------------------
# Synthetic feeds


def rss(*items: str, channel_title: str = "Blog") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{channel_title}</title><link>https://example.org/</link>"
        + "".join(f"<item>{item}</item>" for item in items)
        + "</channel></rss>"
    ).encode()


def test_generic_rss_item():
    body = rss(
        "<title>A &lt;script&gt; in a title</title><link>/posts/1</link>"
        "<description>&lt;p&gt;Hello &amp;amp; &lt;b&gt;bold&lt;/b&gt; world&lt;/p&gt;"
        "</description><category>ML</category><category> ML </category>"
        "<pubDate>Tue, 03 Mar 2026 10:00:00 +0100</pubDate>"
        "<dc:creator>Smith, John</dc:creator>"
    )
    (paper,) = parse("feed", body, url="https://example.org/feed.xml")
    # SPEC section 3: markup in titles becomes plain text, an unclosed <script> hides nothing.
    assert paper.title == "A in a title"
    assert paper.url == "https://example.org/posts/1"  # resolved against the source URL
    assert paper.abstract == "Hello & bold world"
    assert paper.categories == ("ML",)
    assert paper.authors == ("Smith, John",)
    assert paper.published == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert (paper.arxiv_id, paper.doi, paper.revision) == (None, None, False)


def test_generic_items_without_title_are_skipped_and_only_http_links_kept():
    body = rss(
        "<description>no title here</description>",
        "<title>   </title><link>https://example.org/a</link>",
        "<title>Script link</title><link>javascript:alert(1)</link>",
        "<title>Arxiv link</title><link>https://arxiv.org/abs/2604.21935v2</link>",
        "<title>Doi link</title><link>https://doi.org/10.1000/ABC.1</link>",
    )
    papers = parse("feed", body)
    assert [(p.title, p.url) for p in papers] == [
        ("Script link", ""),
        ("Arxiv link", "https://arxiv.org/abs/2604.21935v2"),
        ("Doi link", "https://doi.org/10.1000/ABC.1"),
    ]
    assert papers[1].arxiv_id == "2604.21935"
    assert papers[2].doi == "10.1000/abc.1"
    # Left out, but never silently: the listing counts them for the poll log.
    assert papers.skipped == {"feed item without a title, arXiv id or DOI": 2}


def test_generic_atom_with_html_title_and_content():
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Lab</title><id>urn:x</id>
<updated>2026-01-02T03:04:05Z</updated>
<entry><id>urn:1</id><title type="html">Proteins &lt;i&gt;in vivo&lt;/i&gt;</title>
<link rel="alternate" href="https://lab.example/1"/><updated>2026-01-02T03:04:05Z</updated>
<author><name>Ann Lee</name></author><author><name>Bo Chan</name></author>
<content type="html">&lt;p&gt;First.&lt;/p&gt;&lt;p&gt;Second &amp;amp; last.&lt;/p&gt;</content>
</entry></feed>"""
    (paper,) = parse("feed", body)
    assert paper.title == "Proteins in vivo"
    assert paper.abstract == "First. Second & last."
    assert paper.authors == ("Ann Lee", "Bo Chan")
    assert paper.url == "https://lab.example/1"
    assert paper.published == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_arxiv_rss_affiliations_and_cross_listing():
    item = (
        "<title>A Paper</title><link>https://arxiv.org/abs/2604.00001</link>"
        "<description>arXiv:2604.00001v1 Announce Type: cross \nAbstract: We show $a &lt; b$ "
        "and $c&lt;d$ hold.</description><guid>oai:arXiv.org:2604.00001v1</guid>"
        "<category>cs.CL</category><arxiv:announce_type>cross</arxiv:announce_type>"
        "<dc:creator>Ann Lee (MIT, Cambridge, USA), Bo Chan, The ATLAS Collaboration</dc:creator>"
    )
    body = rss(item, channel_title="cs.CL updates on arXiv.org").replace(
        b"<rss ", b'<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
    )
    (paper,) = parse("feed", body)
    assert paper.revision is False  # a cross-list is a first announcement
    assert paper.abstract == "We show $a < b$ and $c<d$ hold."
    assert paper.authors == ("Ann Lee (MIT, Cambridge, USA)", "Bo Chan", "The ATLAS Collaboration")


def test_arxiv_announce_type_read_from_the_description_when_the_element_is_missing():
    item = (
        "<title>Old Paper</title><link>https://arxiv.org/abs/2101.00001</link>"
        "<description>arXiv:2101.00001v3 Announce Type: replace \nAbstract: Text.</description>"
    )
    (paper,) = parse("feed", rss(item))
    assert (paper.arxiv_id, paper.revision, paper.abstract) == ("2101.00001", True, "Text.")


def test_truncated_feed_drops_the_cut_off_last_entry():
    body = fixture("arxiv/rss_cs.AI_2026-04-27_first3.xml")
    # Cut inside the third item: feedparser still yields it, without abstract or announce type.
    papers = parse("feed", body[: len(body) - 1500])
    assert [p.arxiv_id for p in papers] == ["2604.21935", "2604.21936"]
    assert papers.describe_skipped() == (
        "1 entry skipped: 1 feed item cut off by a truncated document "
        "(read again when it comes whole)"
    )
    # Cut inside the second item of three: one whole paper left.
    assert [p.arxiv_id for p in parse("feed", body[:3000])] == ["2604.21935"]


def test_charset_mismatch_alone_keeps_every_entry():
    body = fixture("arxiv/rss_cs.AI_2026-04-27_first3.xml")
    papers = parse("feed", body, content_type="text/plain; charset=iso-8859-1")
    assert len(papers) == 3


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", None, "not a feed: the body is empty"),
        (b"  \r\n", "application/rss+xml", "not a feed: the body is empty"),
        (
            b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body>",
            "text/html; charset=UTF-8",
            "not a feed: an HTML page was served (title 'Just a moment...')",
        ),
        (
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            None,
            "not a feed: an HTML page was served",
        ),
        (
            b'{"items": []}',
            "application/json",
            "not a feed: no RSS or Atom element found (not well-formed (invalid token))",
        ),
        (
            b'<?xml version="1.0" encoding="\xcc\xdd"?><rss version="2.0"/>',
            None,
            "not a readable feed: feedparser failed (UnicodeDecodeError: 'utf-8' codec can't "
            "decode byte 0xcc in position 0: invalid continuation byte)",
        ),
        (
            b'<?xml version="1.0" encoding="u\x00tf-8"?><rss version="2.0"/>',
            None,
            "not a readable feed: feedparser failed (ValueError: embedded null character)",
        ),
        (
            b'<?xml version="1.0"?><rss version="2.0"><channel>'
            b"<title>Feed error for query: https://rss.arxiv.org/rss/cs.XX</title>"
            b"<description>Bad category: cs.XX</description></channel></rss>",
            None,
            "arXiv feed error: Bad category: cs.XX",
        ),
        (
            b'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            b"<title>arXiv Query: id_list=1234</title><id>https://arxiv.org/api/x</id>"
            b"<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234</id>"
            b"<title>Error</title><summary>incorrect id format for 1234</summary>"
            b"<updated>2026-01-01T00:00:00Z</updated></entry></feed>",
            None,
            "arXiv API error: incorrect id format for 1234",
        ),
    ],
    ids=[
        "empty",
        "blank",
        "challenge-page",
        "502-page",
        "json",
        "bad-encoding-name",
        "nul-in-encoding",
        "arxiv-feed-error",
        "arxiv-api-error",
    ],
)
def test_bodies_that_are_not_feeds_are_parse_errors(body, content_type, message):
    with pytest.raises(ParseError) as caught:
        parse("feed", body, content_type=content_type)
    assert str(caught.value) == message


def entity_feed(declaration: bytes, references: int) -> bytes:
    return (
        b'<?xml version="1.0"?><!DOCTYPE rss [' + declaration + b']><rss version="2.0">'
        b"<channel><title>t</title><item><title>" + b"&a;" * references + b"</title></item>"
        b"</channel></rss>"
    )


def test_entity_amplification_is_refused_before_feedparser_expands_it():
    # RELIABILITY.md finding 3: a 100 KB feed once expanded to a 400 MB title.
    body = entity_feed(b'<!ENTITY a "' + b"A" * 20_000 + b'">', 25_000)
    started = time.monotonic()
    with pytest.raises(ParseError) as caught:
        parse("feed", body)
    assert time.monotonic() - started < 1.0
    assert str(caught.value) == (
        "refusing a feed whose DOCTYPE declares the XML entity 'a' (20000 characters): "
        "entity expansion can exhaust memory"
    )


@pytest.mark.parametrize(
    "declaration",
    [
        b'<!ENTITY a SYSTEM "file:///etc/passwd">',
        b'<!ENTITY % p "x">',
        b'<!ENTITY b "bb"><!ENTITY a "&b;&b;">',
    ],
    ids=["external", "parameter", "nested"],
)
def test_external_parameter_and_nested_entities_are_refused(declaration):
    with pytest.raises(ParseError, match="^refusing a feed whose DOCTYPE declares the XML entity"):
        parse("feed", entity_feed(declaration, 3))


def test_short_character_entities_are_allowed():
    body = entity_feed(b'<!ENTITY a "&#160;">', 1).replace(b"&a;", b"A&a;B")
    assert [p.title for p in parse("feed", body)] == ["A B"]


def test_utf16_entity_bomb_is_refused_too():
    body = (
        entity_feed(b'<!ENTITY a "' + b"A" * 100 + b'">', 10)
        .decode()
        .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>')
    )
    with pytest.raises(ParseError, match="'a' \\(100 characters\\)"):
        parse("feed", body.encode("utf-16"))


# ---------------------------------------------------------------------------------------------
# Hostile input: only ParseError ever escapes, and every Paper holds clean strings

SEEDS = [
    fixture("arxiv/rss_cs.AI_2026-04-27_first3.xml")[:2500],
    fixture("arxiv/DERIVED_atom_math.OC_spec_replace-cross.xml"),
    fixture("journals/biorxiv_bioengineering_2019-11-29_1item.rdf.xml"),
]


@st.composite
def mutated(draw):
    body = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(body)))
        action = draw(st.sampled_from(["insert", "delete", "cut"]))
        if action == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del body[at : at + draw(st.integers(1, 16))]
        else:
            del body[at:]
    return bytes(body)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mutated(), content_type=st.sampled_from([None, "text/xml", "text/html"]))
def test_mutated_feeds_raise_nothing_but_parse_error(body, content_type):
    try:
        papers = parse("feed", body, content_type=content_type)
    except ParseError as error:
        assert "\n" not in str(error)
        return
    for paper in papers:
        assert isinstance(paper.title, str) and paper.title.strip()
        assert "\n" not in paper.title and "\r" not in paper.title
        assert paper.url == "" or paper.url.startswith(("http://", "https://"))
        assert all(isinstance(name, str) and name for name in paper.authors)


def test_hostile_author_and_markup_strings_parse_in_linear_time():
    # A long run of capitals once made the initials pattern backtrack exponentially (28 letters:
    # 6 s); unclosed <script> and "Published online" paragraphs once made lazy patterns quadratic.
    creator = "Kukla, D., " + "A" * 5000 + "!, Li, X."
    description = "&lt;script&gt;x" * 20000 + "&lt;p&gt;Nature, Published online: x" * 5000
    body = rss(
        f"<title>T</title><dc:creator>{creator}</dc:creator>"
        f"<description>{description}</description>"
    )
    started = time.monotonic()
    (paper,) = parse("feed", body)
    assert time.monotonic() - started < 2.0
    # A name is capped at 1,000 characters with an ellipsis (untrusted.MAX_NAME).
    assert paper.authors == ("Kukla, D.", "A" * 999 + "\u2026", "Li, X.")
    # An unclosed <script> loses its tag only; the abstract is then capped at 20,000 characters.
    assert paper.abstract.startswith("x x x") and paper.abstract.endswith(" x\u2026")
    assert 19_990 < len(paper.abstract) <= 20_000  # cut at a word


def test_a_feed_cut_inside_its_only_entry_yields_nothing():
    # Cut after the link, before dc:identifier: the paper would be known by its title alone, and
    # by its DOI once the whole feed comes back (RELIABILITY.md H9).
    body = fixture("journals/biorxiv_bioengineering_2019-11-29_1item.rdf.xml")
    cut = body.index(b"<dc:identifier>")
    assert parse("feed", body[:cut]) == []
    assert [p.doi for p in parse("feed", body)] == ["10.1101/857789"]


# ---------------------------------------------------------------------------------------------
# Items without a title: kept when they have an identity apart from the title, else counted


def test_untitled_items_with_an_arxiv_id_or_doi_are_titled_by_their_first_sentence():
    body = rss(
        "<link>https://arxiv.org/abs/2604.00007v1</link><description>We prove the bound is "
        "tight. It holds for all n.</description>",
        "<guid>doi:10.1000/XYZ.9</guid><description>&lt;p&gt;Is attention enough? We argue it "
        "is not.&lt;/p&gt;</description>",
        "<link>https://doi.org/10.1000/empty</link>",
        "<link>https://example.org/post</link><description>A post. With text.</description>",
    )
    papers = parse("feed", body)
    assert [(p.title, p.abstract, p.arxiv_id, p.doi) for p in papers] == [
        ("We prove the bound is tight", "We prove the bound is tight. It holds for all n.",
         "2604.00007", None),
        ("Is attention enough?", "Is attention enough? We argue it is not.", None, "10.1000/xyz.9"),
    ]  # fmt: skip
    assert papers.skipped == {
        "feed item with an arXiv id or DOI but no title or abstract": 1,
        "feed item without a title, arXiv id or DOI": 1,
    }


def test_untitled_arxiv_announcement_is_kept():
    item = (
        "<link>https://arxiv.org/abs/2604.00002</link><description>arXiv:2604.00002v1 Announce "
        "Type: new \nAbstract: Sparse probes find syntax. They are cheap.</description>"
    )
    (paper,) = parse("feed", rss(item, channel_title="cs.CL updates on arXiv.org"))
    assert (paper.title, paper.arxiv_id, paper.revision) == (
        "Sparse probes find syntax",
        "2604.00002",
        False,
    )


def test_derived_title_is_cut_at_a_word():
    words = " ".join(["token"] * 60)  # 359 characters, no sentence end before the last
    item = f"<guid>doi:10.1000/long</guid><description>{words}.</description>"
    (paper,) = parse("feed", rss(item))
    assert paper.title == " ".join(["token"] * 33) + "..."
    assert len(paper.title) <= 200


def test_announcement_feed_item_without_announce_type_is_counted():
    items = ["<title>No Type</title><link>https://arxiv.org/abs/2604.00003</link>"]
    papers = parse("feed", rss(*items, channel_title="cs.CL updates on arXiv.org"))
    assert papers == []
    assert papers.skipped == {
        "arXiv announcement item without an announce type (new or revision?)": 1
    }


@pytest.mark.parametrize("name", ["tis620.xml", "windows1255.xml"])
def test_description_only_legacy_items_are_counted_not_silently_dropped(name):
    # feedparser's chardet tests: one <item> holding only a <description> (Thai, Hebrew news),
    # no title, link, guid, arXiv id or DOI: nothing to know the item by, so no paper.
    papers = feed(f"odd/feedparser/illformed/chardet/{name}")
    assert papers == []
    assert papers.describe_skipped() == (
        "1 entry skipped: 1 feed item without a title, arXiv id or DOI"
    )
