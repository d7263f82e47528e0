"""Real headless Chromium for the page tests: Debian's /usr/bin/chromium driven by Playwright,
never a downloaded browser (no `playwright install`). Tests skip when either is missing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def needs_chromium() -> None:
    """Skip the calling test (with the reason) without Chromium or Playwright."""
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="needs the playwright package")


@contextmanager
def chromium() -> Iterator:
    """A launched headless Chromium (a Playwright Browser), closed on exit."""
    needs_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
