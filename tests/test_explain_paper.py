"""`bot explain --paper ID [EMAIL]` and `bot preview` on the new layout, through the real CLI."""

from __future__ import annotations

from pathlib import Path

from support import run_bot

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>t</title><link>https://example.org/</link><description>d
</description>
<item><title>A survey of model evaluation</title><link>https://example.org/survey</link>
<description>We review how models are evaluated. One section covers a cascade of checks.
</description><pubDate>Tue, 03 Mar 2026 10:00:00 GMT</pubDate></item>
<item><title>Cascade deferral for language models</title><link>https://example.org/cascade</link>
<description>A cascade defers hard inputs. The cascade is cheap.</description>
<pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate></item>
<item><title>Unrelated work</title><link>https://example.org/other</link>
<description>Nothing of interest here.</description>
<pubDate>Wed, 04 Mar 2026 10:00:00 GMT</pubDate></item>
</channel></rss>
"""


def _setup(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text(FEED, encoding="utf-8")
    (tmp_path / "settings.toml").write_text(
        '[bot]\ndatabase = "sqlite:///bot.db"\n\n'
        '[mail]\ntransport = "maildir"\nmaildir = "outbox"\n\n'
        '[[sources]]\nname = "feed"\ntype = "feed"\nurl = "file:feed.xml"\n\n'
        '[[subscribers]]\nemail = "ann@example.org"\nname = "Ann"\n'
        "keywords = ['cascade', 'title:survey']\n\n"
        '[[subscribers]]\nemail = "bob@example.org"\nkeywords = ["judge"]\n',
        encoding="utf-8",
    )
    done = run_bot("fetch", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_explain_paper_shows_each_query_the_hits_and_the_score(tmp_path: Path):
    _setup(tmp_path)
    paper = "title:cascade deferral for language models"
    found = run_bot("search", "cascade", "--json", cwd=tmp_path)
    assert f'"id": "{paper}"' in found.stdout, found.stdout
    shown = run_bot("explain", "--paper", paper, "ann@example.org", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"paper:   {paper}"
    assert lines[1] == "title:   Cascade deferral for language models"
    # Read from the feed: "cascade" once in the title, twice in the abstract; it is in 2 of
    # the 3 stored papers; the paper has no "survey" in its title.
    ann = lines[lines.index("") + 1 :]
    assert ann[0].startswith("ann@example.org (Ann): 1 of 2 queries match, score ")
    assert ann[1].startswith("  matches   cascade   (")
    assert ann[2].startswith("            cascade: title 1, abstract 2; in 2 of 3 papers, idf ")
    assert ann[3] == "  no match  title:survey"
    assert "bob@example.org" not in shown.stdout  # EMAIL given: only that subscriber
    # Without EMAIL: every subscriber.
    everyone = run_bot("explain", "--paper", paper, cwd=tmp_path)
    assert "bob@example.org: 0 of 1 queries match (not in their emails)" in everyone.stdout
    assert "  no match  judge" in everyone.stdout


def test_explain_paper_refuses_an_unknown_paper_or_email_in_one_line(tmp_path: Path):
    _setup(tmp_path)
    unknown = run_bot("explain", "--paper", "arxiv:9999.99999", cwd=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr == (
        "error: no paper 'arxiv:9999.99999' in the ledger (ids as `bot search QUERY --json`"
        " shows them, e.g. arxiv:2405.00001)\n"
    )
    nobody = run_bot(
        "explain", "--paper", "title:cascade deferral for language models", "zed@", cwd=tmp_path
    )
    assert nobody.returncode == 2
    assert nobody.stderr.count("\n") == 1 and "no subscriber 'zed@'" in nobody.stderr
    assert "Traceback" not in unknown.stderr + nobody.stderr


def test_preview_shows_contents_then_cards_best_first(tmp_path: Path):
    _setup(tmp_path)
    preview = run_bot("preview", "ann@example.org", cwd=tmp_path)
    assert preview.returncode == 0, preview.stderr
    text = preview.stdout
    # Best first, read from the feed: the survey matches both of Ann's queries (title:survey,
    # and "cascade" in its abstract), with the rarer word ("survey": 1 of 3 papers) in its
    # title; the cascade paper matches one query. The contents group each under its best query.
    contents, cards = text.split("-" * 78 + "\n")
    assert contents.endswith(
        "2 new papers match your keywords, best first.\n\n"
        "survey\n"
        "  1. A survey of model evaluation\n\n"
        "cascade\n"
        "  2. Cascade deferral for language models\n\n"
    )
    assert cards.index("1. A *survey* of model") < cards.index("2. *Cascade* deferral")
    assert max(len(line) for line in text.splitlines()) <= 78
