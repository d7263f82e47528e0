"""Snippets of abstracts (bot.mail.snippet, and the cards the renderer makes of them).

Expected snippets are written out by hand from the abstracts below.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.mail.render import Digest, DigestItem, Renderer
from bot.mail.snippet import snippet
from bot.models import Paper, Subscriber

FILLER = "This sentence only fills the abstract with words nobody searched for. "


def _mark(text: str, *words: str) -> list[tuple[int, int]]:
    spans = []
    for word in words:
        start = text.index(word)
        spans.append((start, start + len(word)))
    return spans


def _marked(text: str, marks) -> list[str]:
    return [text[a:b] for a, b in marks]


def test_short_abstract_is_shown_whole_with_its_marks():
    text = "We study cascades. Deferral helps."
    shown, marks = snippet(text, _mark(text, "cascades"))
    assert shown == text
    assert _marked(shown, marks) == ["cascades"]


def test_the_sentences_holding_the_marks_with_ellipses_where_text_is_left_out():
    text = (
        FILLER * 3
        + "Cascades defer hard inputs to a large model. "
        + FILLER * 4
        + "A learned deferral rule beats the confidence baseline. "
        + FILLER * 3
    )
    shown, marks = snippet(text, _mark(text, "Cascades", "deferral"))
    assert shown == (
        "… Cascades defer hard inputs to a large model. … "
        "A learned deferral rule beats the confidence baseline. …"
    )
    assert _marked(shown, marks) == ["Cascades", "deferral"]


def test_sentences_are_whole_and_end_where_the_sentence_ends():
    text = (
        "e.g. the first one. "
        + FILLER * 8
        + "Version 1.2 of the cascade works (see Fig. 3). "
        + FILLER * 2
    )
    shown, marks = snippet(text, _mark(text, "cascade"))
    # "e.g. the" and "1.2 of" and "Fig. 3" do not end a sentence: the kept one is whole.
    assert shown == "… Version 1.2 of the cascade works (see Fig. 3). …"
    assert _marked(shown, marks) == ["cascade"]


def test_a_snippet_of_about_400_characters_at_most_a_little_more():
    marked_sentence = "Our cascade is cheap. "
    text = (marked_sentence + FILLER) * 30
    spans = []
    at = 0
    while (at := text.find("cascade", at)) >= 0:
        spans.append((at, at + 7))
        at += 7
    shown, marks = snippet(text, spans)
    # Each marked sentence is 21 characters: as many as fit in 400 with the " … " between them.
    assert shown == "Our cascade is cheap." + " … Our cascade is cheap." * 15 + " …"
    assert len(shown) == 21 + 24 * 15 + 2  # one more sentence would pass 400
    assert len(marks) == shown.count("cascade")


def test_a_long_sentence_is_cut_between_words_never_inside_a_url_or_a_word():
    url = "https://github.com/example/very-long-repository-name/blob/main/src/cascade_rules.py"
    words = " ".join(f"word{i}" for i in range(60))
    text = f"{words} the cascade code is at {url} and {words} {words} end."
    shown, marks = snippet(text, _mark(text, "cascade"))
    assert url in shown  # whole
    assert _marked(shown, marks) == ["cascade"]
    assert shown.startswith("… ") and shown.endswith(" …")
    # Every piece between the ellipses is made of whole words of the text.
    inner = shown[2:-2]
    assert inner in text
    start = text.index(inner)
    assert text[start - 1] == " " and text[start + len(inner)] == " "
    assert len(shown) <= 400 + len(url)


def test_a_url_longer_than_the_snippet_is_kept_whole():
    url = "https://example.org/" + "a" * 500
    text = FILLER * 3 + f"Code at {url} for the cascade. " + FILLER * 3
    shown, marks = snippet(text, _mark(text, "cascade"))
    assert url in shown
    assert _marked(shown, marks) == ["cascade"]


def test_non_ascii_and_latex_come_through_as_written():
    latex = r"$\mathcal{O}(n^{2})$"
    sentence = f"Über große Sprachmodelle — 大型语言模型 — naïve cascades run in {latex} time. "
    text = FILLER * 4 + sentence + FILLER * 4
    shown, marks = snippet(text, _mark(text, "cascades"))
    assert shown == f"… {sentence.strip()} …"
    assert _marked(shown, marks) == ["cascades"]


def test_no_marked_sentence_gives_the_first_sentences():
    text = "First sentence here. Second one. " + FILLER * 10
    shown, marks = snippet(text, [])
    assert shown.startswith("First sentence here. Second one. This sentence")
    assert shown.endswith(" …") and marks == ()
    assert len(shown) <= 402


ALICE = Subscriber("alice@example.org", "Alice", ("cascade",))
NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def test_cards_show_the_snippet_with_highlights_and_full_restores_the_abstract():
    abstract = (
        FILLER * 4 + "Our cascade defers to https://example.org/x.y when unsure. " + FILLER * 4
    )
    paper = Paper(
        id="s", title="Study", url="https://example.org/s", abstract=abstract, sources=("f",)
    )
    item = DigestItem(paper, ("cascade",), (), tuple(_mark(abstract, "cascade")))
    renderer = Renderer()
    text, html = renderer.render(Digest(ALICE, (item,), 0, NOW, None))
    assert (
        '<p class="abstract">… Our <mark>cascade</mark> defers to '
        '<a href="https://example.org/x.y">https://example.org/x.y</a> when unsure. …</p>'
    ) in html
    assert "    … Our *cascade* defers to https://example.org/x.y when unsure. …\n" in text
    text, html = renderer.render(Digest(ALICE, (item,), 0, NOW, None, full_abstracts=True))
    assert "…" not in text and html.count("This sentence only fills") == 8


def _settings_file(tmp_path, bot_line: str, subscriber_line: str):
    path = tmp_path / "settings.toml"
    path.write_text(
        f'[bot]\n{bot_line}\n[[sources]]\nname = "f"\ntype = "feed"\nurl = "https://e.org/f"\n'
        f'[[subscribers]]\nemail = "a@example.org"\nkeywords = ["x"]\n{subscriber_line}\n',
        encoding="utf-8",
    )
    return path


def test_the_abstract_setting_is_read_per_bot_and_subscriber_and_checked(tmp_path):
    from bot.errors import ConfigError
    from bot.settings.load import load_settings

    settings = load_settings(_settings_file(tmp_path, "", ""))
    assert settings.abstract == "snippet" and settings.subscribers[0].abstract is None
    settings = load_settings(_settings_file(tmp_path, 'abstract = "full"', 'abstract = "snippet"'))
    assert settings.abstract == "full" and settings.subscribers[0].abstract == "snippet"
    try:
        load_settings(_settings_file(tmp_path, 'abstract = "ful"', "abstract = 1"))
    except ConfigError as error:
        assert error.problems == [
            f'{tmp_path / "settings.toml"}: bot.abstract: "ful" is not a known abstract setting'
            ' (did you mean "full"? use one of: "snippet", "full")',
            f"{tmp_path / 'settings.toml'}: subscribers[0].abstract: expected a string, got the"
            ' integer 1 (write abstract = "snippet")',
        ]
    else:
        raise AssertionError("a bad abstract setting was accepted")
