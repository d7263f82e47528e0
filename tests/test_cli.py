"""The real CLI in a subprocess: bad input gets one clear line and exit 2; demo and check work."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support import FIXTURES, bot_command, http_site, run_bot

GOOD_SOURCE = '[[sources]]\nname = "a"\ntype = "page"\nurl = "https://example.org/p"\n'
GOOD_PERSON = '[[subscribers]]\nemail = "a@example.org"\nkeywords = ["x"]\n'

BAD_SETTINGS = [
    pytest.param(
        None,
        "error: settings.toml: settings file not found (run 'bot init' to write a commented "
        "example there and edit it, or pass --config PATH or set BOT_CONFIG)",
        id="no-settings-file",
    ),
    pytest.param(
        "[bot]\nmax_items = = 3\n",
        "error: settings.toml:2:13: TOML syntax error: Invalid value "
        "(fix the file at line 2, column 13)",
        id="toml-syntax-error",
    ),
    pytest.param(
        GOOD_SOURCE + '[[subscribers]]\nemail = "a@example.org"\nkeywords = ["x"]\nkeyword = "y"\n',
        'error: settings.toml: subscribers[0].keyword: unknown key (did you mean "keywords"?)',
        id="unknown-key",
    ),
    pytest.param(
        GOOD_SOURCE + '[[subscribers]]\nemail = "a@example.org"\nkeywords = ["ok", "x AND"]\n',
        'error: settings.toml: subscribers[0].keywords[1]: bad query "x AND", column 6: '
        "expected a word, a phrase or '(' after AND "
        "(fix the query; bot explain QUERY shows how a query is read)",
        id="bad-query",
    ),
    pytest.param(
        '[mail]\ntransport = "smpt"\n' + GOOD_SOURCE + GOOD_PERSON,
        'error: settings.toml: mail.transport: "smpt" is not a known transport '
        '(did you mean "smtp"? use one of: "maildir", "smtp")',
        id="unknown-transport",
    ),
]


@pytest.mark.parametrize(("text", "line"), BAD_SETTINGS)
@pytest.mark.parametrize("command", ["once", "check"])
def test_bad_settings_are_one_line_and_exit_2(
    tmp_path: Path, text: str | None, line: str, command: str
):
    if text is not None:
        (tmp_path / "settings.toml").write_text(text, encoding="utf-8")
    result = run_bot(command, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""
    assert not (tmp_path / "bot.db").exists()


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path):
    (tmp_path / "settings.toml").write_text(
        '[mail]\ntransport = "smpt"\n'
        + GOOD_SOURCE
        + '[[subscribers]]\nemail = "not-an-address"\nkeywords = ["(open"]\n',
        encoding="utf-8",
    )
    result = run_bot("check", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 3, lines
    assert [line.split(": ")[2] for line in lines] == [
        "mail.transport",
        "subscribers[0].email",
        "subscribers[0].keywords[0]",
    ]


def test_a_bad_command_line_is_one_line_and_exit_2(tmp_path: Path):
    result = run_bot("search", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: bot search: the following arguments are required: QUERY (see 'bot search --help')"
    ]


def test_a_bad_query_on_the_command_line_names_its_column(tmp_path: Path):
    result = run_bot("explain", "title:(survey OR review", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: query 'title:(survey OR review', column ")


def test_demo_prints_the_email_the_local_server_received(tmp_path: Path):
    html = tmp_path / "demo.html"
    result = run_bot("demo", "--html", str(html), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "received 1 email\n" in result.stdout
    assert "Subject: " in result.stdout
    # the text part marks matched words as *word*
    assert "*Language Model* *Cascades*: Token-level uncertainty and beyond" in result.stdout
    assert "<mark" in html.read_text(encoding="utf-8")


def test_check_connect_names_a_source_that_fails(tmp_path: Path):
    page = (FIXTURES / "pages" / "000_14d685580f9831a7.txt").read_text(encoding="utf-8")
    with http_site() as site:
        good = site.put("/good", page)
        (tmp_path / "settings.toml").write_text(
            '[mail]\ntransport = "maildir"\n'
            f'[[sources]]\nname = "good"\ntype = "page"\nurl = "{good}"\n'
            f'[[sources]]\nname = "gone"\ntype = "page"\nurl = "{site.base}/gone"\n' + GOOD_PERSON,
            encoding="utf-8",
        )
        result = run_bot("check", "--connect", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: source 'gone': HTTP 404 Not Found from {site.base}/gone"
    ]
    assert result.stdout.startswith(f"{tmp_path / 'settings.toml'}: OK: 2 sources, 1 subscriber")


def test_search_json_lists_stored_papers_newest_first(tmp_path: Path):
    page = (FIXTURES / "pages" / "000_14d685580f9831a7.txt").read_text(encoding="utf-8")
    with http_site() as site:
        url = site.put("/p", page)
        (tmp_path / "settings.toml").write_text(
            f'[[sources]]\nname = "hf"\ntype = "page"\nurl = "{url}"\n', encoding="utf-8"
        )
        fetched = run_bot("fetch", "--mark-seen", cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert "80 new papers recorded, no email queued (--mark-seen)" in fetched.stdout
    result = run_bot("search", "--json", 'title:"mixture of experts"', cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert [p["title"] for p in found] == ["A Survey on Mixture of Experts"]
    assert set(found[0]) >= {"id", "title", "url", "sources", "first_seen"}
    assert found[0]["sources"] == ["hf"]


def _fetched_page(tmp_path: Path, site, person: str = GOOD_PERSON) -> str:
    page = (FIXTURES / "pages" / "000_14d685580f9831a7.txt").read_text(encoding="utf-8")
    url = site.put("/p", page)
    (tmp_path / "settings.toml").write_text(
        f'[[sources]]\nname = "hf"\ntype = "page"\nurl = "{url}"\n' + person,
        encoding="utf-8",
    )
    return url


def test_a_query_may_start_with_a_minus_on_the_command_line(tmp_path: Path):
    with http_site() as site:
        _fetched_page(tmp_path, site)
        assert run_bot("fetch", "--mark-seen", cwd=tmp_path).returncode == 0
    explained = run_bot("explain", "-medical model", cwd=tmp_path)
    assert explained.returncode == 0, explained.stderr
    assert "read as: NOT medical AND model" in explained.stdout
    everything = json.loads(
        run_bot("search", "--json", "--limit", "500", "model", cwd=tmp_path).stdout
    )
    found = run_bot("search", "-survey model", "--json", "--limit", "500", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    titles = {p["title"] for p in json.loads(found.stdout)}
    assert titles and all("survey" not in t.lower() for t in titles)
    assert "A Survey on Mixture of Experts" in {p["title"] for p in everything} - titles
    added = run_bot("subscribers", "add", "b@example.org", "-k", "-medical model", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert 'keywords = ["-medical model"]' in (tmp_path / "settings.toml").read_text(
        encoding="utf-8"
    )


DEEP_PARENS = "(" * 250 + "x" + ")" * 250
DEEP_NOTS = "NOT " * 400 + "x"
NEW_QUERY_ERRORS = [
    (
        "foo and bar",
        "column 5: operators are upper case: did you mean AND? (to search for the word, write it"
        ' in quotes: "and")',
    ),
    (
        "NOT survey",
        "column 1: nothing to look for: every term is under NOT or '-', so the query would match"
        " nearly every paper; add a word the papers must have (e.g. diffusion NOT survey)",
    ),
    (
        "-survey",
        "column 1: nothing to look for: every term is under NOT or '-', so the query would match"
        " nearly every paper; add a word the papers must have (e.g. diffusion NOT survey)",
    ),
    (
        '"large language model*"',
        "column 22: '*' inside a phrase: a phrase matches whole words; put the prefix outside"
        ' the quotes (e.g. "large language" model*)',
    ),
    (
        DEEP_PARENS,
        "column 51: nested too deeply: at most 50 parentheses and NOTs inside each other"
        " (write the query flatter)",
    ),
    (
        DEEP_NOTS,
        "column 201: nested too deeply: at most 50 parentheses and NOTs inside each other"
        " (write the query flatter)",
    ),
]


@pytest.mark.parametrize(
    ("query", "says"), NEW_QUERY_ERRORS, ids=["and", "not", "minus", "star", "parens", "nots"]
)
def test_a_refused_query_is_one_line_and_exit_2_in_every_command(
    tmp_path: Path, query: str, says: str
):
    settings = GOOD_SOURCE + f"[[subscribers]]\nemail = \"a@example.org\"\nkeywords = ['{query}']\n"
    (tmp_path / "settings.toml").write_text(settings, encoding="utf-8")
    quoted = f"'{query}'" if '"' in query else f'"{query}"'
    in_settings = (
        f"error: settings.toml: subscribers[0].keywords[0]: bad query {quoted}, {says}"
        " (fix the query; bot explain QUERY shows how a query is read)"
    )
    on_command_line = f"error: query {query!r}, {says}"
    for command, line in [
        (["check"], in_settings),
        (["once"], in_settings),
        (["explain", query], on_command_line),
        (["search", query], on_command_line),
    ]:
        result = run_bot(*command, cwd=tmp_path)
        assert (result.returncode, result.stderr.splitlines()) == (2, [line]), command


def test_abbreviated_options_still_work_next_to_a_minus_query(tmp_path: Path):
    with http_site() as site:
        _fetched_page(tmp_path, site)
        assert run_bot("fetch", "--mark-seen", cwd=tmp_path).returncode == 0
    short = run_bot("search", "title:survey", "--lim", "1", "--js", cwd=tmp_path)
    assert short.returncode == 0, short.stderr
    assert len(json.loads(short.stdout)) == 1
    minus = run_bot("search", "--js", "-survey model", "--lim=2", cwd=tmp_path)
    assert minus.returncode == 0, minus.stderr
    assert len(json.loads(minus.stdout)) == 2


def test_search_limit_must_be_positive_and_says_how_many_it_left_out(tmp_path: Path):
    with http_site() as site:
        _fetched_page(tmp_path, site)
        assert run_bot("fetch", "--mark-seen", cwd=tmp_path).returncode == 0
    refused = run_bot("search", "survey", "--limit", "-1", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "error: bot search: argument --limit: not a whole number from 1 up, nor 'all': '-1' "
        "(see 'bot search --help')"
    ]
    two = run_bot("search", "title:survey", "--limit", "2", cwd=tmp_path)
    last = two.stdout.splitlines()[-1]
    assert last.endswith("papers match; the newest 2 shown (--limit)"), two.stdout
    one = run_bot("search", 'title:"mixture of experts"', cwd=tmp_path)
    assert one.stdout.splitlines()[-1] == "1 paper matches"


def test_status_lists_configured_sources_and_subscribers_before_any_poll(tmp_path: Path):
    (tmp_path / "settings.toml").write_text(GOOD_SOURCE + GOOD_PERSON, encoding="utf-8")
    result = run_bot("status", cwd=tmp_path, env={"BOT_NOW": "2026-03-04T09:30:00+00:00"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "papers seen: 0",
        "source a: never polled; next poll 2026-03-04 09:30 UTC (now)",
        "subscriber a@example.org: 0 pending, 0 sent, 0 failed, 0 quarantined",
        "  next digest 2026-03-05 08:00 UTC (in 22 h 30 min), if papers match by then",
    ]


def test_a_source_that_fails_is_one_line_on_stderr(tmp_path: Path):
    with http_site() as site:
        (tmp_path / "settings.toml").write_text(
            f'[[sources]]\nname = "gone"\ntype = "page"\nurl = "{site.base}/gone"\n' + GOOD_PERSON,
            encoding="utf-8",
        )
        result = run_bot("fetch", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: source 'gone': HTTP 404 Not Found from {site.base}/gone"
    ]


def test_check_refuses_a_database_driver_that_is_not_installed(tmp_path: Path):
    (tmp_path / "settings.toml").write_text(
        '[bot]\ndatabase = "mysql://u@db.example.org/x"\n' + GOOD_SOURCE + GOOD_PERSON,
        encoding="utf-8",
    )
    line = (
        "database mysql://u@db.example.org/x needs the Python package MySQLdb, which is not "
        "installed (for PostgreSQL: pip install '.[postgres]')"
    )
    checked = run_bot("check", cwd=tmp_path)
    assert (checked.returncode, checked.stderr.splitlines()) == (
        2,
        [f"error: {tmp_path / 'settings.toml'}: {line}"],
    )
    status = run_bot("status", cwd=tmp_path)
    assert (status.returncode, status.stderr.splitlines()) == (2, [f"error: {line}"])


def test_check_refuses_a_template_that_does_not_compile(tmp_path: Path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "digest.txt.j2").write_text("{% for x in %}", encoding="utf-8")
    (tmp_path / "settings.toml").write_text(
        '[bot]\ntemplates = "mine"\n' + GOOD_SOURCE + GOOD_PERSON, encoding="utf-8"
    )
    checked = run_bot("check", cwd=tmp_path)
    assert checked.returncode == 2
    [line] = checked.stderr.splitlines()
    assert line.startswith(f"error: template {tmp_path / 'mine' / 'digest.txt.j2'}, line 1: ")


def test_preview_shows_the_headers_and_a_closed_pipe_is_no_traceback(tmp_path: Path):
    with http_site() as site:
        _fetched_page(tmp_path, site, GOOD_PERSON.replace('"x"', '"survey"'))
        assert run_bot("fetch", cwd=tmp_path).returncode == 0
    preview = run_bot("preview", "a@example.org", cwd=tmp_path)
    assert preview.returncode == 0, preview.stderr
    head = preview.stdout.splitlines()[:3]
    assert head[0] == "From: Paper Digest <digest@example.org>"
    assert head[1] == "To: a@example.org"
    assert head[2].startswith("Subject: ")
    reader = subprocess.Popen(
        [*bot_command(), "search", "--limit", "500", "a OR the"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "BOT_CONFIG"},
    )
    reader.stdout.readline()
    reader.stdout.close()  # like `| head -1`
    _, err = reader.communicate(timeout=60)
    assert b"Traceback" not in err


def test_a_feed_entry_left_out_is_said_not_dropped_in_silence(tmp_path: Path):
    feed = FIXTURES / "odd" / "feedparser" / "illformed" / "chardet" / "tis620.xml"
    with http_site() as site:
        url = site.put("/feed", feed.read_bytes(), content_type="application/rss+xml")
        (tmp_path / "settings.toml").write_text(
            f'[[sources]]\nname = "thai"\ntype = "feed"\nurl = "{url}"\n' + GOOD_PERSON,
            encoding="utf-8",
        )
        result = run_bot("fetch", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "thai: 0 papers listed (1 entry skipped: 1 feed item without a title, arXiv id or DOI)"
    )
