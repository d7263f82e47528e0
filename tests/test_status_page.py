"""`bot status --html FILE` (issue 13): one self-contained page, opened in headless Chromium (the
system's), checked on its DOM: papers per day per source with failing days marked, and per
subscriber the matches and emails per day. No script, nothing fetched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from support.browser import ARGS, CHROMIUM

from bot.cli.main import main
from tests.test_cli_ops import INSTANT, MAILDIR, T0, _feed, write_settings


def _once(monkeypatch, config: Path, when) -> int:
    monkeypatch.setenv("BOT_NOW", when.isoformat())
    return main(["--config", str(config), "once"])


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
def test_the_status_page_shows_papers_failures_matches_and_emails_per_day(
    tmp_path: Path, monkeypatch, capsys
):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    dead = (
        f'[[sources]]\nname = "dead"\ntype = "feed"\nurl = "{(tmp_path / "dead.xml").as_uri()}"\n'
    )
    config = write_settings(tmp_path, MAILDIR, dead + INSTANT)
    fast, gone = tmp_path / "feed.xml", tmp_path / "dead.xml"
    day = lambda back: T0 - timedelta(days=back)  # noqa: E731

    fast.write_text(_feed(["Sparse a", "Sparse b"]), encoding="utf-8")
    gone.write_text(_feed(["Sparse from dead"]).replace("ex.org/0", "ex.org/d0"), encoding="utf-8")
    assert _once(monkeypatch, config, day(5)) == 0
    fast.write_text(_feed(["Sparse a", "Sparse b", "Sparse c"]), encoding="utf-8")
    gone.unlink()  # the source dies
    assert _once(monkeypatch, config, day(2)) == 1
    assert _once(monkeypatch, config, day(0)) == 1
    page = tmp_path / "status.html"
    monkeypatch.setenv("BOT_NOW", day(0).isoformat())
    assert main(["--config", str(config), "status", "--html", str(page)]) == 0
    capsys.readouterr()

    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page()
            tab.on("request", lambda r: requests.append(r.url))
            tab.goto(page.as_uri())

            def counts(selector: str) -> dict[str, int]:
                found = tab.eval_on_selector_all(
                    selector, "els => els.map(e => [e.dataset.day, +e.dataset.count])"
                )
                return {d: n for d, n in found if n}

            def days(selector: str) -> list[str]:
                return tab.eval_on_selector_all(selector, "els => els.map(e => e.dataset.day)")

            iso = lambda back: day(back).date().isoformat()  # noqa: E731
            assert tab.locator('[data-source="feed"] rect.bar').count() == 30
            assert counts('[data-source="feed"] rect.bar') == {iso(5): 2, iso(2): 1}
            assert counts('[data-source="dead"] rect.bar') == {iso(5): 1}
            assert days('[data-source="feed"] rect.failed') == []
            # Failing after its last good poll (day -5) up to its last failed poll (today).
            assert days('[data-source="dead"] rect.failed') == [iso(n) for n in (4, 3, 2, 1, 0)]
            note = tab.locator('[data-source="dead"] .failing-note').inner_text()
            assert note.startswith(f"failing now (last good poll {iso(5)} 10:00 UTC): ")
            ann = '[data-email="ann@example.org"]'
            assert counts(f"{ann} rect.bar") == {iso(5): 3, iso(2): 1}
            assert counts(f"{ann} circle.email") == {iso(5): 1, iso(2): 1}
            assert "4 matches, 2 emails" in tab.locator(ann).inner_text()
            assert tab.locator("script").count() == 0
            assert tab.locator("svg").first.is_visible()
        finally:
            browser.close()
    assert requests == [page.as_uri()]  # nothing else fetched: self-contained
