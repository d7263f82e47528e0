"""The real CLI in a subprocess: bad input gets one clear line and exit 2; demo and check work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import FIXTURES, http_site, run_bot

GOOD_SOURCE = '[[sources]]\nname = "a"\ntype = "page"\nurl = "https://example.org/p"\n'
GOOD_PERSON = '[[subscribers]]\nemail = "a@example.org"\nkeywords = ["x"]\n'

BAD_SETTINGS = [
    pytest.param(
        None,
        "error: settings.toml: settings file not found (copy settings.example.toml to "
        "settings.toml and edit it, or pass --config PATH or set BOT_CONFIG)",
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
        "error: bot search: the following arguments are required: query (see 'bot search --help')"
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
    assert "received 1 email(s)" in result.stdout
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
    assert result.stdout.startswith(f"{tmp_path / 'settings.toml'}: OK: 2 sources, 1 subscribers")


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
