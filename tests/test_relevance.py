"""Relevance on the bundled listing pages: what a reader expects a query to find, and not find.

Every expectation below was written by reading the titles and abstracts of
tests/fixtures/pages/*.txt (the three plain-text HF listings), not by running the matcher. The
papers are read with tests/support.page_papers, which does not use the bot's parser. Each query
lists papers a reader expects (all must match) and papers a reader does not expect (none may
match); other papers may go either way.
"""

from __future__ import annotations

import pytest
from support import FIXTURES, page_papers

from bot.models import Paper
from bot.query.matcher import Matcher, matches

CASCADES = "Language Model Cascades: Token-level uncertainty and beyond"
SPARSE = "Sparse Finetuning for Inference Acceleration of Large Language Models"
SPAR = (
    "SPaR: Self-Play with Tree-Search Refinement to Improve Instruction-Following in Large "
    "Language Models"
)
IPTC_NEWS = (
    "LLM Teacher-Student Framework for Text Classification With No Manually Annotated Data: "
    "A Case Study in IPTC News Topic Classification"
)
NEW_FRONTIERS = (
    "A Survey on Large Language Models with Multilingualism: Recent Advances and New Frontiers"
)
NEW_LANGUAGE = "A Benchmark for Learning to Translate a New Language from One Grammar Book"
HARRY_POTTER = "Who's Harry Potter? Approximate Unlearning in LLMs"  # "we effectively erase"
UNLEARNING = "Knowledge Unlearning for LLMs: Tasks, Methods, and Challenges"  # "the era of LLMs"
SMALL_LMS_ERA = (
    "A Comprehensive Survey of Small Language Models in the Era of Large Language Models: "
    "Techniques, Enhancements, Applications, Collaboration with LLMs, and Trustworthiness"
)
ONECHART = "OneChart: Purify the Chart Structural Extraction via One Auxiliary Token"
TOOL_DOCS = "Tool Documentation Enables Zero-Shot Tool-Usage with Large Language Models"  # on par
TEXT_VISION = (
    "Bridging Text and Vision: A Multi-View Text-Vision Registration Approach for Cross-Modal "
    "Place Recognition"  # "the frozen T5 language model", "Cascaded Cross-Attention"
)
LML = "LML: Language Model Learning a Dataset for Data-Augmented Prediction"
VISUAL_DOCS = (
    "Enhancing Visual Document Understanding with Contrastive Learning in Large "
    "Visual-Language Models"  # "(LVLMs)"
)
MOE_SURVEY = "A Survey on Mixture of Experts"
LLM_SURVEY = "A Survey of Large Language Models"
PEAK_REVIEW = "Achieving Peak Performance for Large Language Models: A Systematic Review"
HARNESSING = "Harnessing the Power of LLMs in Practice: A Survey on ChatGPT and Beyond"

# (query, papers a reader expects, papers a reader does not expect)
RELEVANCE = [
    # the examples: no trailing-s rule, whole words only
    ("sparse -medical", {SPARSE}, {SPAR}),
    ("title:news", {IPTC_NEWS}, {NEW_FRONTIERS, NEW_LANGUAGE}),
    ("news", {IPTC_NEWS}, {NEW_LANGUAGE}),
    ("title:new", {NEW_FRONTIERS, NEW_LANGUAGE}, {IPTC_NEWS}),
    ("erase", {HARRY_POTTER}, {UNLEARNING}),
    ("era", {UNLEARNING, SMALL_LMS_ERA}, {HARRY_POTTER}),
    ("parsing", {ONECHART}, {TOOL_DOCS}),
    # phrases match plurals, word by word
    (
        'title:"language model"',
        {
            CASCADES,
            LLM_SURVEY,
            "Holistic Evaluation of Language Models",
            "Large Language Models as Data Preprocessors",
            "PaLM: Scaling Language Modeling with Pathways",
        },
        {
            MOE_SURVEY,
            "Zero-Shot Tokenizer Transfer",
            "Qwen2.5 Technical Report",
            "A Review of Multi-Modal Large Language and Vision Models",
        },
    ),
    # SPEC section 2's example query
    ('"language model" AND (cascade OR deferral)', {CASCADES, TEXT_VISION}, {LML, SPARSE}),
    # acronym plurals
    (
        "title:LLMs",
        {
            "LLMs are Also Effective Embedding Models: An In-depth Overview",
            "A Little Help Goes a Long Way: Efficient LLM Training by Leveraging Small LMs",
            "Tele-LLMs: A Series of Specialized Large Language Models for Telecommunications",
            "Pooling And Attention: What Are Effective Designs For LLm-Based Embedding Models?",
            HARNESSING,
        },
        {
            LLM_SURVEY,
            "HLLM: Enhancing Sequential Recommendations via Hierarchical Large Language Models "
            "for Item and User Modeling",
            "GeoLLM: Extracting Geospatial Knowledge from Large Language Models",
        },
    ),
    ("LVLM", {ONECHART, VISUAL_DOCS}, {CASCADES, SPARSE}),
    # hyphens: with, without, joined
    (
        "title:GPT4",
        {"A Survey of GPT-3 Family Large Language Models Including ChatGPT and GPT-4"},
        {"FLM-101B: An Open LLM and How to Train It with $100K Budget"},
    ),
    (
        "title:fine-tuning",
        {
            SPARSE,
            "MixLoRA: Enhancing Large Language Models Fine-Tuning with LoRA based Mixture of "
            "Experts",
            "Balancing Continuous Pre-Training and Instruction Fine-Tuning: Optimizing "
            "Instruction-Following in LLMs",
            "Label Supervised LLaMA Finetuning",
            "Efficient Finetuning Large Language Models For Vietnamese Chatbot",
            "SELF-GUIDE: Better Task-Specific Instruction Following via Self-Synthetic Finetuning",
            "Relation Extraction with Fine-Tuned Large Language Models in Retrieval Augmented "
            "Generation Frameworks",
            "Flacuna: Unleashing the Problem Solving Power of Vicuna using FLAN Fine-Tuning",
        },
        {
            "LST: Ladder Side-Tuning for Parameter and Memory Efficient Transfer Learning",
            "Exploring the Effectiveness of Instruction Tuning in Biomedical Language Processing",
            "GemmAr: Enhancing LLMs Through Arabic Instruction-Tuning",
        },
    ),
    # fields, groups, prefixes
    (
        "title:(medical OR clinical OR health)",
        {
            "Evaluating Large Language Models for Health-Related Text Classification Tasks with "
            "Public Social Media Data",
            "Large Language Models to Identify Social Determinants of Health in Electronic Health "
            "Records",
            "Mental-LLM: Leveraging Large Language Models for Mental Health Prediction via Online "
            "Text Data",
            "Do We Still Need Clinical Language Models?",
            "Medical mT5: An Open-Source Multilingual Text-to-Text LLM for The Medical Domain",
            "Evaluation of Language Models in the Medical Context Under Resource-Constrained "
            "Settings",
        },
        {
            "Exploring the Effectiveness of Instruction Tuning in Biomedical Language Processing",
            "Large Language Models and Control Mechanisms Improve Text Readability of Biomedical "
            "Abstracts",
        },
    ),
    (
        "title:distill*",
        {
            "MiniPLM: Knowledge Distillation for Pre-Training Language Models",
            "LLaVA-KD: A Framework of Distilling Multimodal Large Language Models",
            "Distilling Step-by-Step! Outperforming Larger Language Models with Less Training "
            "Data and Smaller Model Sizes",
            "Scalable Attentive Sentence-Pair Modeling via Distilled Sentence Embedding",
        },
        {"Dolma: an Open Corpus of Three Trillion Tokens for Language Model Pretraining Research"},
    ),
    (
        'title:survey -title:(LLMs OR "large language model")',
        {
            MOE_SURVEY,
            "RAG and RAU: A Survey on Retrieval-Augmented Language Model in Natural Language "
            "Processing",
        },
        {LLM_SURVEY, HARNESSING, PEAK_REVIEW},
    ),
]


def _bundled_papers() -> list[Paper]:
    papers: dict[str, Paper] = {}
    for page in sorted((FIXTURES / "pages").glob("*.txt")):
        for n, (title, abstract) in enumerate(page_papers(page.read_text(encoding="utf-8"))):
            papers.setdefault(title, Paper(id=f"{page.stem}:{n}", title=title, abstract=abstract))
    return list(papers.values())


PAPERS = _bundled_papers()


def test_every_title_named_here_is_on_a_bundled_page():
    titles = {p.title for p in PAPERS}
    named = set().union(*(expected | unexpected for _, expected, unexpected in RELEVANCE))
    assert named - titles == set()


@pytest.mark.parametrize(
    ("query", "expected", "unexpected"), RELEVANCE, ids=[row[0] for row in RELEVANCE]
)
def test_a_query_finds_what_a_reader_expects_and_not_what_they_do_not(query, expected, unexpected):
    found = {p.title for p in PAPERS if matches(query, p)}
    assert expected - found == set(), "missed"
    assert unexpected & found == set(), "found but not wanted"


def test_the_indexed_matcher_finds_the_same_on_the_bundled_pages():
    matcher = Matcher({query: [query] for query, _, _ in RELEVANCE})
    indexed = matcher.match(PAPERS)
    for query, _, _ in RELEVANCE:
        one_by_one = {p.id for p in PAPERS if matches(query, p)}
        assert {pid for pid, owners in indexed.items() if query in owners} == one_by_one, query
