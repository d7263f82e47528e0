"""bot.identity: one canonical key per paper (SPEC section 4, FORMATS.md section 6)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.identity import arxiv_id, identify, keys, merge, normalize_doi, normalize_title
from bot.models import Paper

# ---------------------------------------------------------------------------------------------
# Tables: the raw forms of FORMATS.md section 6 and their keys


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # arXiv RSS: guid, link, description prefix
        ("oai:arXiv.org:2604.21935v1", "2604.21935"),
        ("https://arxiv.org/abs/2604.21935", "2604.21935"),
        ("arXiv:2604.21935v1", "2604.21935"),
        # arXiv Atom (rss.arxiv.org)
        ("oai:arXiv.org:2203.01250v3", "2203.01250"),
        # arXiv API, new and old style
        ("http://arxiv.org/abs/1706.03762v7", "1706.03762"),
        ("http://arxiv.org/abs/math/0502287v1", "math/0502287"),
        ("http://arxiv.org/abs/cond-mat/0102536v1", "cond-mat/0102536"),
        # Hugging Face paper.id
        ("2410.17243", "2410.17243"),
        # other URL forms, cases and the DataCite DOI
        ("https://arxiv.org/pdf/2604.21935v2.pdf", "2604.21935"),
        ("https://arxiv.org/pdf/2604.21935", "2604.21935"),
        ("https://www.arxiv.org/html/2604.21935v1", "2604.21935"),
        ("http://export.arxiv.org/abs/hep-th/9901001", "hep-th/9901001"),
        ("https://arxiv.org/abs/2604.21935v2?context=cs", "2604.21935"),
        ("ARXIV:2604.21935V1", "2604.21935"),
        ("  2604.21935v12 ", "2604.21935"),
        ("10.48550/arXiv.2604.21935", "2604.21935"),
        ("0704.0001", "0704.0001"),
        ("math.GT/0309136v2", "math.GT/0309136"),
        ("HEP-TH/9901001", "hep-th/9901001"),
        # not arXiv ids
        ("1234", None),
        ("2604.219", None),
        ("2604.219356", None),
        ("https://arxiv.org/abs/2604.219356", None),
        ("doi:10.1101/857789", None),
        ("http://biorxiv.org/cgi/content/short/857789v1?rss=1", None),
        ("https://www.nature.com/articles/s41586-024-07811-4", None),
        ("", None),
        (None, None),
    ],
)
def test_arxiv_id(raw, expected):
    assert arxiv_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("doi:10.1101/857789", "10.1101/857789"),  # bioRxiv dc:identifier
        ("10.1038/s41586-024-07811-4", "10.1038/s41586-024-07811-4"),  # Nature prism:doi
        ("10.5802/jep.257", "10.5802/jep.257"),  # arXiv's arxiv:DOI (a journal DOI)
        ("https://doi.org/10.1038/S41586-024-07811-4", "10.1038/s41586-024-07811-4"),
        ("http://dx.doi.org/10.1000/ABC", "10.1000/abc"),
        ("DOI:10.1101/2024.01.01.123456", "10.1101/2024.01.01.123456"),
        ("  10.1101/857789\n", "10.1101/857789"),
        ("not a doi", None),
        ("https://www.nature.com/articles/s41586-024-07811-4", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_doi(raw, expected):
    assert normalize_doi(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Attention Is All You Need", "attention is all you need"),
        ("  Attention is all\n  you NEED!  ", "attention is all you need"),
        ("LOGO -- Long cOntext aliGnment", "logo long context alignment"),
        ("ﬁne-tuning LLMs", "fine tuning llms"),  # NFKC folds the ligature
        ("Straße", "strasse"),  # case-folding, not lower()
        ("Catalysis of an SN2 pathway", "catalysis of an sn2 pathway"),
        ("snake_case_title", "snake case title"),
        ("?!", ""),
    ],
)
def test_normalize_title(raw, expected):
    assert normalize_title(raw) == expected


@pytest.mark.parametrize(
    ("paper", "expected"),
    [
        (
            Paper(title="Math Takes Two", arxiv_id="2604.21935"),
            ("arxiv:2604.21935", "title:math takes two"),
        ),
        (
            Paper(title="X", url="https://arxiv.org/abs/math/0502287v1"),
            ("arxiv:math/0502287", "title:x"),
        ),
        (
            Paper(title="Mass concentration", arxiv_id="2203.01250", doi="10.5802/JEP.257"),
            ("arxiv:2203.01250", "doi:10.5802/jep.257", "title:mass concentration"),
        ),
        (
            Paper(title="Microscale Collagen", doi="doi:10.1101/857789"),
            ("doi:10.1101/857789", "title:microscale collagen"),
        ),
        # arXiv's own DataCite DOI is the arXiv key, not a second key
        (Paper(title="Y", doi="10.48550/arXiv.2604.21935"), ("arxiv:2604.21935", "title:y")),
        (Paper(title="Only A Title!"), ("title:only a title",)),
        (Paper(title=" -- "), ()),
    ],
)
def test_keys(paper, expected):
    assert keys(paper) == expected


def test_identify_sets_the_canonical_key_and_normalizes_ids():
    paper = identify(Paper(title="T", arxiv_id="oai:arXiv.org:2604.21935v1", doi="10.5802/JEP.1"))
    assert (paper.id, paper.arxiv_id, paper.doi) == (
        "arxiv:2604.21935",
        "2604.21935",
        "10.5802/jep.1",
    )
    assert identify(Paper(title="T", doi="https://doi.org/10.1101/X")).id == "doi:10.1101/x"
    assert identify(Paper(title="A  Title.")).id == "title:a title"
    assert identify(Paper(title="", url="https://example.org")).id == ""


def test_merge_joins_sources_by_arxiv_id_doi_and_title():
    when = datetime(2026, 4, 27, 4, 0, tzinfo=UTC)
    hf = Paper(
        title="Mass concentration in rescaled functionals",
        url="https://arxiv.org/abs/2203.01250",
        abstract="Short.",
        sources=("hf-daily",),
        arxiv_id="2203.01250",
    )
    arxiv = Paper(
        title="Mass concentration in rescaled functionals",
        url="https://arxiv.org/abs/2203.01250",
        abstract="A longer abstract from arXiv.",
        authors=("Antonin Monteil", "Paul Pegon"),
        categories=("math.AP", "math.OC"),
        sources=("arxiv-math",),
        published=when,
        arxiv_id="2203.01250",
        doi="10.5802/jep.257",
        revision=True,
    )
    journal = Paper(
        title="Mass concentration (journal version)",
        url="https://jep.centre-mersenne.org/x",
        categories=("Mathematics",),
        sources=("jep",),
        doi="10.5802/JEP.257",
    )
    page = Paper(title="MASS CONCENTRATION in rescaled functionals", sources=("page",))
    other = Paper(title="Something else", sources=("page",))
    merged = merge([hf, other, arxiv, journal, page])
    assert [p.id for p in merged] == ["arxiv:2203.01250", "title:something else"]
    paper = merged[0]
    assert paper.sources == ("hf-daily", "arxiv-math", "jep", "page")
    assert paper.abstract == "A longer abstract from arXiv."
    assert paper.authors == ("Antonin Monteil", "Paul Pegon")
    assert paper.categories == ("math.AP", "math.OC", "Mathematics")
    assert (paper.arxiv_id, paper.doi, paper.published) == ("2203.01250", "10.5802/jep.257", when)
    assert paper.url == "https://arxiv.org/abs/2203.01250"
    assert paper.revision is False  # the HF record is a first listing


def test_merge_keeps_revision_only_when_every_record_is_one():
    one = Paper(title="T", arxiv_id="2101.00001", sources=("a",), revision=True)
    two = Paper(title="T", arxiv_id="2101.00001v2", sources=("b",), revision=True)
    assert [p.revision for p in merge([one, two])] == [True]


def test_merge_drops_records_without_any_key():
    kept = Paper(title="Kept", sources=("s",))
    assert merge([Paper(title="", url="https://example.org"), kept]) == [identify(kept)]


def test_same_title_and_different_arxiv_ids_are_two_papers():
    one = Paper(title="Comment on language model scaling", arxiv_id="2601.00001", sources=("a",))
    two = Paper(title="Comment on Language Model Scaling", arxiv_id="2601.00002", sources=("a",))
    assert [p.id for p in merge([one, two])] == ["arxiv:2601.00001", "arxiv:2601.00002"]


def test_same_title_and_different_dois_are_two_papers():
    one = Paper(title="Editorial", doi="10.1038/s41586-024-00001-1", sources=("nature",))
    two = Paper(title="Editorial", doi="10.1038/s41586-024-00002-2", sources=("nature",))
    assert [p.id for p in merge([one, two])] == [
        "doi:10.1038/s41586-024-00001-1",
        "doi:10.1038/s41586-024-00002-2",
    ]


def test_a_title_only_line_is_the_paper_of_a_feed_item_with_that_title_either_way_round():
    line = Paper(title="Language Model Cascades: Token-level uncertainty", sources=("page",))
    item = Paper(
        title="Language model cascades: token-level uncertainty",
        url="https://arxiv.org/abs/2404.10136",
        authors=("Neha Gupta", "Harikrishna Narasimhan"),
        sources=("arxiv-cs-cl",),
        arxiv_id="2404.10136",
    )
    for records in ([line, item], [item, line]):
        (paper,) = merge(records)
        assert paper.id == "arxiv:2404.10136"
        assert paper.url == "https://arxiv.org/abs/2404.10136"
        assert paper.authors == ("Neha Gupta", "Harikrishna Narasimhan")
        assert sorted(paper.sources) == ["arxiv-cs-cl", "page"]


def test_a_title_only_line_joins_one_paper_and_never_bridges_two_of_that_title():
    line = Paper(title="Editorial", sources=("page",))
    one = Paper(title="Editorial", doi="10.1000/one", sources=("j1",))
    two = Paper(title="Editorial", doi="10.1000/two", sources=("j2",))
    assert [p.sources for p in merge([one, line, two])] == [("j1", "page"), ("j2",)]
    assert [p.sources for p in merge([line, one, two])] == [("page", "j1"), ("j2",)]


def test_a_shared_arxiv_id_wins_over_differing_dois():
    preprint = Paper(title="X", arxiv_id="2601.00001", doi="10.1000/a", sources=("a",))
    journal = Paper(title="X", arxiv_id="2601.00001v2", doi="10.1000/b", sources=("b",))
    assert [p.sources for p in merge([preprint, journal])] == [("a", "b")]


def test_a_shared_doi_with_different_arxiv_ids_is_two_papers():
    one = Paper(title="X", arxiv_id="2601.00001", doi="10.1000/a", sources=("a",))
    two = Paper(title="X", arxiv_id="2601.00002", doi="10.1000/a", sources=("b",))
    assert len(merge([one, two])) == 2


def test_merge_joins_two_groups_through_a_later_bridging_record():
    by_title = Paper(title="Bridge Paper", sources=("a",))
    by_doi = Paper(title="Bridge paper (preprint)", doi="10.1000/x", sources=("b",))
    bridge = Paper(title="Bridge Paper", doi="10.1000/X", sources=("c",))
    (paper,) = merge([by_title, by_doi, bridge])
    assert sorted(paper.sources) == ["a", "b", "c"]


# ---------------------------------------------------------------------------------------------
# Properties

new_ids = st.builds(
    "{}{:02d}.{}".format,
    st.integers(7, 99).map("{:02d}".format),
    st.integers(1, 12),
    st.from_regex(r"\A\d{4,5}\Z"),
)
old_ids = st.builds(
    "{}/{}".format,
    st.sampled_from(["hep-th", "math", "cond-mat", "astro-ph", "physics", "math.GT", "cs.CL"]),
    st.from_regex(r"\A\d{7}\Z"),
)
ids = st.one_of(new_ids, old_ids)
versions = st.one_of(st.just(""), st.integers(1, 30).map("v{}".format))
ID_FORMS = [
    "{id}{v}",
    "oai:arXiv.org:{id}{v}",
    "arXiv:{id}{v}",
    "arxiv:{id}{v}",
    "https://arxiv.org/abs/{id}{v}",
    "http://arxiv.org/abs/{id}{v}",
    "http://export.arxiv.org/abs/{id}{v}",
    "https://www.arxiv.org/pdf/{id}{v}.pdf",
    "https://arxiv.org/html/{id}{v}",
]
TITLE_WORDS = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzéüß0123456789", min_size=1, max_size=8),
    min_size=1,
    max_size=8,
)


@given(paper_id=ids, version=versions, form=st.sampled_from(ID_FORMS), as_url=st.booleans())
def test_keys_stable_under_version_suffix_and_url_form(paper_id, version, form, as_url):
    raw = form.format(id=paper_id, v=version)
    assert arxiv_id(raw) == paper_id
    plain = keys(Paper(title="A Title", arxiv_id=paper_id))
    if as_url and raw.startswith("http"):
        assert keys(Paper(title="A Title", url=raw)) == plain
    else:
        assert keys(Paper(title="A Title", arxiv_id=raw)) == plain


@given(
    prefix=st.from_regex(r"\A10\.\d{4,9}\Z"),
    suffix=st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_/()",
        min_size=1,
        max_size=20,
    ),
    form=st.sampled_from(["{}", "doi:{}", "DOI:{}", "https://doi.org/{}", "http://dx.doi.org/{}"]),
)
def test_keys_stable_under_doi_case_and_form(prefix, suffix, form):
    doi = f"{prefix}/{suffix}"
    expected = keys(Paper(title="T", doi=doi.lower()))
    assert keys(Paper(title="T", doi=form.format(doi.upper()))) == expected
    assert keys(Paper(title="T", doi=form.format(doi))) == expected


@given(
    words=TITLE_WORDS,
    separators=st.lists(st.text(alphabet=" \t\n\r.,:;!?-–—()[]'\"/", min_size=1, max_size=3)),
    edges=st.tuples(st.text(alphabet=" \n.!?", max_size=3), st.text(alphabet=" \n.!?", max_size=3)),
    case=st.sampled_from([str.upper, str.lower, str.title, str.swapcase, lambda s: s]),
)
def test_title_key_stable_under_punctuation_case_and_whitespace(words, separators, edges, case):
    plain = " ".join(words)
    mangled = words[0]
    for index, word in enumerate(words[1:]):
        separator = separators[index] if index < len(separators) else " "
        mangled += separator + word
    mangled = case(edges[0] + mangled + edges[1])
    assert keys(Paper(title=mangled)) == keys(Paper(title=plain))
    assert normalize_title(mangled) == normalize_title(plain).strip()


# Records drawn from small pools so that keys collide often and groups bridge.
POOL_ARXIV = ["2101.00001", "2101.00002", "hep-th/9901001", None, None]
POOL_DOI = ["10.1000/a", "10.1000/B", "10.48550/arXiv.2101.00003", None, None]
POOL_TITLE = ["Alpha", "alpha!", "Beta", "Gamma", "", ""]

records = st.lists(
    st.tuples(st.sampled_from(POOL_ARXIV), st.sampled_from(POOL_DOI), st.sampled_from(POOL_TITLE)),
    max_size=14,
).map(
    lambda rows: [
        Paper(title=title, arxiv_id=arxiv, doi=doi, sources=(f"r{index}",))
        for index, (arxiv, doi, title) in enumerate(rows)
    ]
)


def _groups(papers: list[Paper]) -> list[list[Paper]]:
    """The input records of each merged paper (each record's only source names it)."""
    by_name = {p.sources[0]: p for p in papers}
    return [[by_name[name] for name in paper.sources] for paper in merge(papers)]


def _ids(records: list[Paper], kind: str) -> set[str]:
    return {k for r in records for k in keys(r) if k.startswith(kind)}


@settings(max_examples=300)
@given(papers=records, seed=st.integers(0, 2**32))
def test_merged_papers_never_hold_two_arxiv_ids_or_without_one_two_dois(papers, seed):
    random.Random(seed).shuffle(papers)
    for group in _groups(papers):
        assert len(_ids(group, "arxiv:")) <= 1
        if not _ids(group, "arxiv:"):
            assert len(_ids(group, "doi:")) <= 1


@settings(max_examples=300)
@given(papers=records, seed=st.integers(0, 2**32))
def test_records_sharing_an_arxiv_id_are_always_one_paper(papers, seed):
    random.Random(seed).shuffle(papers)
    where = {r.sources[0]: n for n, group in enumerate(_groups(papers)) for r in group}
    for one in papers:
        for other in papers:
            if _ids([one], "arxiv:") & _ids([other], "arxiv:"):
                assert where[one.sources[0]] == where[other.sources[0]]


@settings(max_examples=300)
@given(papers=records)
def test_a_record_without_ids_joins_a_paper_of_its_title(papers):
    where = {r.sources[0]: n for n, group in enumerate(_groups(papers)) for r in group}
    for n, record in enumerate(papers):
        if keys(record) and not _ids([record], "arxiv:") | _ids([record], "doi:"):
            titled = [p for p in papers[:n] if _ids([p], "title:") == _ids([record], "title:")]
            if titled:  # it joins a paper holding an earlier record of its title
                assert where[record.sources[0]] in {where[p.sources[0]] for p in titled}


@settings(max_examples=300)
@given(papers=records)
def test_every_record_with_a_key_lands_in_exactly_one_merged_paper(papers):
    merged = merge(papers)
    landed = [source for paper in merged for source in paper.sources]
    with_keys = [p.sources[0] for p in papers if keys(p)]
    assert sorted(landed) == sorted(with_keys)
    assert all(paper.id and paper.id == keys(paper)[0] for paper in merged)
    assert len({paper.id for paper in merged}) == len(merged)
