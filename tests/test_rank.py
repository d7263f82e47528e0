"""The digest's order (bot.query.rank): what a reader puts on top comes first.

The ordering expectations on the bundled pages were written by reading the titles and abstracts of
tests/fixtures/pages/*.txt (read with tests/support.page_papers, not the bot's parser): for each
query, the papers naming the query's word in their title, and the papers whose abstract mentions
it exactly once (any form of the word: "retrieval", "retrieve", "retrieved") and whose title does
not. A reader puts every paper of the first kind above every paper of the second.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from support import FIXTURES, page_papers

from bot.models import Paper
from bot.query.compile import term_holds, term_spans
from bot.query.hits import highlight as quick_highlight
from bot.query.hits import marks, term_runs
from bot.query.matcher import _compiled, highlight
from bot.query.rank import TITLE_WEIGHT, Corpus, rank_key, score
from bot.query.words import tokenize_paper

DAY = datetime(2026, 3, 12, tzinfo=UTC)


def _bundled() -> list[Paper]:
    papers: dict[str, Paper] = {}
    for page in sorted((FIXTURES / "pages").glob("*.txt")):
        for title, abstract in page_papers(page.read_text(encoding="utf-8")):
            papers.setdefault(
                title,
                Paper(title=title, abstract=abstract, id=f"p{len(papers):03d}", published=DAY),
            )
    return list(papers.values())


BUNDLED = _bundled()
CORPUS = Corpus(BUNDLED)
RAG_SURVEY = (
    "RAG and RAU: A Survey on Retrieval-Augmented Language Model in Natural Language Processing"
)

# (queries, titles a reader puts on top, titles that only mention a query word once in the abstract)
ORDER = [
    (
        ["retrieval"],
        {
            RAG_SURVEY,
            "NERetrieve: Dataset for Next Generation Named Entity Recognition and Retrieval",
            "Improving Retrieval-Augmented Large Language Models via Data Importance Learning",
            "Retrieve Anything To Augment Large Language Models",
            "Large Language Models as Foundations for Next-Gen Dense Retrieval: A Comprehensive "
            "Empirical Assessment",
        },
        {
            "Towards Lifelong Learning of Large Language Models: A Survey",
            "An Empirical Study of NetOps Capability of Pre-Trained Large Language Models",
            "ThinkSum: Probabilistic reasoning over sets using large language models",
            "DSPy: Compiling Declarative Language Model Calls into Self-Improving Pipelines",
            "Massively Multilingual Lexical Specialization of Multilingual Transformers",
        },
    ),
    (
        ["hallucination"],
        {"Augmenting LLMs with Knowledge: A survey on hallucination prevention"},
        {
            "Aligning Large Language Models with Human: A Survey",
            RAG_SURVEY,
            "Supervised Knowledge Makes Large Language Models Better In-context Learners",
        },
    ),
    (
        ["agent"],
        {"Language Model Agents Suffer from Compositional Generalization in Web Automation"},
        {
            "Expediting and Elevating Large Language Model Reasoning via Hidden Chain-of-Thought "
            "Decoding",
            "DSPy: Compiling Declarative Language Model Calls into Self-Improving Pipelines",
        },
    ),
    (
        ["survey"],
        {
            "A Survey of Large Language Models",
            "Harnessing the Power of LLMs in Practice: A Survey on ChatGPT and Beyond",
            "Large Language Model Alignment: A Survey",
        },
        {
            "A Comprehensive Overview of Large Language Models",
            "Fairness Definitions in Language Models Explained",
            "Evaluation of Language Models in the Medical Context Under Resource-Constrained "
            "Settings",
        },
    ),
]


def _ranked(queries: list[str]) -> list[str]:
    from bot.query.matcher import matches

    found = [p for p in BUNDLED if any(matches(q, p) for q in queries)]
    return [p.title for p in sorted(found, key=lambda p: rank_key(p, queries, CORPUS))]


@pytest.mark.parametrize(("queries", "top", "once"), ORDER, ids=[q[0][0] for q in ORDER])
def test_title_papers_come_before_papers_mentioning_the_word_once(queries, top, once):
    order = _ranked(queries)
    assert top | once <= set(order)  # the reader's papers all match
    last_top = max(order.index(t) for t in top)
    first_once = min(order.index(t) for t in once)
    assert last_top < first_once, order


def test_a_paper_matching_two_queries_in_its_title_comes_first():
    # The only paper with both "retrieval" and "survey" in its title (read from the pages).
    assert _ranked(["retrieval", "survey"])[0] == RAG_SURVEY


def _paper(n: int, title: str, abstract: str, day: int = 1) -> Paper:
    return Paper(
        title=title, abstract=abstract, id=f"x{n}", published=datetime(2026, 4, day, tzinfo=UTC)
    )


def test_a_rarer_word_counts_more_than_a_common_one():
    common = [_paper(i, f"model study {i}", "we train a model.") for i in range(20)]
    rare = _paper(99, "deferral study", "we study deferral.")
    corpus = Corpus([*common, rare])
    query = ["model OR deferral"]
    assert score(rare, query, corpus).total > score(common[0], query, corpus).total
    parts = score(rare, query, corpus).queries[0].terms
    assert [(t.term, t.title_hits, t.abstract_hits, t.frequency) for t in parts] == [
        ("deferral", 1, 1, 1)
    ]


def test_title_hit_outweighs_one_abstract_hit_and_more_queries_count_more():
    corpus = Corpus([_paper(i, f"filler {i}", "nothing to see here.") for i in range(10)])
    in_title = _paper(1, "A cascade", "nothing")
    in_abstract = _paper(2, "Something", "one cascade here.")
    both = _paper(3, "Something", "one cascade and a judge.")
    assert TITLE_WEIGHT > 1
    title_points = score(in_title, ["cascade"], corpus).total
    assert title_points > score(in_abstract, ["cascade"], corpus).total
    two = score(both, ["cascade", "judge"], corpus)
    assert two.total > score(both, ["cascade"], corpus).total
    assert [q.matches for q in two.queries] == [True, True]


def test_ties_go_newest_first_then_by_id_and_the_order_is_stable():
    corpus = Corpus([])
    older = _paper(1, "x", "a cascade", day=3)
    newer = _paper(2, "x", "a cascade", day=4)
    same_day = _paper(0, "x", "a cascade", day=4)
    undated = Paper(title="x", abstract="a cascade", id="x9")
    papers = [undated, older, newer, same_day]
    for _ in range(3):
        ranked = sorted(papers, key=lambda p: rank_key(p, ["cascade"], corpus))
        assert [p.id for p in ranked] == ["x0", "x2", "x1", "x9"]


def test_terms_under_not_and_queries_that_do_not_match_score_nothing():
    corpus = Corpus([])
    paper = _paper(1, "cascade deferral", "")
    assert (
        score(paper, ["cascade -quantum"], corpus).total
        == score(paper, ["cascade", "quantum judge"], corpus).total
    )
    parts = score(paper, ["cascade", "quantum judge"], corpus).queries
    assert [(q.query, q.matches, q.points) for q in parts][1] == ("quantum judge", False, 0.0)


@pytest.mark.parametrize(
    "query",
    [
        "model*",
        '"language model"',
        "LLM",
        "llms",
        "state-of-the-art",
        '"large language" model*',
        "title:survey abstract:retrieval",
        "fine-tuning OR finetuning",
        "gpt-3.5 OR GPT-4",
    ],
)
def test_hit_counts_agree_with_the_matchers_spans(query):
    """The score counts hits its own quick way: it must find what compile.term_spans finds."""
    _, terms = _compiled(query)
    for paper in BUNDLED:
        document = tokenize_paper(paper)
        for term in terms:
            expected = (
                len(term_spans(term, document, "title")),
                len(term_spans(term, document, "abstract")),
            )
            found = term_runs(term, document)
            counts = None if found is None else (len(found[0]), len(found[1]))
            assert counts == (expected if term_holds(term, document) else None)


AUTHORED = Paper(
    title="Fine-tuning GPT-3.5 for a state-of-the-art cascade",
    abstract="A cascade of language models; the cascade's deferral rule. Fine tuning, finetuning.",
    authors=("Ada Lovelace", "Geoffrey Hinton"),
    categories=("cs.CL",),
    sources=("hf-daily",),
    id="authored",
)


@pytest.mark.parametrize(
    "queries",
    [
        ("model*",),
        ('"language model"', "survey OR benchmark"),
        ("llms -survey", "retriev*"),
        ("state-of-the-art", "fine-tuning OR finetuning", "gpt-3.5 OR GPT-4"),
        ('"large language" model*', "title:survey abstract:retrieval"),
        ("author:hinton cascade", "category:cs.CL deferral", "source:hf* -quantum"),
        ("author:lovelace", "nothing-here", "cascade -deferral"),
    ],
)
def test_the_scores_word_runs_mark_what_the_reference_marks(queries):
    """The email's marks are the word runs the score found (query.hits looks first words up at C
    speed); they must be exactly matcher.highlight's, which tries every word in turn."""
    for paper in [*BUNDLED, AUTHORED]:
        found = score(paper, queries, CORPUS)
        shown = marks(paper, found.title_runs, found.abstract_runs)
        assert shown == highlight(paper, queries) == quick_highlight(paper, queries), paper.title
