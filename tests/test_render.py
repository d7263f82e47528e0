"""bot.mail.render: what a subscriber reads, in both parts; paper text cannot break out of it."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import ConfigError
from bot.links import paper_link
from bot.mail.render import Digest, DigestItem, Renderer, bundled_templates, subject
from bot.models import Paper, Subscriber

NOW = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
KEYWORDS = ('"language model" AND (cascade OR deferral)', "title:judge*", "sparse -medical")
ALICE = Subscriber(email="alice@example.org", name="Alice", keywords=KEYWORDS)

CASCADES = Paper(
    id="arxiv:2405.00001",
    title="Language Model Cascades with\n  Learned Deferral",
    url="https://arxiv.org/abs/2405.00001",
    abstract="We study when a small language model should defer to a large one.",
    authors=("Ada Lovelace", "Alan Turing"),
    sources=("arxiv-cs-cl", "hf-daily"),
    published=datetime(2024, 5, 1, tzinfo=UTC),
    arxiv_id="2405.00001",
)
JUDGES = Paper(
    id="doi:10.1000/judge",
    title="Judges All the Way Down",
    url="https://example.org/judges",
    abstract="LLM judges judge judges.",
    authors=("Grace Hopper",),
    sources=("hf-daily",),
    published=datetime(2024, 4, 30, tzinfo=UTC),
)


def item(paper: Paper, *queries: str, title=(), abstract=()) -> DigestItem:
    return DigestItem(paper, tuple(queries), tuple(title), tuple(abstract))


def digest(
    *items: DigestItem, more=0, unsubscribe="https://digest.example.org/u/tok", full=False
) -> Digest:
    return Digest(ALICE, tuple(items), more, NOW, unsubscribe, full_abstracts=full)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


class Tags(HTMLParser):
    """Every start tag with its attributes, to check what the HTML can do."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def hrefs(self) -> list[str]:
        return [a["href"] or "" for t, a in self.tags if t == "a"]


def test_bundled_templates_are_found_from_a_source_checkout():
    folder = bundled_templates()
    assert (folder / "digest.txt.j2").is_file()
    assert (folder / "digest.html.j2").is_file()


def test_text_part_lists_each_paper_with_its_details(renderer):
    text, _ = renderer.render(
        digest(
            item(CASCADES, KEYWORDS[0], title=[(0, 14)], abstract=[(22, 36)]),
            item(JUDGES, KEYWORDS[1], title=[(0, 6)]),
            more=3,
        )
    )
    assert text == (
        "Hello Alice,\n"
        "\n"
        "2 new papers match your keywords, best first.\n"
        "\n"
        "language model cascade or deferral\n"
        "  1. Language Model Cascades with Learned Deferral\n"
        "\n"
        "judge*\n"
        "  2. Judges All the Way Down\n"
        "\n"
        "------------------------------------------------------------------------------\n"
        "\n"
        "1. *Language Model* Cascades with Learned Deferral\n"
        "    https://arxiv.org/abs/2405.00001\n"
        "    Ada Lovelace, Alan Turing\n"
        "    arxiv-cs-cl, hf-daily · 2024-05-01\n"
        '    Matched: "language model" AND (cascade OR deferral)\n'
        "\n"
        "    We study when a small *language model* should defer to a large one.\n"
        "\n"
        "2. *Judges* All the Way Down\n"
        "    https://example.org/judges\n"
        "    Grace Hopper\n"
        "    hf-daily · 2024-04-30\n"
        "    Matched: title:judge*\n"
        "\n"
        "    LLM judges judge judges.\n"
        "\n"
        "3 more papers will come in the next email.\n"
        "\n"
        "-- \n"
        "This digest is sent to alice@example.org by a paper digest bot.\n"
        "Unsubscribe: https://digest.example.org/u/tok\n"
    )


def test_html_part_links_titles_marks_matches_and_inlines_css(renderer):
    _, html = renderer.render(
        digest(item(CASCADES, KEYWORDS[0], "title:judge*", title=[(0, 14)]), more=1)
    )
    tags = Tags(html)
    assert tags.hrefs() == [
        "https://arxiv.org/abs/2405.00001",
        "https://digest.example.org/u/tok",
    ]
    assert ">Language Model</mark> Cascades with Learned Deferral</a>" in html
    marks = [attrs for tag, attrs in tags.tags if tag == "mark"]
    # <mark> is styled by the <style> block (not inlined: it repeats on every match).
    assert len(marks) == 1 and "style" not in marks[0]
    assert "mark { background: #fff1a8;" in html
    assert "Ada Lovelace, Alan Turing" in html
    assert "arxiv-cs-cl, hf-daily · 2024-05-01" in html
    assert "We study when a small language model should defer to a large one." in html
    # css_inline serialises quotes in text as plain characters (still inert in text)
    assert '"language model" AND (cascade OR deferral)</code>' in html
    assert "title:judge*</code>" in html
    assert "1 more paper will come in the next email." in html
    # Inlined into style="" attributes, except the @media rules (dark mode) which cannot be.
    assert '<div class="wrap" style="max-width: 680px;' in html
    assert '<div class="paper" id="paper-1">' in html  # long words wrap: inherited from .wrap
    assert "overflow-wrap: anywhere;" in html.split('class="wrap"')[1].split(">")[0]
    assert html.count("<style") == 1 and "@media (prefers-color-scheme: dark)" in html
    assert "body { margin: 0" not in html  # rules outside @media are inlined, not kept
    assert "<title>1 new paper: language model cascade or deferral, judge*</title>" in html


HOSTILE = Paper(
    id="hostile",
    title='<script>alert(1)</script> "Quoted" <img src=x onerror=alert(2)> {{ 7*7 }} {% if 1 %}',
    url="javascript:alert(document.cookie)",
    abstract="</p><a href='javascript:alert(3)' onclick=x>click</a>\r\nBcc: victim@example.com",
    authors=("Mallory <mallory@example.com>", "Eve\u202eevil"),
    sources=("feed",),
)


def test_hostile_paper_text_is_escaped_and_unlinked(renderer):
    text, html = renderer.render(digest(item(HOSTILE, "alert"), unsubscribe=None))
    tags = Tags(html)
    assert not [t for t, _ in tags.tags if t in ("script", "img")]
    assert not [name for _, attrs in tags.tags for name in attrs if name.startswith("on")]
    # javascript: title link dropped, no unsubscribe link given: the title links to a title
    # search, labelled as one
    assert [h.split("?")[0] for h in tags.hrefs()] == ["https://arxiv.org/search/"]
    assert " · title links to an arXiv search</p>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }} {% if 1 %}" in html and "49" not in html
    assert "Mallory &lt;mallory@example.com&gt;, Eveevil" in html
    # The text part shows the text as it is, on one line per field.
    assert (
        '1. <script>alert(1)</script> "Quoted" <img src=x onerror=alert(2)> {{ 7*7 }}\n'
        "    {% if 1 %}\n"
    ) in text
    assert "javascript" not in text.split("Matched")[0]
    assert "\r" not in text and "\nBcc:" not in text


SEARCH_T = "https://arxiv.org/search/?query=A+b%26c&searchtype=title"


@pytest.mark.parametrize(
    ("url", "arxiv_id", "doi", "link"),
    [
        (
            "https://huggingface.co/papers/2405.00001",
            "2405.00001",
            None,
            "https://arxiv.org/abs/2405.00001",
        ),
        ("https://huggingface.co/papers/x1", None, None, "https://huggingface.co/papers/x1"),
        ("javascript:alert(1)", "2405.00001", None, "https://arxiv.org/abs/2405.00001"),
        ("data:text/html,<b>x</b>", None, "10.1000/Ab(1)", "https://doi.org/10.1000/Ab(1)"),
        (" HTTP://example.org/a b ", None, None, "http://example.org/ab"),
        ("https://u:pw@example.org/p?id=3", None, None, "https://example.org/p?id=3"),
        ("https://example.org/p?id=3&api_key=s3", None, None, "https://example.org/p?id=3"),
        ("https://ex.org/p?author=Li&X-Amz-Signature=s", None, None, "https://ex.org/p?author=Li"),
        ("http:///no-host", None, None, SEARCH_T),
        ("ftp://example.org/x", None, None, SEARCH_T),
        ("", None, None, SEARCH_T),
    ],
)
def test_paper_link_is_own_link_else_a_labelled_title_search(url, arxiv_id, doi, link):
    paper = Paper(title="A  b&c", url=url, arxiv_id=arxiv_id, doi=doi)
    shown = paper_link(paper)
    assert (shown.url, shown.search) == (link, link == SEARCH_T)


def test_a_source_url_is_never_a_papers_link_nor_its_token_or_password():
    source = "https://user:pw@example.org/list/?token=TOK123&day=1"
    for url in ("https://example.org/list", "https://example.org/list/?token=TOK123&day=1"):
        assert paper_link(Paper(title="T", url=url), [source]).search
    shown = paper_link(Paper(title="T", url="https://example.org/p/9?ref=TOK123&id=9"), [source])
    assert shown.url == "https://example.org/p/9?ref=TOK123&id=9"  # too short to be a token
    source = "https://user:pw@example.org/list/?token=TOK12345&day=1"
    shown = paper_link(Paper(title="T", url="https://example.org/p/9?ref=TOK12345&id=9"), [source])
    assert shown.url == "https://example.org/p/9?id=9"
    wordpress = "https://blog.example.org/index.php?feed=rss2"
    shown = paper_link(Paper(title="T", url="https://blog.example.org/index.php?p=7"), [wordpress])
    assert (shown.url, shown.search) == ("https://blog.example.org/index.php?p=7", False)


def test_non_ascii_and_very_long_words_wrap_in_the_text_part(renderer):
    word = "Supercalifragilistic" * 20
    paper = Paper(
        id="long",
        title="Über große Sprachmodelle — 大型语言模型",
        abstract=f"Intro {word} and Ünïcödé words. " * 3,
        sources=("feed",),
    )
    text, html = renderer.render(digest(item(paper, "sprachmodelle", title=[(5, 10)]), full=True))
    assert "1. Über *große* Sprachmodelle — 大型语言模型\n" in text
    # Every line but a link alone (cutting it would break it) fits.
    assert max(len(line) for line in text.splitlines() if not line.startswith("    https:")) <= 78
    assert "".join(text.split()).count(word) == 3
    assert "Über <mark" in html and ">große</mark> Sprachmodelle — 大型语言模型" in html


def test_marks_are_clipped_merged_and_keep_spaces_outside(renderer):
    paper = Paper(id="m", title="alpha beta gamma", abstract="one two", sources=("s",))
    _, html = renderer.render(
        digest(item(paper, "q", title=[(4, 11), (0, 7), (14, 99)], abstract=[(-5, 4), (3, 3)]))
    )
    assert ">alpha beta</mark> gam<mark" in html
    assert ">ma</mark></a></h2>" in html
    assert ">one</mark> two</p>" in html


def test_override_folder_wins_and_the_rest_stays_bundled(tmp_path: Path):
    (tmp_path / "digest.txt.j2").write_text("{{ count }} for {{ name }}: {{ items[0].title }}\n")
    text, html = Renderer(tmp_path).render(digest(item(JUDGES, "title:judge*")))
    assert text == "1 for Alice: Judges All the Way Down\n"
    assert "Judges All the Way Down</a>" in html


def test_override_with_a_syntax_error_is_one_clear_line(tmp_path: Path):
    (tmp_path / "digest.html.j2").write_text("<p>\n{% for x in items %}\n")
    with pytest.raises(ConfigError) as caught:
        Renderer(tmp_path)
    assert str(caught.value).startswith(f"template {tmp_path / 'digest.html.j2'}, line 2: ")
    assert "\n" not in str(caught.value)


def test_override_naming_an_unknown_variable_fails_loudly(tmp_path: Path):
    (tmp_path / "digest.txt.j2").write_text("{{ nosuchthing }}\n")
    with pytest.raises(ConfigError) as caught:
        Renderer(tmp_path).render(digest(item(JUDGES, "title:judge*")))
    assert str(caught.value) == f"template {tmp_path / 'digest.txt.j2'}: 'nosuchthing' is undefined"


def test_a_paper_is_prepared_once_for_many_subscribers():
    renderer = Renderer()
    for n in range(5):
        bob = Subscriber(email=f"bob{n}@example.org", keywords=("judge*",))
        renderer.render(Digest(bob, (item(JUDGES, "judge*"),), 0, NOW, None))
    info = renderer._prepare.cache_info()
    assert (info.misses, info.hits) == (1, 4)


@pytest.mark.parametrize(
    ("queries", "expected"),
    [
        (
            [[KEYWORDS[1]], [KEYWORDS[0], KEYWORDS[1]]],
            "2 new papers: language model cascade or deferral, judge*",
        ),
        ([[KEYWORDS[2]]], "1 new paper: sparse"),
        ([["title:judge*", "judge*"]], "1 new paper: judge*"),
        ([["removed since", "NOT (a OR b) c"]] * 3, "3 new papers: removed since, c"),
        ([['abstract:"x y"\r\nBcc: v@example.com']], "1 new paper: x y v@example.com"),
        ([["-only"]], "1 new paper"),
        (
            [["reinforcement learning from human feedback", "direct preference optimization"]],
            "1 new paper: reinforcement learning from human feedback, direct…",
        ),
    ],
    ids=["spec-order", "negation", "dedupe", "unknown-and-not-group", "crlf", "empty", "cut"],
)
def test_subject_names_count_and_topics(queries, expected):
    items = [item(Paper(title=f"p{n}"), *qs) for n, qs in enumerate(queries)]
    line = subject(items, ALICE)
    assert line == expected
    assert len(line) <= 70 and "\n" not in line and "\r" not in line


spans = st.lists(st.tuples(st.integers(-5, 120), st.integers(-5, 120)), max_size=4)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    title=st.text(max_size=120),
    abstract=st.text(max_size=300),
    url=st.one_of(st.text(max_size=40), st.sampled_from(["javascript:x", "https://ok.org/a"])),
    title_marks=spans,
    abstract_marks=spans,
)
def test_any_paper_renders_to_inert_html(
    renderer, title, abstract, url, title_marks, abstract_marks
):
    paper = Paper(id="x", title=title, abstract=abstract, url=url, authors=(title,), sources=("s",))
    text, html = renderer.render(
        digest(item(paper, title, title=title_marks, abstract=abstract_marks), unsubscribe=None)
    )
    tags = Tags(html)
    assert not [t for t, _ in tags.tags if t in ("script", "img", "iframe")]
    # The one <style> block is the template's own, in <head>, before any paper text.
    assert html.count("<style") == 1 and html.index("</style>") < html.index("<body")
    assert not [name for _, attrs in tags.tags for name in attrs if name.startswith("on")]
    assert all(href.lower().startswith(("http://", "https://")) for href in tags.hrefs())
    assert "\r" not in text


TITLE_ONLY = Paper(
    id="title:sparse-mixtures",
    title="Sparse Mixtures Without Links",
    abstract="Sparse mixtures of experts, listed without a link.",
    sources=("hf-papers-page",),
    published=datetime(2024, 5, 1, tzinfo=UTC),
)
SEARCH = "https://arxiv.org/search/?query=Sparse+Mixtures+Without+Links&searchtype=title"


def test_a_paper_without_a_link_has_its_title_link_to_a_labelled_search_once(renderer):
    text, html = renderer.render(digest(item(TITLE_ONLY, "sparse"), item(JUDGES, "sparse")))
    # HTML: the title is the link (one link to the search, not a second one in a label).
    assert Tags(html).hrefs().count(SEARCH) == 1
    assert f'1. <a href="{SEARCH.replace("&", "&amp;")}">Sparse Mixtures Without Links</a>' in html
    assert (
        '<p class="meta">hf-papers-page · 2024-05-01 · title links to an arXiv search</p>' in html
    )
    # Text: the label on the source line, the URL alone on the next one (never cut), once.
    assert (
        "1. Sparse Mixtures Without Links\n"
        "    hf-papers-page · 2024-05-01 · arXiv title search:\n"
        f"    {SEARCH}\n"
    ) in text
    assert text.count(SEARCH) == 1


def test_cards_that_all_matched_the_same_queries_say_so_once(renderer):
    same = digest(
        item(TITLE_ONLY, "sparse", "title:judge*"), item(JUDGES, "sparse", "title:judge*")
    )
    text, html = renderer.render(same)
    assert "\nEvery paper below matched: sparse; title:judge*\n" in text
    assert "Matched:" not in text and 'class="matched"' not in html
    assert "Every paper below matched: <code>sparse</code>, <code>title:judge*</code></p>" in html
    # Different queries on different cards: each card says its own.
    text, html = renderer.render(digest(item(TITLE_ONLY, "sparse"), item(JUDGES, "title:judge*")))
    assert "Every paper below" not in text + html
    assert text.count("\n    Matched: ") == 2 and html.count('<p class="matched">') == 2
