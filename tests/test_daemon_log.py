"""What `bot run` says at its default level, and what a settings edit re-polls (issue 13).

A subprocess `bot run` with second-scale polls for a bounded time (a couple of seconds per
source); the two-minute run of the issue is in its closing note, not in the suite.
"""

from __future__ import annotations

import re
from pathlib import Path

from support import FIXTURES, BotRun, http_site, wait_until

PAGES = {
    "arxiv": FIXTURES / "pages" / "000_14d685580f9831a7.txt",
    "hf": FIXTURES / "pages" / "001_895ba66bf99779a7.txt",
    "nature": FIXTURES / "pages" / "003_0b21518f7ee75860.txt",
}
LINE = re.compile(r"^\S+ \S+ level=(?P<level>[A-Z]+) logger=(?P<logger>\S+) (?P<message>.*)$")


def _settings(folder: Path, urls: dict[str, str], every: str, people: list[str]) -> Path:
    lines = [
        '[bot]\ndatabase = "sqlite:///bot.db"\n',
        '[mail]\ntransport = "maildir"\nmaildir = "mail"\n',
    ]
    for name, url in urls.items():
        lines.append(
            f'[[sources]]\nname = "{name}"\ntype = "page"\nurl = "{url}"\nevery = "{every}"\n'
        )
    for email in people:
        lines.append(f'[[subscribers]]\nemail = "{email}"\nkeywords = ["survey"]\n')
    path = folder / "settings.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _lines(log: str) -> list[dict[str, str]]:
    parsed = [LINE.match(line) for line in log.splitlines()]
    assert all(parsed), log  # one line per event, none spread over several
    return [m.groupdict() for m in parsed]


def test_the_default_log_has_one_line_per_poll_naming_its_source_and_none_from_apscheduler(
    tmp_path: Path,
):
    with http_site() as site:
        urls = {name: site.put(f"/{name}", path.read_bytes()) for name, path in PAGES.items()}
        config = _settings(tmp_path, urls, "1s", ["alice@example.org"])
        with BotRun(tmp_path, config) as daemon:
            polled = lambda: all(site.requests.count(f"/{n}") >= 4 for n in PAGES)  # noqa: E731
            assert wait_until(polled, 20), daemon.log()
            assert daemon.stop() == 0
            lines = _lines(daemon.log())
    assert not [line for line in lines if line["logger"].startswith("apscheduler")], lines
    polls = [line for line in lines if line["message"].startswith("poll ")]
    for name in PAGES:
        mine = [
            line
            for line in polls
            if re.fullmatch(rf"poll source={name} listed=\d+ new=\d+ queued=\d+", line["message"])
        ]
        assert len(mine) == site.requests.count(f"/{name}"), polls  # one line per poll
    assert len(polls) == len(site.requests)  # and every poll line names its one source
    assert {line["level"] for line in polls} == {"INFO"}
    others = [line["message"].split()[0] for line in lines if line not in polls]
    assert others == ["daemon=started", "daemon=stopping", "daemon=stopped"], lines
    assert {line["level"] for line in lines} == {"INFO"}


def test_adding_a_subscriber_repolls_nothing_and_an_edited_source_is_repolled_alone(
    tmp_path: Path,
):
    # Both sources poll hourly: any second request comes from a re-poll on reload.
    with http_site() as site:
        urls = {name: site.put(f"/{name}", PAGES[name].read_bytes()) for name in ("arxiv", "hf")}
        config = _settings(tmp_path, urls, "1h", ["alice@example.org"])
        with BotRun(tmp_path, config) as daemon:
            assert wait_until(lambda: len(site.requests) == 2, 20), daemon.log()
            _settings(tmp_path, urls, "1h", ["alice@example.org", "bob@example.org"])
            assert wait_until(lambda: "settings=reloaded" in daemon.log(), 10), daemon.log()
            assert "settings=reloaded sources=2 subscribers=2 repolled=none" in daemon.log()
            # Then hf's own settings change: hf alone is polled at once, at its new URL.
            moved = {**urls, "hf": site.put("/hf-moved", PAGES["hf"].read_bytes())}
            _settings(tmp_path, moved, "1h", ["alice@example.org", "bob@example.org"])
            assert wait_until(lambda: "/hf-moved" in site.requests, 10), daemon.log()
            assert site.requests.count("/arxiv") == 1, site.requests  # not re-polled twice over
            assert wait_until(lambda: daemon.log().count("poll source=hf") == 2, 10)
            assert "repolled=hf" in daemon.log()
            assert daemon.stop() == 0
        assert sorted(site.requests) == ["/arxiv", "/hf", "/hf-moved"]
