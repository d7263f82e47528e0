"""`page` sources: plain-text listing pages (shape rule) and Hugging Face papers HTML."""

from __future__ import annotations

import asyncio
import html
import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import http_site

from bot.errors import ParseError
from bot.ledger import Ledger
from bot.models import Settings, Source, Subscriber
from bot.poll import poll
from bot.sources import parse
from bot.sources.site_message import is_site_message

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"

ABSTRACT_1 = (
    "Large models are expensive to run at scale. We propose a cascade that defers hard inputs "
    "to a bigger model. It saves half of the compute on three benchmarks without any loss."
)
ABSTRACT_2 = (
    "Retrieval helps small models answer questions about recent events. We study when it fails "
    "and why. A simple reranker fixes most of the failures we found in the wild."
)


def titles(papers):
    return [paper.title for paper in papers]


def pairs(papers):
    return [(paper.title, paper.abstract) for paper in papers]


# ---------------------------------------------------------------------------------------------
# The three real pages


@pytest.mark.parametrize(
    ("name", "count", "first", "last"),
    [
        (
            "000_14d685580f9831a7.txt",
            80,
            "Language Model Cascades: Token-level uncertainty and beyond",
            "Increasing Diversity While Maintaining Accuracy: Text Data Generation with Large "
            "Language Models and Human Interventions",
        ),
        (
            "001_895ba66bf99779a7.txt",
            75,
            "Unleashing the Power of Pre-trained Language Models for Offline Reinforcement "
            "Learning",
            "RetroMAE v2: Duplex Masked Auto-Encoder For Pre-Training Retrieval-Oriented Language "
            "Models",
        ),
        (
            "003_0b21518f7ee75860.txt",
            78,
            "Sparse Finetuning for Inference Acceleration of Large Language Models",
            "Flacuna: Unleashing the Problem Solving Power of Vicuna using FLAN Fine-Tuning",
        ),
    ],
)
def test_real_pages_parse_to_every_title_and_abstract(name, count, first, last):
    body = (PAGES / name).read_bytes()
    papers = parse("page", body, content_type="text/plain; charset=utf-8")
    assert len(papers) == count
    assert papers[0].title == first
    assert papers[-1].title == last
    # Every block after the 5-line header is a title, then its abstract, exactly as written.
    blocks = body.decode("utf-8").strip().split("\n\n")
    assert blocks[:5] == [
        "new",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "byAK and the research community",
        blocks[4],
    ]
    assert pairs(papers) == list(zip(blocks[5::2], blocks[6::2], strict=True))
    assert all(paper.url == "" and paper.arxiv_id is None for paper in papers)


def test_first_real_page_first_abstract_word_for_word():
    papers = parse("page", (PAGES / "000_14d685580f9831a7.txt").read_bytes())
    assert papers[0].abstract.startswith(
        "Recent advances in language models (LMs) have led to significant improvements"
    )
    assert papers[0].abstract.endswith(
        "intermediate layers of the larger model can give an additional boost in the overall "
        "cost-quality tradeoff."
    )


# ---------------------------------------------------------------------------------------------
# The shape rule on synthetic pages


def page(*blocks: str, newline: str = "\n") -> bytes:
    return (newline * 2).join(blocks).replace("\n", newline).encode("utf-8")


EXPECTED = [("First Title", ABSTRACT_1), ("Second Title: A Study", ABSTRACT_2)]
BODY = ["First Title", ABSTRACT_1, "Second Title: A Study", ABSTRACT_2]


@pytest.mark.parametrize(
    "header",
    [
        [],
        ["Mar 12"],
        ["new", "Get trending papers in your email inbox!", "Subscribe", "Mar 12"],
        [
            "Paper Digest",
            "Home",
            "Trending",
            "Collections",
            "Get trending papers in your email inbox!",
            "Subscribe",
            "byAK and the research community",
            "Sort by upvotes",
            "Thursday, March 12, 2026",
        ],
    ],
    ids=["absent", "one-line", "four-lines", "nine-lines"],
)
@pytest.mark.parametrize(
    "footer",
    [[], ["Load more"], ["Load more", "© 2026 Hugging Face. All rights reserved."]],
    ids=["no-footer", "load-more", "copyright"],
)
def test_header_and_footer_of_any_length_are_skipped(header, footer):
    assert pairs(parse("page", page(*header, *BODY, *footer))) == EXPECTED


def test_header_without_blank_lines_between_its_lines():
    body = page("new\nSubscribe\nbyAK and the research community\nMar 12", *BODY)
    assert pairs(parse("page", body)) == EXPECTED


def test_crlf_and_lone_cr_line_ends():
    assert pairs(parse("page", page(*BODY, newline="\r\n"))) == EXPECTED
    assert pairs(parse("page", page(*BODY, newline="\r"))) == EXPECTED


def test_wrapped_abstract_is_one_paragraph():
    wrapped = [textwrap.fill(ABSTRACT_1, 60), textwrap.fill(ABSTRACT_2, 79)]
    body = page("Mar 12", "First Title", wrapped[0], "Second Title: A Study", wrapped[1])
    assert pairs(parse("page", body)) == EXPECTED


def test_abstract_in_two_paragraphs_is_joined():
    second = "We also release the code and the data. Both are under an open licence today."
    body = page("First Title", ABSTRACT_1, second, "Second Title: A Study", ABSTRACT_2)
    assert pairs(parse("page", body)) == [
        ("First Title", f"{ABSTRACT_1} {second}"),
        ("Second Title: A Study", ABSTRACT_2),
    ]


def test_short_abstract_still_counts():
    short = "We show that a tiny probe recovers the syntax tree of every sentence."
    body = page("Subscribe", "Probing Syntax", short, "Second Title: A Study", ABSTRACT_2)
    assert pairs(parse("page", body)) == [
        ("Probing Syntax", short),
        ("Second Title: A Study", ABSTRACT_2),
    ]


def test_abstract_about_copyright_is_not_taken_for_a_footer():
    law = "Copyright law shapes what models may learn from. We survey the cases of ten countries."
    body = page("Copyright and Training Data", law, "Load more", "Copyright 2026 Example Inc.")
    assert pairs(parse("page", body)) == [("Copyright and Training Data", law)]


def test_title_followed_by_title_drops_the_first_as_noise():
    body = page("Trending", "Load more", "First Title", ABSTRACT_1, "Sponsored", *BODY[2:])
    assert pairs(parse("page", body)) == EXPECTED


def test_titles_that_look_like_sentences_stay_titles():
    question = "Are Emergent Abilities of Large Language Models a Mirage?"
    stopped = "We Need to Talk About Random Seeds, and Why They Really Matter to Everyone."
    versus = "Humans vs. Machines: Who Labels Data Better for Low Resource Machine Translation"
    body = page(question, ABSTRACT_1, stopped, ABSTRACT_2, versus, ABSTRACT_1)
    assert titles(parse("page", body)) == [question, stopped, versus]


def test_title_directly_above_a_long_abstract_line_without_blank_line():
    long_1, long_2 = ABSTRACT_1 * 2, ABSTRACT_2 * 2  # realistic abstracts are > 200 characters
    body = f"Mar 12\nFirst Title\n{long_1}\nSecond Title\n{long_2}\n".encode()
    assert pairs(parse("page", body)) == [("First Title", long_1), ("Second Title", long_2)]


def test_title_directly_above_a_wrapped_abstract():
    body = f"First Title\n{textwrap.fill(ABSTRACT_1, 72)}\n".encode()
    assert pairs(parse("page", body)) == [("First Title", ABSTRACT_1)]


def test_whitespace_bom_and_undecodable_bytes():
    body = b"\xef\xbb\xbf  Subscribe \n\n\tFirst \xff Title  \n\n  " + ABSTRACT_1.encode() + b"  \n"
    assert pairs(parse("page", body)) == [("First \ufffd Title", ABSTRACT_1)]


@pytest.mark.parametrize("body", [b"", b"\n\n  \n", b"Subscribe\n\nMar 12\n", ABSTRACT_1.encode()])
def test_pages_without_papers_are_empty_listings(body):
    assert parse("page", body) == []


def test_plain_text_served_as_text_html_is_still_read_as_text():
    body = page(*BODY)
    assert pairs(parse("page", body, content_type="text/html; charset=utf-8")) == EXPECTED


# ---------------------------------------------------------------------------------------------
# Property: any realistic list of papers, rendered the way the real pages are, parses back

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10)
HEADER_LINES = [
    "new",
    "Get trending papers in your email inbox!",
    "Subscribe",
    "byAK and the research community",
    "Mar 12",
    "Daily Papers",
    "Jul 1",
]
FOOTER_LINES = ["Load more", "© 2026 Hugging Face", "Previous page", "Next page"]


@st.composite
def title_text(draw):
    words = draw(st.lists(WORD, min_size=2, max_size=18))
    style = draw(st.sampled_from(["title", "sentence", "lower"]))
    if style == "title":
        words = [word.capitalize() for word in words]
    elif style == "sentence":
        words = [words[0].capitalize(), *words[1:]]
    extra = draw(st.sampled_from(["", "colon", "acronym", "question", "hyphen"]))
    if extra == "colon":
        words[0] = words[0].capitalize() + ":"
    elif extra == "acronym":
        words.insert(0, draw(st.sampled_from(["LLM", "GPT-4", "3D", "RetroMAE v2:"])))
    elif extra == "hyphen":
        words[-1] = words[-1] + "-based"
    text = " ".join(words)
    return text + "?" if extra == "question" else text


@st.composite
def sentence(draw):
    words = draw(st.lists(WORD, min_size=5, max_size=25))
    words[0] = words[0].capitalize()
    if draw(st.booleans()):
        words.insert(draw(st.integers(1, len(words) - 1)), "(LLMs),")
    return " ".join(words) + "."


abstract_text = st.lists(sentence(), min_size=2, max_size=8).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    papers=st.lists(st.tuples(title_text(), abstract_text), min_size=0, max_size=12),
    header=st.lists(st.sampled_from(HEADER_LINES), max_size=6),
    footer=st.lists(st.sampled_from(FOOTER_LINES), max_size=2),
    newline=st.sampled_from(["\n", "\r\n"]),
    wrap=st.one_of(st.none(), st.integers(min_value=50, max_value=120)),
)
def test_rendered_papers_parse_back_exactly(papers, header, footer, newline, wrap):
    blocks = list(header)
    for title, abstract in papers:
        blocks.append(title)
        blocks.append(textwrap.fill(abstract, wrap, break_on_hyphens=False) if wrap else abstract)
    blocks.extend(footer)
    assert pairs(parse("page", page(*blocks, newline=newline))) == papers


# ---------------------------------------------------------------------------------------------
# Hugging Face papers HTML


def test_hf_html_page_reads_the_embedded_daily_papers():
    body = (FIXTURES / "hf" / "DERIVED_papers_date_2024-10-25.html").read_bytes()
    api = (FIXTURES / "hf" / "daily_papers_2024-10-25_first4.json").read_bytes()
    papers = parse("page", body, content_type="text/html; charset=utf-8")
    assert [paper.arxiv_id for paper in papers] == [
        "2410.17243",
        "2410.16251",
        "2410.18533",
        "2410.18693",
    ]
    assert papers[0].title == (
        "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for Contrastive Loss"
    )
    # The HTML-escaped props decode to exactly what the API serves.
    assert papers == parse("hf-daily", api)


def test_hf_html_detected_without_content_type():
    body = (FIXTURES / "hf" / "DERIVED_papers_date_2024-10-25.html").read_bytes()
    assert len(parse("page", b"\n  " + body)) == 4


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>",
            "an HTML page without Hugging Face DailyPapers data was served "
            "(title 'Just a moment...'); a page source needs a Hugging Face papers page "
            "or a plain-text listing",
        ),
        (
            b"<html><body>502 Bad Gateway</body></html>",
            "an HTML page without Hugging Face DailyPapers data was served; a page source "
            "needs a Hugging Face papers page or a plain-text listing",
        ),
        (
            b'<html><div data-target="DailyPapers" data-props="{&quot;dailyPapers&quot;:[">',
            "the DailyPapers data is not JSON: Expecting value at line 1 column 17",
        ),
        (
            b'<html><div data-target="DailyPapers" data-props="{&quot;other&quot;:1}">',
            "the DailyPapers data has no dailyPapers list",
        ),
    ],
)
def test_html_pages_without_usable_data_are_parse_errors(body, message):
    with pytest.raises(ParseError) as caught:
        parse("page", body)
    assert str(caught.value) == message


def test_unknown_source_type_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown source type 'rss'"):
        parse("rss", b"")


# ---------------------------------------------------------------------------------------------
# A paper is never lost because its abstract is short (a reviewer's page: 80 listed, not 81)

SHORT = "We show that short abstracts exist."


def real_blocks(name: str = "000_14d685580f9831a7.txt") -> list[str]:
    return (PAGES / name).read_text(encoding="utf-8").strip().split("\n\n")


@pytest.mark.parametrize("at", [5, 7, 85, 165], ids=["first", "second", "middle", "last"])
def test_real_page_with_a_paper_with_a_one_sentence_abstract_lists_it(at):
    blocks = real_blocks()
    blocks[at:at] = ["Short Abstracts Exist", SHORT]
    papers = parse("page", "\n\n".join(blocks).encode())
    assert len(papers) == 81
    assert pairs(papers)[(at - 5) // 2] == ("Short Abstracts Exist", SHORT)
    assert papers.skipped == {}
    # Every other paper is still there, title and abstract exactly as written.
    assert pairs(papers) == list(zip(blocks[5::2], blocks[6::2], strict=True))


@pytest.mark.parametrize("name", ["000_14d685580f9831a7.txt", "003_0b21518f7ee75860.txt"])
def test_real_page_with_one_abstract_shortened_keeps_every_paper(name):
    blocks = real_blocks(name)
    blocks[6] = SHORT  # the first paper's abstract
    blocks[-1] = "Models trained this way are smaller."  # the last paper's abstract
    papers = parse("page", "\n\n".join(blocks).encode())
    assert [len(papers), papers[0].title, papers[0].abstract] == [
        (len(blocks) - 5) // 2,
        blocks[5],
        SHORT,
    ]
    assert (papers[-1].title, papers[-1].abstract) == (
        blocks[-2],
        "Models trained this way are smaller.",
    )


def test_short_abstract_paper_served_over_http_is_recorded_with_its_title_not_the_page_link(
    tmp_path,
):
    blocks = real_blocks()
    blocks[85:85] = ["Short Abstracts Exist", SHORT]
    with http_site() as site, Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as store:
        url = site.put("/papers.txt", "\n\n".join(blocks))
        settings = Settings(
            path=tmp_path / "settings.toml",
            sources=(Source(name="hf-text", type="page", url=url),),
            subscribers=(Subscriber(email="alice@example.org", keywords=("short",)),),
        )
        report = asyncio.run(poll(settings, store.papers, datetime(2026, 3, 12, 9, tzinfo=UTC)))
    assert [(o.name, o.listed, o.error) for o in report.sources] == [("hf-text", 81, None)]
    (paper,) = [p for p in report.new if p.abstract == SHORT]
    # The text format has no per-paper link, and the listing page is not one (SPEC section 3): the
    # email links a title search instead.
    assert (paper.title, paper.url, paper.sources) == ("Short Abstracts Exist", "", ("hf-text",))


def test_title_ending_in_a_full_stop_above_its_abstract_stays_a_title():
    stopped = "Scaling laws are not universal."
    body = page("First Title", ABSTRACT_1, stopped, ABSTRACT_2)
    assert pairs(parse("page", body)) == [("First Title", ABSTRACT_1), (stopped, ABSTRACT_2)]


def test_short_sentence_then_longer_paragraph_is_one_abstract():
    body = page("First Title", SHORT, ABSTRACT_1, "Second Title: A Study", ABSTRACT_2)
    assert pairs(parse("page", body)) == [
        ("First Title", f"{SHORT} {ABSTRACT_1}"),
        ("Second Title: A Study", ABSTRACT_2),
    ]


@pytest.mark.parametrize(
    "blocks",
    [
        ["Load more", "All rights reserved."],
        ["Load more", "Example Papers Ltd. All rights reserved."],
        ["Mar 12", "No papers found."],
        ["Thursday, March 12, 2026", "Nothing was listed on this day."],
        ["Daily Papers", "Get trending papers in your email inbox!", "Subscribe"],
        ["Papers of the Day", "Humans vs. Machines et al."],
    ],
    ids=["reserved", "company-reserved", "no-papers", "date", "labels", "abbreviation"],
)
def test_header_and_footer_lines_with_full_stops_are_not_papers(blocks):
    assert pairs(parse("page", page(*blocks, *BODY, *blocks))) == EXPECTED
    assert parse("page", page(*blocks)) == []


def test_prose_without_a_title_is_counted_as_skipped():
    papers = parse("page", page("Mar 12", ABSTRACT_1, ABSTRACT_2, "Load more", *BODY))
    assert pairs(papers) == EXPECTED
    assert papers.skipped == {"paragraph of prose without a title line before it": 1}
    assert papers.describe_skipped() == (
        "1 entry skipped: 1 paragraph of prose without a title line before it"
    )


# ---------------------------------------------------------------------------------------------
# Error, maintenance, sign-in and robot-check pages are not listings

NOT_A_LISTING = (
    "the plain-text page does not look like a listing of papers: it is a site message headed "
    "{!r} (an error, maintenance or sign-in page), not titles with abstracts; if this lasts, "
    "check the source url"
)


@pytest.mark.parametrize(
    ("text", "heading"),
    [
        (
            "Service Unavailable\n\nThe server is temporarily unable to service your request due "
            "to maintenance downtime or capacity problems. Please try again later.\n",
            "Service Unavailable",
        ),
        (
            "Example Papers\n\nDown for maintenance\n\nWe are upgrading the database and will be "
            "back within the hour. Thank you for your patience.\n",
            "Down for maintenance",
        ),
        (
            "503 Service Temporarily Unavailable\n\nnginx/1.24.0\n",
            "503 Service Temporarily Unavailable",
        ),
        (
            "Just a moment...\n\nChecking if the site connection is secure\n\nexample.org needs to "
            "review the security of your connection before proceeding.\n\nEnable JavaScript and "
            "cookies to continue\n",
            "Just a moment...",
        ),
        (
            "Sign in to Example Papers\n\nYou must be signed in to read the daily listing. Sign in "
            "with your email address and password.\n",
            "Sign in to Example Papers",
        ),
        (
            "Example Papers\n\nSign in\n\nEmail\n\nPassword\n\nForgot your password?\n\nNew here? "
            "You need an account to read the daily listing; it takes a minute.\n",
            "Forgot your password?",
        ),
    ],
    ids=["maintenance-503", "maintenance", "nginx-503", "challenge", "login", "login-form"],
)
def test_site_message_pages_are_parse_errors(text, heading):
    with pytest.raises(ParseError) as caught:
        parse("page", text.encode(), content_type="text/plain")
    assert str(caught.value) == NOT_A_LISTING.format(heading)


def test_a_real_listing_is_never_taken_for_a_site_message():
    # No title or abstract of the 233 real papers reads as a site message...
    for name in (
        "000_14d685580f9831a7.txt",
        "001_895ba66bf99779a7.txt",
        "003_0b21518f7ee75860.txt",
    ):
        for paper in parse("page", (PAGES / name).read_bytes()):
            assert not is_site_message(paper.title, paper.abstract), paper.title
    # ...and one real paper among site-message-looking blocks keeps the page a listing.
    body = page("Sign in", "Forbidden", SHORT, "First Title", ABSTRACT_1)
    assert pairs(parse("page", body)) == [("Forbidden", SHORT), ("First Title", ABSTRACT_1)]
    assert pairs(parse("page", page("Mar 12", "Probing Syntax", SHORT))) == [
        ("Probing Syntax", SHORT)
    ]


def test_hf_html_items_without_id_or_title_are_counted_as_skipped():
    good = {"paper": {"id": "2410.17243", "title": "A Title", "summary": "S."}, "title": "A Title"}
    items = [good, {"paper": {"title": "No id"}}, {"paper": {"id": "2410.00001"}}, "junk"]
    props = html.escape(json.dumps({"dailyPapers": items}), quote=True)
    body = f'<html><div data-target="DailyPapers" data-props="{props}"></div></html>'.encode()
    papers = parse("page", body)
    assert titles(papers) == ["A Title"]
    assert papers.skipped == {
        "daily-papers item without paper.id": 1,
        "daily-papers item without a title": 1,
        "daily-papers item without a paper object": 1,
    }


@pytest.mark.parametrize(
    "title",
    [
        "CAPTCHA Solving with Vision-Language Models",
        "Are You a Robot? Detecting Bots in Online Surveys",
        "Just a Moment: Latency in Interactive Agents",
        "Under Maintenance: Software Aging in ML Systems",
        "512 Experts Are Better Than One",
        "Sign In with Passkeys: A Usability Study",
        "Too Many Requests - Rate Limiting LLM Agents",
    ],
)
def test_a_one_paper_listing_whose_title_sounds_like_a_site_message_is_a_listing(title):
    assert pairs(parse("page", page("Mar 12", title, ABSTRACT_1))) == [(title, ABSTRACT_1)]


def test_a_short_abstract_the_parser_cannot_tell_from_a_title_is_counted_not_dropped():
    body = page("First Title", ABSTRACT_1, "Counting Tokens", "Can transformers count?", *BODY[2:])
    listing = parse("page", body)
    assert pairs(listing) == EXPECTED
    assert listing.skipped == {"title line without an abstract after it": 2}
