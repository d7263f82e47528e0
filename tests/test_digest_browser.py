"""The HTML digest in a real browser (headless Chromium through Playwright): a phone and a desktop.

A 50-card digest of the bundled listing page (bot/samples/page-000.txt, which has long titles and
a title search URL per paper) at 375 px and 900 px: nothing scrolls sideways, text is at least
14 px, every table-of-contents link lands on its card, and dark mode repaints the page.
Screenshots go to $BOT_SCREENSHOTS (default: the test's tmp folder) for a person to look at.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.browser import CHROMIUM, chromium

from bot import identity
from bot.mail.digest import compose, ranked
from bot.mail.render import Renderer
from bot.models import Pending, Settings, Source, Subscriber
from bot.query.matcher import Matcher
from bot.query.rank import Corpus
from bot.sources.text_listing import parse_text_listing

PAGE = Path(__file__).resolve().parent.parent / "bot" / "samples" / "page-000.txt"
NOW = datetime(2026, 3, 12, 8, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def digest_file(tmp_path_factory) -> Path:
    papers = [
        replace(identity.identify(replace(p, sources=("hf-papers-page",))), first_seen=NOW)
        for p in parse_text_listing(PAGE.read_text(encoding="utf-8"))
    ]
    who = Subscriber("reader@example.org", "Reader", ("language OR model*", "survey"))
    found = Matcher({who.email: who.keywords}).match(papers)
    pending = [Pending(who.email, p, found[p.id][who.email], NOW) for p in papers if p.id in found]
    assert len(pending) >= 50
    settings = Settings(path=Path("s.toml"), sources=(Source("hf-papers-page", "page", "file:x"),))
    corpus = Corpus(papers)
    email = compose(settings, who, ranked(pending[:50], corpus), Renderer(), NOW, corpus)
    assert email is not None
    path = tmp_path_factory.mktemp("digest") / "digest.html"
    path.write_text(email.html, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def _shots() -> Path | None:
    folder = os.environ.get("BOT_SCREENSHOTS")
    return Path(folder) if folder else None


@pytest.mark.parametrize("width", [375, 900])
def test_no_sideways_scroll_readable_text_and_contents_links_land(browser, digest_file, width):
    page = browser.new_page(viewport={"width": width, "height": 800})
    try:
        page.goto(digest_file.as_uri())
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{scroll_width}px wide in a {width}px viewport"
        smallest = page.evaluate(
            """() => Math.min(...[...document.querySelectorAll('body *')]
                 .filter(e => e.childNodes.length && [...e.childNodes].some(
                     n => n.nodeType === 3 && n.textContent.trim()))
                 .map(e => parseFloat(getComputedStyle(e).fontSize)))"""
        )
        assert smallest >= 14
        # One column: every card starts at the same left edge, and fits the viewport.
        lefts = page.evaluate(
            "[...document.querySelectorAll('.paper')].map(e => e.getBoundingClientRect().left)"
        )
        assert len(lefts) == 50 and len(set(lefts)) == 1
        if shots := _shots():
            page.screenshot(path=str(shots / f"digest-{width}-top.png"))
        links = page.locator(".toc a")
        assert links.count() == 50
        for number in (1, 17, 50):
            link = page.locator(f'.toc a[href="#paper-{number}"]')
            link.click()
            top = page.evaluate(
                f"document.getElementById('paper-{number}').getBoundingClientRect().top"
            )
            # The card's top is at the viewport's top (within a pixel of subpixel layout).
            assert -1 < top < 800, f"card {number} at {top}px after clicking its link"
        if shots := _shots():
            page.screenshot(path=str(shots / f"digest-{width}-card50.png"))
    finally:
        page.close()


def test_dark_mode_repaints_the_page(browser, digest_file):
    page = browser.new_page(viewport={"width": 375, "height": 800}, color_scheme="dark")
    try:
        page.goto(digest_file.as_uri())
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        card = page.evaluate("getComputedStyle(document.querySelector('.paper')).backgroundColor")
        text = page.evaluate("getComputedStyle(document.querySelector('.abstract')).color")
        assert background == "rgb(23, 24, 26)" and card == "rgb(34, 36, 39)"
        assert text == "rgb(230, 230, 227)"
        if shots := _shots():
            page.screenshot(path=str(shots / "digest-375-dark.png"))
    finally:
        page.close()
