"""`page` sources: plain-text listing pages (shape rule) and Hugging Face papers HTML."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import ParseError
from bot.sources import parse

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
