"""The query language of SPEC section 5: what each query parses to, prints as, and its errors."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import QueryError
from bot.models import Paper
from bot.query.explain import explain
from bot.query.matcher import Matcher, matches
from bot.query.syntax import parse_query
from bot.query.tree import And, Not, Or, Phrase, Query, Value, Word

W = Word

# (query as typed, the tree, the printed form)
PARSES = [
    # SPEC 5 row 1: implicit AND
    ("diffusion model", And((W("diffusion"), W("model"))), "diffusion AND model"),
    # row 2: boolean operators, -term, parentheses, precedence NOT > AND > OR
    ("a AND b", And((W("a"), W("b"))), "a AND b"),
    ("a OR b", Or((W("a"), W("b"))), "a OR b"),
    ("b NOT a", And((W("b"), Not(W("a")))), "b AND NOT a"),
    ("b -a", And((W("b"), Not(W("a")))), "b AND NOT a"),
    ("sparse -medical", And((W("sparse"), Not(W("medical")))), "sparse AND NOT medical"),
    ("a OR b c", Or((W("a"), And((W("b"), W("c"))))), "a OR b AND c"),
    ("a OR b AND c", Or((W("a"), And((W("b"), W("c"))))), "a OR b AND c"),
    ("NOT a b", And((Not(W("a")), W("b"))), "NOT a AND b"),
    ("NOT a OR b", Or((Not(W("a")), W("b"))), "NOT a OR b"),
    ("(a OR b) c", And((Or((W("a"), W("b"))), W("c"))), "(a OR b) AND c"),
    ("c -(a OR b)", And((W("c"), Not(Or((W("a"), W("b")))))), "c AND NOT (a OR b)"),
    ("NOT NOT a", Not(Not(W("a"))), "NOT NOT a"),  # a positive term: a must be there
    ("a OR (b OR c)", Or((W("a"), Or((W("b"), W("c"))))), "a OR (b OR c)"),
    ("((a))", W("a"), "a"),
    # operators are upper case only: a lower-case one is a word when quoted or field-scoped
    ('a "and" b', And((W("a"), Phrase(("and",)), W("b"))), 'a AND "and" AND b'),
    ("title:or x", And((W("or", "title"), W("x"))), "title:or AND x"),
    ("not* x", And((W("not", prefix=True), W("x"))), "not* AND x"),
    # row 3: phrases (matched word by word on keys)
    ('"large language model"', Phrase(("large", "language", "model")), '"large language model"'),
    ('"LLMs on GPUs"', Phrase(("llm", "on", "gpu")), '"llm on gpu"'),
    (
        '"Large  Language\tModels"',
        Phrase(("large", "language", "models")),
        '"large language models"',
    ),
    (
        '"language model" AND (cascade OR deferral)',
        And((Phrase(("language", "model")), Or((W("cascade"), W("deferral"))))),
        '"language model" AND (cascade OR deferral)',
    ),
    # row 4: fields, on words, phrases and groups
    ("title:x", W("x", "title"), "title:x"),
    ("abstract:x", W("x", "abstract"), "abstract:x"),
    ("author:Smith", W("smith", "author"), "author:smith"),
    ('author:"Yann LeCun"', Phrase(("yann", "lecun"), "author"), 'author:"yann lecun"'),
    ('title:"a b"', Phrase(("a", "b"), "title"), 'title:"a b"'),
    ("Title:x", W("x", "title"), "title:x"),
    ("category:cs.CL", Value("cs.cl", "category"), "category:cs.cl"),
    ("category:cs.*", Value("cs.", "category", prefix=True), "category:cs.*"),
    ('category:"cs.*"', Value("cs.*", "category"), 'category:"cs.*"'),
    ("source:hf-daily", Value("hf-daily", "source"), "source:hf-daily"),
    (
        "title:(survey OR review)",
        Or((W("survey", "title"), W("review", "title"))),
        "title:survey OR title:review",
    ),
    (
        "category:(cs.CL OR cs.LG)",
        Or((Value("cs.cl", "category"), Value("cs.lg", "category"))),
        "category:cs.cl OR category:cs.lg",
    ),
    ("y -title:x", And((W("y"), Not(W("x", "title")))), "y AND NOT title:x"),
    ("title:(title:x)", W("x", "title"), "title:x"),
    # row 5: prefix
    ("judge*", W("judge", prefix=True), "judge*"),
    ("title:judge*", W("judge", "title", True), "title:judge*"),
    # folding: NFKC, case, accents; a word is a run of letters and digits
    ("Café", W("cafe"), "cafe"),
    ("cafe\u0301", W("cafe"), "cafe"),
    ("\ufb01ne", W("fine"), "fine"),  # the ligature fi
    ("\uff21\uff22\uff23", W("abc"), "abc"),  # full-width ABC
    # an acronym plural (two or more capitals, digits may follow the first, then "s") is the
    # acronym; other words keep their "s" (they meet their singular through the stem)
    ("LLMs,", W("llm"), "llm"),
    ("GPUs", W("gpu"), "gpu"),
    ("CNNs", W("cnn"), "cnn"),
    ("V2Xs", W("v2x"), "v2x"),
    ("llms", W("llms"), "llms"),
    ("LLMS", W("llms"), "llms"),
    ("As", W("as"), "as"),
    ("Is", W("is"), "is"),
    ("news", W("news"), "news"),
    ("LLMs*", W("llms", prefix=True), "llms*"),
    ("author:LLMs", W("llms", "author"), "author:llms"),
    ("source:GPUs", Value("gpus", "source"), "source:gpus"),
    # hyphenated and dotted words keep their separators; other punctuation becomes "."
    ("fine-tuning", W("fine-tuning"), "fine-tuning"),
    ("GPT\u20103.5", W("gpt-3.5"), "gpt-3.5"),
    ("R&D", W("r.d"), "r.d"),
]


@pytest.mark.parametrize(("text", "tree", "printed"), PARSES, ids=[p[0] for p in PARSES])
def test_parse_gives_the_tree_and_the_printed_form_parses_back(text, tree, printed):
    query = parse_query(text)
    assert query == tree
    assert str(query) == printed
    assert parse_query(printed) == tree


NOTHING = (
    "nothing to look for: every term is under NOT or '-', so the query would match nearly every"
    " paper; add a word the papers must have (e.g. diffusion NOT survey)"
)
STAR = (
    "'*' inside a phrase: a phrase matches whole words; put the prefix outside the quotes"
    ' (e.g. "large language" model*)'
)
DEEP = (
    "nested too deeply: at most 50 parentheses and NOTs inside each other (write the query flatter)"
)

# (query, column, what the user reads after "column N: ")
ERRORS = [
    ("", 1, "expected a word, a phrase or '(' (the query is empty)"),
    ("   ", 1, "expected a word, a phrase or '(' (the query is empty)"),
    ("x AND", 6, "expected a word, a phrase or '(' after AND"),
    ("x OR", 5, "expected a word, a phrase or '(' after OR"),
    ("x NOT", 6, "expected a word, a phrase or '(' after NOT"),
    ("AND x", 1, "expected a word, a phrase or '(' before AND"),
    ("OR x", 1, "expected a word, a phrase or '(' before OR"),
    ("x OR OR y", 6, "expected a word, a phrase or '(' after OR"),
    ("x AND OR y", 7, "expected a word, a phrase or '(' after AND"),
    ("(x", 3, "expected ')' to close the '(' at column 1"),
    ("a (b OR (c)", 12, "expected ')' to close the '(' at column 3"),
    ("x)", 2, "unmatched ')': expected a '(' before it"),
    ("()", 2, "expected a word, a phrase or '(' after '('"),
    ('"abc', 1, "unclosed quote: expected a '\"' to end the phrase"),
    ('x "a" "b', 7, "unclosed quote: expected a '\"' to end the phrase"),
    ('""', 1, "empty phrase: expected letters or digits between the quotes"),
    ('category:""', 10, "empty phrase: expected text between the quotes"),
    (
        "titel:x",
        1,
        "unknown field 'titel:' (did you mean 'title:'?); "
        "expected one of title:, abstract:, author:, category:, source: or the text in quotes",
    ),
    (
        "x year:2024",
        3,
        "unknown field 'year:'; "
        "expected one of title:, abstract:, author:, category:, source: or the text in quotes",
    ),
    ("title: x", 8, "expected a word, a phrase or '(' right after title:"),
    ("title:", 7, "expected a word, a phrase or '(' right after title:"),
    ("title:-x", 7, "expected a word, a phrase or '(' right after title: (write -title:…)"),
    ("title:(author:x)", 8, "'author:' inside 'title:( … )': use one field per group"),
    ("a - b", 4, "expected a word, a phrase or '(' right after '-' (no space)"),
    ("a -", 4, "expected a word, a phrase or '(' after '-'"),
    # SPEC section 5 (v2): lower-case operators, no positive term, '*' in a phrase, nesting
    (
        "foo and bar",
        5,
        "operators are upper case: did you mean AND? (to search for the word, "
        'write it in quotes: "and")',
    ),
    (
        "foo or bar",
        5,
        "operators are upper case: did you mean OR? (to search for the word, "
        'write it in quotes: "or")',
    ),
    (
        "llm not survey",
        5,
        "operators are upper case: did you mean NOT? (to search for the word, "
        'write it in quotes: "not")',
    ),
    (
        "not survey",
        1,
        "operators are upper case: did you mean NOT? (to search for the word, "
        'write it in quotes: "not")',
    ),
    (
        "a (b Or c)",
        6,
        "operators are upper case: did you mean OR? (to search for the word, "
        'write it in quotes: "Or")',
    ),
    ("NOT survey", 1, NOTHING),
    ("-survey", 1, NOTHING),
    ("NOT a OR -b", 1, NOTHING),
    ("NOT (a OR b) -c", 1, NOTHING),
    ("-category:cs.CL", 1, NOTHING),
    ('"large language model*"', 22, STAR),
    ('title:"judge* models"', 13, STAR),
    ("(" * 60 + "x" + ")" * 60, 51, DEEP),
    ("NOT " * 400 + "x", 201, DEEP),
    ("-(" * 30 + "x" + ")" * 30, 51, DEEP),
    ("--a", 2, "expected a word, a phrase or '(' right after '-' (no space)"),
    ("ju*dge", 3, "'*' can only end a word (a prefix, as in judge*)"),
    ("*", 1, "expected letters or digits before '*'"),
    ("category:*", 10, "expected a category name before '*'"),
    ("&", 1, "expected letters or digits in '&'"),
]


@pytest.mark.parametrize(("text", "column", "expected"), ERRORS, ids=[e[0] for e in ERRORS])
def test_a_bad_query_is_an_error_naming_the_query_the_column_and_what_was_expected(
    text, column, expected
):
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    assert (caught.value.query, caught.value.column, caught.value.expected) == (
        text,
        column,
        expected,
    )
    assert str(caught.value) == f"query {text!r}, column {column}: {expected}"


def test_the_issue_example_error_reads_word_for_word():
    with pytest.raises(QueryError) as caught:
        parse_query("x AND")
    assert str(caught.value) == (
        "query 'x AND', column 6: expected a word, a phrase or '(' after AND"
    )


def test_explain_tells_the_structure_keys_fields_and_phrases():
    assert explain('"language model" AND (cascade OR judges) -title:fine-tuning') == "\n".join(
        [
            'query:   "language model" AND (cascade OR judges) -title:fine-tuning',
            'read as: "language model" AND (cascade OR judges) AND NOT title:fine-tuning',
            "matches a paper when:",
            "  ALL of these 3 hold:",
            '    the phrase "language model" in the title or abstract'
            " (these words in this order, each word by its key: languag model)",
            "    ANY of these 2 hold:",
            '      the word "cascade" in the title or abstract (key cascad);'
            " other English forms with the same key match too",
            '      the word "judges" in the title or abstract (key judg);'
            " other English forms with the same key match too",
            "    NOT (this must be absent):",
            '      the word "fine-tuning" in the title, written "fine tuning" (key fine, tune)'
            ' or "finetuning" (key finetun); other English forms with the same key match too',
        ]
    )


def test_explain_names_prefixes_authors_and_names():
    assert explain("judg* author:Smith category:cs.* source:hf-daily").splitlines()[3:] == [
        "  ALL of these 4 hold:",
        '    a word starting with "judg" in the title or abstract',
        '    the word "smith" in an author\'s name, exact, no stemming',
        '    a category starting with "cs." (case-insensitive)',
        '    the source "hf-daily" (whole name, case-insensitive)',
    ]


def test_explain_raises_like_parse_query():
    with pytest.raises(QueryError, match=r"column 6: expected a word, a phrase or '\(' after AND"):
        explain("x AND")


# (query, the spellings `bot explain` must list, spellings of the same words it must not)
SPELLED = [
    ("fine-tuning", ["fine tuning", "finetuning"], ["tuning fine", "fine", "fine tun ing"]),
    (
        "state-of-the-art",
        ["state of the art", "stateoftheart"],
        ["stateof the art", "state ofthe art", "state art"],
    ),
    ("gpt-3.5", ["gpt 3 5", "gpt3 5"], ["gpt35", "gpt 35", "gpt"]),
    ("title:multi-modal*", ["multi modal*", "multimodal*"], ["multi", "modal multi"]),
]


@pytest.mark.parametrize(("query", "listed", "others"), SPELLED)
def test_explain_lists_exactly_the_spellings_the_matcher_matches(query, listed, others):
    line = explain(query).splitlines()[-1]
    shown = re.findall(r'"([^"]+)"', line.split(", written ", 1)[1])
    assert shown == listed
    titles = [form.rstrip("*") for form in shown + others]
    batch = [Paper(title=title, id=f"t{i}") for i, title in enumerate(titles)]
    found = Matcher({"me": [query]}).match(batch)
    assert [paper.title for paper in batch if paper.id in found] == titles[: len(listed)]
    assert [paper.title for paper in batch if matches(query, paper)] == titles[: len(listed)]


def test_explain_lists_a_phrase_joined_as_the_matcher_matches_it():
    phrase = '"self-supervised pre-training"'
    assert explain(phrase).endswith('; also written "selfsupervised pretraining")')
    titles = ["self supervised pre training", "selfsupervised pretraining"]
    mixed = ["selfsupervised pre training", "self supervised pretraining"]
    for title in titles:
        assert matches(phrase, Paper(title=title))
    for title in mixed:  # each spelling is one whole alternative, not a mix
        assert not matches(phrase, Paper(title=title))


def test_queries_are_immutable_values():
    query = parse_query("a b")
    with pytest.raises(AttributeError):
        query.children = ()  # type: ignore[misc]
    assert hash(query) == hash(parse_query("a AND b"))
    assert isinstance(query, Query)


# --- properties -------------------------------------------------------------------------------

VOCAB = ["judge", "Judges", "LLMs", "fine-tuning", "café", "gpt-3.5", "model", "x1", "or"]
FIELDS = ["title:", "abstract:", "author:"]


@st.composite
def query_texts(draw, depth: int = 0) -> str:
    """Random query text from the grammar, with random spacing and upper/lower operators."""
    nested = ["and", "or", "not", "group"] if depth < 3 else []
    kind = draw(st.sampled_from(["word", "phrase", "value", *nested]))
    if kind == "word":
        field = draw(st.sampled_from([""] + FIELDS))
        return field + draw(st.sampled_from(VOCAB)) + draw(st.sampled_from(["", "*"]))
    if kind == "phrase":
        words = draw(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3))
        return draw(st.sampled_from([""] + FIELDS)) + '"' + " ".join(words) + '"'
    if kind == "value":
        field = draw(st.sampled_from(["category:", "source:"]))
        return field + draw(st.sampled_from(["cs.CL", "cs.*", "hf-daily", '"Computation X"']))
    if kind == "not":
        return draw(st.sampled_from(["NOT ", "-"])) + "(" + draw(query_texts(depth + 1)) + ")"
    if kind == "group":
        return draw(st.sampled_from(["", "title:"])) + "(" + draw(query_texts(depth + 1)) + ")"
    parts = draw(st.lists(query_texts(depth + 1), min_size=2, max_size=3))
    joiner = {"and": draw(st.sampled_from([" ", " AND ", "  "])), "or": " OR "}[kind]
    return joiner.join(parts)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(query_texts())
def test_parsing_the_printed_form_gives_the_same_query(text):
    try:
        query = parse_query(text)
    except QueryError as error:  # only these, which the random text can hold, may be refused
        expected = error.expected
        assert (
            "use one field per group" in expected
            or expected.startswith("nothing to look for")
            or (expected.startswith("operators are upper case") and "or" in text)
        ), error
        return
    assert parse_query(str(query)) == query
    assert str(parse_query(str(query))) == str(query)


LEAVES = st.one_of(
    st.builds(
        Word,
        st.sampled_from(["judge", "fine-tuning", "gpt-3.5", "and", "x1"]),
        st.sampled_from([None, "title", "abstract", "author"]),
        st.booleans(),
    ).filter(lambda w: w.text != "and" or w.field or w.prefix),  # a bare `and` is refused
    st.builds(
        Phrase,
        st.lists(st.sampled_from(["a", "fine-tuning", "model"]), min_size=1, max_size=3).map(tuple),
        st.sampled_from([None, "title", "author"]),
    ),
    st.builds(
        Value,
        st.sampled_from(["cs.cl", "cs.", "hf-daily", "two words", "-x", "a*b", "x)"]),
        st.sampled_from(["category", "source"]),
    ),
)


def _trees(children):
    pairs = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(st.builds(Not, children), st.builds(And, pairs), st.builds(Or, pairs))


def _positive(tree, positive=True) -> bool:
    if isinstance(tree, Not):
        return _positive(tree.child, not positive)
    if isinstance(tree, (And, Or)):
        return any(_positive(c, positive) for c in tree.children)
    return positive


@settings(max_examples=300, deadline=None)
@given(st.recursive(LEAVES, _trees, max_leaves=8).filter(_positive))
def test_any_tree_prints_to_text_that_parses_back_to_it(tree):
    assert parse_query(str(tree)) == tree
