"""`hf-daily` sources: the Hugging Face daily papers JSON array."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.sources import parse

HF = Path(__file__).parent / "fixtures" / "hf"


def item(paper_id="2410.17243", **paper_fields):
    paper = {
        "id": paper_id,
        "title": "A Title",
        "summary": "An abstract.",
        "authors": [{"name": "Ann Lee", "hidden": False}],
        "publishedAt": "2024-10-22T17:59:30.000Z",
    }
    paper.update(paper_fields)
    return {"paper": paper, "title": paper["title"], "publishedAt": "2024-10-25T00:57:09.392Z"}


def body(*items) -> bytes:
    return json.dumps(list(items)).encode()


def test_2024_sample_four_items_in_order():
    papers = parse("hf-daily", (HF / "daily_papers_2024-10-25_first4.json").read_bytes())
    assert [p.arxiv_id for p in papers] == ["2410.17243", "2410.16251", "2410.18533", "2410.18693"]
    first = papers[0]
    # The outer, normalised title; paper.title has a hard wrap "...Scaling for\n  Contrastive Loss".
    assert first.title == (
        "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for Contrastive Loss"
    )
    assert first.url == "https://arxiv.org/abs/2410.17243"
    assert first.authors == (
        "Zesen Cheng",
        "Hang Zhang",
        "Kehan Li",
        "Sicong Leng",
        "Zhiqiang Hu",
        "Fei Wu",
        "Deli Zhao",
        "Xin Li",
        "Lidong Bing",
    )
    # The listing's date is paper.submittedOnDailyAt, absent in 2024: neither paper.publishedAt
    # (arXiv v1) nor the outer time, whose meaning drifted (FORMATS.md section 1).
    assert first.published is None
    assert first.abstract.startswith(
        "Contrastive loss is a powerful approach for representation learning, where larger batch "
        "sizes enhance performance"
    )
    assert "\n" not in first.abstract and "  " not in first.abstract
    assert first.abstract.endswith("The code will be made publicly available.")
    assert papers[2].title == "LOGO -- Long cOntext aliGnment via efficient preference Optimization"
    assert all(p.id == "" and p.sources == () and p.categories == () for p in papers)
    assert not any(p.revision or p.doi for p in papers)


def test_2026_item_with_new_fields():
    (paper,) = parse("hf-daily", (HF / "daily_papers_item_2026-03_newfields.json").read_bytes())
    assert paper.arxiv_id == "2602.23229"
    assert paper.title == "Large Multimodal Models as General In-Context Classifiers"
    assert paper.authors == (
        "Marco Garosi",
        "Matteo Farina",
        "Alessandro Conti",
        "Massimiliano Mancini",
        "Elisa Ricci",
    )
    assert paper.published == datetime(2026, 3, 6, 3, 55, 12, 777000, tzinfo=UTC)
    assert paper.abstract.startswith("Which multimodal model should we use for classification?")


def test_empty_day_is_an_empty_listing():
    assert parse("hf-daily", b"[]") == []
    assert parse("hf-daily", b" [ ]\n") == []


def test_paper_title_used_and_collapsed_when_the_outer_title_is_missing():
    entry = item(title="Scaling for\n  Contrastive   Loss", summary="Line one\n  line two.")
    del entry["title"]
    (paper,) = parse("hf-daily", body(entry))
    assert (paper.title, paper.abstract) == ("Scaling for Contrastive Loss", "Line one line two.")


def test_id_that_is_not_an_arxiv_id_links_to_hugging_face():
    (paper,) = parse("hf-daily", body(item("my paper/1")))
    assert paper.arxiv_id is None
    assert paper.url == "https://huggingface.co/papers/my%20paper%2F1"


def test_versioned_and_old_style_ids():
    papers = parse("hf-daily", body(item("2410.17243v2"), item("hep-th/9901001")))
    assert [p.arxiv_id for p in papers] == ["2410.17243", "hep-th/9901001"]
    assert papers[1].url == "https://arxiv.org/abs/hep-th/9901001"


def test_hidden_authors_are_kept_and_nameless_ones_skipped():
    authors = [
        {"name": "Ann Lee", "hidden": True},
        {"hidden": False},
        {"name": "  "},
        {"name": "Bo\n Chan"},
        "not an object",
    ]
    (paper,) = parse("hf-daily", body(item(authors=authors)))
    assert paper.authors == ("Ann Lee", "Bo Chan")


def test_unusable_and_withdrawn_items_are_skipped():
    papers = parse(
        "hf-daily",
        body(
            item("2410.00001"),
            {"paper": {"title": "no id"}},
            "junk",
            item("2410.00002", withdrawnAt="2024-11-01T00:00:00.000Z"),
            item("2410.00003"),
        ),
    )
    assert [p.arxiv_id for p in papers] == ["2410.00001", "2410.00003"]
    assert parse("hf-daily", body(item(withdrawnAt="2024-11-01T00:00:00.000Z"))) == []


def test_bad_or_missing_time_is_none():
    papers = parse(
        "hf-daily", body(item(submittedOnDailyAt="yesterday"), item(submittedOnDailyAt=None))
    )
    assert [p.published for p in papers] == [None, None]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not JSON: Expecting value at line 1 column 1"),
        (b"<!DOCTYPE html><html>", "not JSON: Expecting value at line 1 column 1"),
        (b'[{"paper": ', "not JSON: Expecting value at line 1 column 12"),
        (
            b'{"error": "Invalid date: must be YYYY-MM-DD"}',
            "Hugging Face API error: Invalid date: must be YYYY-MM-DD",
        ),
        (
            b'{"papers": []}',
            "not a daily-papers list: the JSON is an object, expected an array of items",
        ),
        (b"null", "not a daily-papers list: the JSON is null, expected an array of items"),
        (b"[" * 200_000 + b"]" * 200_000, "not JSON: the document is nested too deeply"),
        (
            b'[{"paper": {"title": "x"}}, 1]',
            "no usable daily-paper items among 2: each item needs paper.id and a title "
            "(has the Hugging Face format changed?)",
        ),
    ],
)
def test_bodies_that_are_not_daily_papers_are_parse_errors(raw, message):
    with pytest.raises(ParseError) as caught:
        parse("hf-daily", raw)
    assert str(caught.value) == message
