"""End to end through the real CLI: a served listing that changes, a real mail server, three people.

The expected papers are computed from the page texts with the small oracle of support.oracle,
written from SPEC section 5 v2, not with the bot's own matcher.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support import (
    FIXTURES,
    SUBSCRIBERS,
    html_text,
    http_site,
    maildir_messages,
    page_papers,
    run_bot,
    smtp_server,
    titles_in,
    words,
)

PAGES = [
    "000_14d685580f9831a7.txt",
    "001_895ba66bf99779a7.txt",
    "003_0b21518f7ee75860.txt",
    "003_0b21518f7ee75860.txt",
]


def _settings(folder: Path, url: str, mail: str) -> Path:
    people = "\n".join(
        f'[[subscribers]]\nemail = "{email}"\nkeywords = [{query!r}]\ncadence = "instant"\n'
        for email, (query, _) in SUBSCRIBERS.items()
    )
    path = folder / "settings.toml"
    path.write_text(
        f'[bot]\ndatabase = "sqlite:///state/bot.db"\n\n{mail}\n\n'
        f'[[sources]]\nname = "hf-page"\ntype = "page"\nurl = "{url}"\n\n{people}',
        encoding="utf-8",
    )
    return path


def _expected_per_run() -> list[dict[str, set[str]]]:
    """For each run, each subscriber's expected titles: new on that page and matching."""
    seen: set[str] = set()
    runs = []
    for name in PAGES:
        papers = page_papers((FIXTURES / "pages" / name).read_text(encoding="utf-8"))
        new = [(t, a) for t, a in papers if t not in seen]
        seen.update(t for t, _ in papers)
        runs.append(
            {
                email: {t for t, a in new if oracle(t, a)}
                for email, (_, oracle) in SUBSCRIBERS.items()
            }
        )
    return runs


def test_oracle_expects_mail_on_every_changed_page_and_none_on_the_unchanged_one():
    runs = _expected_per_run()
    for run in runs[:3]:
        assert sum(len(v) for v in run.values()) > 0
    assert all(not v for v in runs[3].values())
    assert all(runs[0][email] for email in SUBSCRIBERS)  # each person gets mail on the first page


def _all_titles() -> list[str]:
    titles: dict[str, None] = {}
    for name in PAGES:
        text = (FIXTURES / "pages" / name).read_text(encoding="utf-8")
        titles.update((t, None) for t, _ in page_papers(text))
    return list(titles)


@pytest.mark.parametrize("transport", ["smtp", "maildir"])
def test_each_once_sends_exactly_the_new_matching_papers(tmp_path: Path, transport: str):
    expected = _expected_per_run()
    everything = _all_titles()
    with http_site() as site, smtp_server() as (inbox, port):
        url = site.put("/papers", "")
        mail = (
            f'[mail]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"'
            if transport == "smtp"
            else '[mail]\ntransport = "maildir"\nmaildir = "outbox"'
        )
        config = _settings(tmp_path, url, mail)
        delivered = 0
        for run, name in enumerate(PAGES):
            site.put("/papers", (FIXTURES / "pages" / name).read_bytes())
            result = run_bot("--config", str(config), "once", cwd=tmp_path)
            assert result.returncode == 0, result.stderr
            if transport == "smtp":
                got = [
                    (rcpts[0], msg)
                    for (rcpts, _), msg in zip(inbox.received, inbox.messages(), strict=True)
                ]
                inbox.clear()
            else:
                messages = maildir_messages(tmp_path / "outbox")
                got = [(str(m["To"].addresses[0].addr_spec), m) for m in messages[delivered:]]
                delivered = len(messages)
            by_person = {}
            for rcpt, msg in got:
                assert rcpt not in by_person, f"run {run}: two emails to {rcpt}"
                by_person[rcpt] = msg
            want = {email: titles for email, titles in expected[run].items() if titles}
            assert set(by_person) == set(want), f"run {run} ({name})"
            for email, msg in by_person.items():
                assert titles_in(msg, everything) == want[email], f"run {run}, {email}"
                count = len(want[email])
                noun = "paper" if count == 1 else "papers"
                assert msg["Subject"].startswith(f"{count} new {noun}: "), msg["Subject"]
                assert msg["Auto-Submitted"] == "auto-generated"
                assert msg.get_content_type() == "multipart/alternative"


def test_one_paper_from_three_sources_is_one_mention(tmp_path: Path):
    feed = (FIXTURES / "arxiv" / "rss_cs.CL_2026-04-27_first3.xml").read_text(encoding="utf-8")
    arxiv_id = re.search(r"<link>https://arxiv.org/abs/([\d.]+)</link>", feed).group(1)
    title = re.search(r"<item>\s*<title>(.*?)</title>", feed, re.S).group(1)
    hf_item = json.dumps(
        [
            {
                "paper": {
                    "id": arxiv_id,
                    "title": title.replace(" ", "\n  ", 1),
                    "summary": "A summary.",
                    "authors": [{"name": "A. Author"}],
                    "publishedAt": "2026-04-27T00:00:00.000Z",
                },
                "title": title,
                "publishedAt": "2026-04-27T01:00:00.000Z",
                "numComments": 0,
            }
        ]
    )
    page = f"Daily papers\n\nApr 27\n\n{title}\n\n{'An abstract that is long enough. ' * 20}\n"
    first_word = words(title)[0]
    with http_site() as site, smtp_server() as (inbox, port):
        urls = [
            site.put("/arxiv", feed, "application/rss+xml"),
            site.put("/hf", hf_item, "application/json"),
            site.put("/page", page),
        ]
        config = tmp_path / "settings.toml"
        config.write_text(
            f'[mail]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            f'[[sources]]\nname = "arxiv"\ntype = "feed"\nurl = "{urls[0]}"\n'
            f'[[sources]]\nname = "hf"\ntype = "hf-daily"\nurl = "{urls[1]}"\n'
            f'[[sources]]\nname = "page"\ntype = "page"\nurl = "{urls[2]}"\n'
            f'[[subscribers]]\nemail = "dan@example.org"\nkeywords = ["title:{first_word}"]\n'
            'cadence = "instant"\n',
            encoding="utf-8",
        )
        result = run_bot("--config", str(config), "once", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        [msg] = inbox.messages()
    text = html_text(msg)
    assert text.count(" ".join(title.split())) == 1
    assert msg["Subject"].startswith("1 new paper: ")
    for name in ("arxiv", "hf", "page"):
        assert re.search(rf"\b{name}\b", text), name


def test_a_broken_source_is_named_and_the_others_still_deliver(tmp_path: Path):
    page = (FIXTURES / "pages" / PAGES[0]).read_text(encoding="utf-8")
    with http_site() as site, smtp_server() as (inbox, port):
        good = site.put("/good", page)
        garbage = site.put("/garbage", b"\x00\x01 not a feed at all <<<", "application/rss+xml")
        missing = site.base + "/missing"
        config = tmp_path / "settings.toml"
        config.write_text(
            f'[mail]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            f'[[sources]]\nname = "gone"\ntype = "feed"\nurl = "{missing}"\n'
            f'[[sources]]\nname = "junk"\ntype = "feed"\nurl = "{garbage}"\n'
            f'[[sources]]\nname = "good"\ntype = "page"\nurl = "{good}"\n'
            '[[subscribers]]\nemail = "erin@example.org"\nkeywords = ["title:survey"]\n'
            'cadence = "instant"\n',
            encoding="utf-8",
        )
        result = run_bot("once", "--config", str(config), cwd=tmp_path)
        assert len(inbox.received) == 1
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert f"error: source 'gone': HTTP 404 Not Found from {missing}" in errors
    assert any(line.startswith("error: source 'junk': ") for line in errors), result.stderr
    assert "good: 80 papers listed" in result.stdout


def test_a_title_only_line_then_its_arxiv_item_is_one_paper_mailed_once_with_the_feeds_link(
    tmp_path: Path,
):
    """SPEC section 4 v2 and section 3 Links, through the real CLI: the page names the paper by
    its title only; a later arXiv feed lists it with its id, link and authors."""
    title = "Source-Modality Monitoring in Vision-Language Models"  # in the cs.CL feed fixture
    page = (FIXTURES / "pages" / "000_14d685580f9831a7.txt").read_text(encoding="utf-8")
    page += (
        f"\n\n{title}\n\n"
        + "We study whether vision-language models can tell which modality a piece of "
        "information came from, and how that monitoring fails. " * 4 + "\n"
    )
    with http_site() as site:
        page_url = site.put("/page", page.encode())
        feed_url = site.put(
            "/feed", (FIXTURES / "arxiv" / "rss_physics_2025-12-31_empty_holiday.xml").read_bytes()
        )
        config = tmp_path / "settings.toml"
        config.write_text(
            '[bot]\ndatabase = "sqlite:///bot.db"\n\n'
            '[mail]\ntransport = "maildir"\nmaildir = "outbox"\n\n'
            f'[[sources]]\nname = "page"\ntype = "page"\nurl = "{page_url}"\n\n'
            f'[[sources]]\nname = "arxiv-cs-cl"\ntype = "feed"\nurl = "{feed_url}"\n\n'
            '[[subscribers]]\nemail = "dana@example.org"\nkeywords = ["title:monitoring"]\n'
            'cadence = "instant"\n',
            encoding="utf-8",
        )
        assert run_bot("once", cwd=tmp_path).returncode == 0
        site.put("/feed", (FIXTURES / "arxiv" / "rss_cs.CL_2026-04-27_first3.xml").read_bytes())
        assert run_bot("once", cwd=tmp_path).returncode == 0
    [mail] = maildir_messages(tmp_path / "outbox")  # one email: the feed's item is no new paper
    assert titles_in(mail, [title]) == {title}
    found = run_bot("search", "--json", "title:monitoring", cwd=tmp_path)
    [paper] = json.loads(found.stdout)
    assert paper["id"] == "arxiv:2604.22038"
    assert paper["url"] == "https://arxiv.org/abs/2604.22038"
    assert paper["authors"] == ["Etha Tianze Hua", "Tian Yun", "Ellie Pavlick"]
    assert sorted(paper["sources"]) == ["arxiv-cs-cl", "page"]
