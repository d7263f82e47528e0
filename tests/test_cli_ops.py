"""The operator's commands (issue 13): what `bot send` says about what waits, the mail error said
once, plurals. The CLI runs in-process; BOT_NOW is its clock (read only at the CLI edge)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from support import Inbox, bot_command, free_port

from bot.cli.main import main

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def _feed(titles: list[str]) -> str:
    items = "".join(
        f"<item><title>{t}</title><link>https://ex.org/{n}</link>"
        f"<description>About {t}.</description></item>"
        for n, t in enumerate(titles)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://ex.org/</link><description>d</description>{items}</channel></rss>"
    )


def write_settings(folder: Path, mail: str, subscribers: str, source_extra: str = "") -> Path:
    config = folder / "settings.toml"
    config.write_text(
        f"[mail]\n{mail}\n"
        '[[sources]]\nname = "feed"\ntype = "feed"\n'
        f'url = "file://{folder / "feed.xml"}"\n{source_extra}\n{subscribers}',
        encoding="utf-8",
    )
    return config


def run(monkeypatch, capsys, config: Path, now: datetime, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("BOT_NOW", now.isoformat())
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


INSTANT = '[[subscribers]]\nemail = "ann@example.org"\nkeywords = ["sparse"]\ncadence = "instant"\n'


def test_bot_send_with_the_mail_server_down_and_back_says_what_waits_and_when(
    tmp_path: Path, monkeypatch, capsys
):
    port = free_port()
    smtp = f'transport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"'
    config = write_settings(tmp_path, smtp, INSTANT)
    (tmp_path / "feed.xml").write_text(_feed(["Sparse one"]), encoding="utf-8")

    code, out, err = run(monkeypatch, capsys, config, T0, "once")
    assert code == 1
    # The connection error said once, in plain words (not three times over).
    assert err == (
        "error: not sent yet, will retry: ann@example.org: cannot connect to mail server "
        f"127.0.0.1:{port}: Connection refused\n"
    )
    lines = out.splitlines()
    assert lines[:2] == ["feed: 1 paper listed", "1 new paper recorded, 1 delivery queued"]
    assert re.fullmatch(
        r"0 emails sent with 0 papers; 1 email waiting to be sent, next retry "
        r"2026-03-04 10:00 UTC \(in 1 minute\) \('bot send --all' sends them now\)",
        lines[2],
    ), lines[2]

    with smtp_server_on(port) as inbox:
        # The server is back but the retry time has not come: nothing is sent, and it is said.
        code, out, err = run(monkeypatch, capsys, config, T0 + timedelta(seconds=1), "send")
        assert (code, err) == (0, "")
        assert out.startswith("0 emails sent with 0 papers; 1 email waiting to be sent, next retry")
        assert inbox.received == []
        # --all sends it at once.
        code, out, err = run(
            monkeypatch, capsys, config, T0 + timedelta(seconds=2), "send", "--all"
        )
        assert (code, out, err) == (0, "1 email sent with 1 paper\n", "")
        assert [rcpt for rcpt, _ in inbox.received] == [["ann@example.org"]]


def test_a_deferred_email_goes_with_plain_send_once_its_retry_time_has_come(
    tmp_path: Path, monkeypatch, capsys
):
    port = free_port()
    smtp = f'transport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"'
    config = write_settings(tmp_path, smtp, INSTANT)
    (tmp_path / "feed.xml").write_text(_feed(["Sparse one"]), encoding="utf-8")
    assert run(monkeypatch, capsys, config, T0, "once")[0] == 1
    with smtp_server_on(port) as inbox:
        code, out, err = run(monkeypatch, capsys, config, T0 + timedelta(minutes=5), "send")
        assert (code, out, err) == (0, "1 email sent with 1 paper\n", "")
        assert len(inbox.received) == 1


@contextmanager
def smtp_server_on(port: int) -> Iterator[Inbox]:
    """A real SMTP server on a port chosen before (the one the settings name); stopped on exit."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def test_status_says_next_poll_next_email_next_retry_and_keeps_the_last_good_poll_apart(
    tmp_path: Path, monkeypatch, capsys
):
    port = free_port()  # nothing listens: ann's email waits for a retry
    smtp = f'transport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"'
    bob = '[[subscribers]]\nemail = "Bob@Example.org"\nkeywords = ["sparse"]\n'
    config = write_settings(tmp_path, smtp, INSTANT + bob, 'every = "1h"')
    feed = tmp_path / "feed.xml"
    feed.write_text(_feed(["Sparse one", "Sparse two"]), encoding="utf-8")
    assert run(monkeypatch, capsys, config, T0, "once")[0] == 1
    feed.unlink()  # the source fails from now on
    assert run(monkeypatch, capsys, config, T0 + timedelta(minutes=30), "fetch")[0] == 1

    now = T0 + timedelta(minutes=40)
    code, out, err = run(monkeypatch, capsys, config, now, "status")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    [source] = [line for line in lines if line.startswith("source feed: ")]
    assert source.startswith(
        "source feed: last good poll 2026-03-04 10:00 UTC: 2 papers listed; failing now: "
        "1 poll in a row failed, the last 2026-03-04 10:30 UTC: "
    ), source
    assert source.endswith("; next poll 2026-03-04 11:30 UTC (in 50 minutes)"), source
    ann = lines.index("subscriber ann@example.org: 2 pending, 0 sent, 0 failed, 0 quarantined")
    assert lines[ann + 1] == "  1 email waiting to be sent, next retry 2026-03-04 10:00 UTC (now)"
    bob = lines.index("subscriber bob@example.org: 2 pending, 0 sent, 0 failed, 0 quarantined")
    assert lines[bob + 1] == "  next email 2026-03-05 08:00 UTC (in 21 h 20 min)"

    code, out, _ = run(monkeypatch, capsys, config, now, "status", "--json")
    shown = json.loads(out)
    [source] = shown["sources"]
    assert source["next_poll"] == "2026-03-04T11:30:00+00:00"
    assert source["last_good_poll"] == {"at": "2026-03-04T10:00:00+00:00", "listed": 2}
    assert source["failing"]["polls_in_a_row"] == 1
    assert source["failing"]["last"] == "2026-03-04T10:30:00+00:00"
    people = {p["email"]: p for p in shown["subscribers"]}
    assert people["bob@example.org"]["next_email"] == "2026-03-05T08:00:00+00:00"
    assert people["bob@example.org"]["next_retry"] is None
    assert people["ann@example.org"]["next_retry"].startswith("2026-03-04T10:00:")
    assert people["ann@example.org"]["cadence"] == "instant"


MAILDIR = 'transport = "maildir"\nmaildir = "outbox"'


def _sent(folder: Path) -> list[str]:
    box = folder / "outbox" / "new"
    return sorted(p.name for p in box.iterdir()) if box.exists() else []


def test_subscribers_set_pause_resume_and_list_show_what_is_stored(
    tmp_path: Path, monkeypatch, capsys
):
    bob = '[[subscribers]]\nemail = "Bob@Example.org"\nkeywords = ["sparse"]\n'
    config = write_settings(tmp_path, MAILDIR, bob)

    # `set` with nothing to change is an error, and the file is left as it was.
    before = config.read_bytes()
    code, out, err = run(monkeypatch, capsys, config, T0, "subscribers", "set", "bob@example.org")
    assert (code, out) == (2, "")
    assert err.startswith("error: bot subscribers set: nothing to change (give --keyword, "), err
    assert config.read_bytes() == before

    # The address is echoed as the file holds it, not as typed.
    code, out, _ = run(
        monkeypatch, capsys, config, T0, "subscribers", "set", "BOB@example.ORG", "--source", "feed"
    )
    assert (code, out) == (0, "changed Bob@Example.org\n")
    assert 'sources = ["feed"]' in config.read_text(encoding="utf-8")
    # A sources restriction can be removed again, both ways.
    for undo in (["--source", ""], ["--all-sources"]):
        assert run(monkeypatch, capsys, config, T0, "subscribers", "set", "bob@example.org",
                   "--source", "feed")[0] == 0  # fmt: skip
        code, out, err = run(
            monkeypatch, capsys, config, T0, "subscribers", "set", "bob@example.org", *undo
        )
        assert (code, out, err) == (0, "changed Bob@Example.org\n", "")
        assert "sources" not in config.read_text(encoding="utf-8").split("[[subscribers]]")[1]

    code, out, _ = run(monkeypatch, capsys, config, T0, "subscribers", "pause", "bob@example.org")
    assert code == 0 and out.startswith("paused Bob@Example.org: nothing is sent")
    assert "paused = true" in config.read_text(encoding="utf-8")
    code, out, _ = run(monkeypatch, capsys, config, T0, "subscribers", "list", "--json")
    assert json.loads(out) == [
        {
            "email": "Bob@Example.org",
            "name": "",
            "keywords": ["sparse"],
            "cadence": "daily",
            "send_at": "08:00",
            "day": "mon",
            "timezone": "UTC",
            "sources": None,
            "abstract": None,
            "paused": True,
            "stopped": None,
        }
    ]
    code, out, _ = run(monkeypatch, capsys, config, T0, "subscribers", "list")
    assert out == (
        "Bob@Example.org: daily at 08:00 UTC; every source; PAUSED\n    sparse\n1 subscriber\n"
    )
    code, out, _ = run(monkeypatch, capsys, config, T0, "subscribers", "resume", "bob@example.org")
    assert code == 0 and out.startswith("resumed Bob@Example.org")
    assert "paused" not in config.read_text(encoding="utf-8")


def test_a_paused_subscriber_gets_nothing_and_the_matches_wait_for_the_resume(
    tmp_path: Path, monkeypatch, capsys
):
    config = write_settings(tmp_path, MAILDIR, INSTANT + "paused = true\n")
    feed = tmp_path / "feed.xml"
    feed.write_text(_feed(["Sparse one"]), encoding="utf-8")
    code, out, _ = run(monkeypatch, capsys, config, T0, "once")
    assert code == 0
    assert "1 new paper recorded, 1 delivery queued\n0 emails sent with 0 papers\n" in out
    feed.write_text(_feed(["Sparse one", "Sparse two"]), encoding="utf-8")
    assert run(monkeypatch, capsys, config, T0 + timedelta(hours=1), "send", "--all")[0] == 0
    assert _sent(tmp_path) == []  # not even --all sends to a paused subscriber
    code, out, _ = run(monkeypatch, capsys, config, T0 + timedelta(hours=1), "status")
    assert "  paused: nothing is sent; matches are kept for later\n" in out

    run(monkeypatch, capsys, config, T0, "subscribers", "resume", "ann@example.org")
    code, out, _ = run(monkeypatch, capsys, config, T0 + timedelta(hours=2), "once")
    assert code == 0 and out.endswith("1 new paper recorded, 1 delivery queued\n"
                                      "1 email sent with 2 papers\n"), out  # fmt: skip
    assert len(_sent(tmp_path)) == 1


REPO = Path(__file__).resolve().parent.parent


def test_the_packaged_example_is_the_example_at_the_top():
    packaged = REPO / "bot" / "settings" / "settings.example.toml"
    assert packaged.read_bytes() == (REPO / "settings.example.toml").read_bytes()


def test_bot_init_writes_the_commented_example_once_and_it_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_CONFIG", raising=False)
    assert main(["status"]) == 2
    assert "settings file not found (run 'bot init' to write" in capsys.readouterr().err
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    assert (
        out == "wrote settings.toml: edit it (sources, [mail], subscribers), then run 'bot check'\n"
    )
    assert (tmp_path / "settings.toml").read_bytes() == (
        REPO / "settings.example.toml"
    ).read_bytes()
    assert main(["check"]) == 0
    assert capsys.readouterr().out.endswith(
        "settings.toml: OK: 3 sources, 2 subscribers, 6 queries\n"
    )
    (tmp_path / "settings.toml").write_text("# mine\n", encoding="utf-8")
    assert main(["init"]) == 2
    assert capsys.readouterr().err == (
        "error: settings.toml: exists already; bot init leaves it as it is\n"
    )
    assert (tmp_path / "settings.toml").read_text(encoding="utf-8") == "# mine\n"


def test_check_counts_in_words_and_connect_with_a_maildir_does_not_claim_a_mail_server(
    tmp_path: Path, monkeypatch, capsys
):
    config = write_settings(tmp_path, MAILDIR, INSTANT)
    (tmp_path / "feed.xml").write_text(_feed(["Sparse one"]), encoding="utf-8")
    code, out, err = run(monkeypatch, capsys, config, T0, "check", "--connect")
    assert (code, err) == (0, "")
    assert out == (
        f"{config}: OK: 1 source, 1 subscriber, 1 query\n"
        f"Maildir folder {tmp_path / 'outbox'} is writable; every source answered\n"
    )


def test_a_source_exclude_query_keeps_its_matching_items_out_of_the_ledger(
    tmp_path: Path, monkeypatch, capsys
):
    anyone = (
        '[[subscribers]]\nemail = "ann@example.org"\ncadence = "instant"\n'
        'keywords = ["sparse OR correction OR editorial OR prize"]\n'
    )
    exclude = "exclude = 'title:(\"Author Correction\" OR Editorial)'"
    config = write_settings(tmp_path, MAILDIR, anyone, exclude)
    titles = [
        "Author Correction: Sparse coding in the cortex",
        "Editorial",
        "Sparse coding in the cortex",
        "The Spinoff Prize 2024",
    ]
    (tmp_path / "feed.xml").write_text(_feed(titles), encoding="utf-8")
    code, out, err = run(monkeypatch, capsys, config, T0, "once")
    assert (code, err) == (0, "")
    assert out.splitlines()[:3] == [
        "feed: 2 papers listed, 2 excluded",
        "2 new papers recorded, 2 deliveries queued",
        "1 email sent with 2 papers",
    ]
    code, out, _ = run(monkeypatch, capsys, config, T0, "search", "--json", "sparse OR prize")
    assert sorted(p["title"] for p in json.loads(out)) == [
        "Sparse coding in the cortex",
        "The Spinoff Prize 2024",
    ]


def test_a_bad_exclude_query_is_refused_at_load(tmp_path: Path, monkeypatch, capsys):
    config = write_settings(tmp_path, MAILDIR, INSTANT, "exclude = 'title:(Editorial'")
    code, out, err = run(monkeypatch, capsys, config, T0, "check")
    assert code == 2
    assert err.startswith(f'error: {config}: sources[0].exclude: bad query "title:(Editorial"'), err


def test_help_describes_arguments_with_examples_and_exit_codes(capsys):
    def help_of(*args: str) -> str:
        with pytest.raises(SystemExit) as done:
            main([*args, "--help"])
        assert done.value.code == 0
        return capsys.readouterr().out

    top = help_of()
    assert "examples:\n  bot init " in top and "exit codes:\n  0  done\n" in top
    search = help_of("search")
    assert re.search(r"\n  QUERY +a keyword query", search), search
    assert re.search(r"\n  --json +print one JSON array", search), search
    assert (
        "--since YYYY-MM-DD" in search and "'all'" in search and "example:\n  bot search" in search
    )
    assert "--config PATH  " not in search and "--log-level {" not in search  # not repeated
    assert "2  bad settings or arguments" in search
    for action in ("list", "remove", "set", "pause", "resume"):
        text = help_of("subscribers", action)
        description = text.split("\n\n")[1]
        assert description and not description.startswith(("positional", "options")), text
    assert re.search(r"\n  EMAIL +the subscriber's email address", help_of("subscribers", "set"))
    assert re.search(r"\n  EMAIL +a subscriber's email address", help_of("preview"))
    assert "--config PATH" not in help_of("demo")


def test_demo_refuses_a_config_it_would_ignore(capsys):
    assert main(["--config", "x.toml", "demo"]) == 2
    assert capsys.readouterr().err == (
        "error: bot demo: runs on its own sample settings; --config is not for it\n"
    )
    assert main(["demo", "--config", "x.toml"]) == 2


def test_search_limit_all_and_a_reader_that_goes_away_is_not_an_error(
    tmp_path: Path, monkeypatch, capsys
):
    config = write_settings(tmp_path, MAILDIR, INSTANT)
    titles = [f"Sparse study {n}" for n in range(60)]
    (tmp_path / "feed.xml").write_text(_feed(titles), encoding="utf-8")
    assert run(monkeypatch, capsys, config, T0, "fetch")[0] == 0
    code, out, _ = run(monkeypatch, capsys, config, T0, "search", "sparse", "--limit", "all")
    assert code == 0 and out.splitlines()[-1] == "60 papers match"
    code, out, _ = run(monkeypatch, capsys, config, T0, "search", "sparse")
    assert out.splitlines()[-1] == "60 papers match; the newest 50 shown (--limit)"

    # `bot search … | head -1`: the reader is gone before the first line is written.
    process = subprocess.Popen(
        [*bot_command(), "--config", str(config), "search", "sparse", "--limit", "all"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (0, b"")


def test_preview_with_nothing_pending_offers_a_marked_sample_and_writes_its_html(
    tmp_path: Path, monkeypatch, capsys
):
    config = write_settings(tmp_path, MAILDIR, INSTANT)
    titles = ["Dense retrieval at scale", "Sparse one", "Sparse two"]
    (tmp_path / "feed.xml").write_text(_feed(titles), encoding="utf-8")
    assert run(monkeypatch, capsys, config, T0, "fetch", "--mark-seen")[0] == 0
    page = tmp_path / "sample.html"
    code, out, err = run(
        monkeypatch, capsys, config, T0, "preview", "ann@example.org", "--html", str(page)
    )
    assert (code, err) == (0, "")
    head, _, body = out.partition("\n\n")
    assert "\nSubject: [SAMPLE] 2 new papers: sparse" in head, head
    assert body.startswith(
        "SAMPLE: nothing is pending for ann@example.org; this preview shows the 2 most recent "
        "matching papers as an email would"
    ), body
    assert "*Sparse* one" in body and "*Sparse* two" in body and "Dense retrieval" not in body
    html = page.read_text(encoding="utf-8")
    assert '<p id="sample-notice"' in html and "Sparse</mark> two" in html
    assert not (tmp_path / "outbox").exists()  # nothing sent, nothing queued
    code, out, _ = run(monkeypatch, capsys, config, T0, "status")
    assert "subscriber ann@example.org: 0 pending, 0 sent" in out
