"""The recipients' page in real headless Chromium (Debian's, via Playwright), opened from the link
in an email really received from `bot run`: readable on a phone, no JavaScript needed, and the
Unsubscribe button works."""

from __future__ import annotations

import json
import re
from pathlib import Path

from support import BotRun, free_port, http_site, page_settings, run_bot, smtp_server, wait_until
from support.browser import chromium, needs_chromium

from tests.test_daemon import PAGE, _mail_for

ALICE = "alice@example.org"


def test_the_link_in_a_received_email_opens_the_page_and_unsubscribe_is_confirmed(
    tmp_path: Path, monkeypatch
):
    needs_chromium()
    monkeypatch.setenv("BOT_WEB_SECRET", "a-long-random-secret-for-the-browser-test-42")
    port = free_port()
    with http_site() as site, smtp_server() as (inbox, smtp_port):
        url = site.put("/papers", PAGE[0].read_bytes())
        config = page_settings(tmp_path, url, smtp_port, [ALICE])
        web = f'[web]\nlisten = "127.0.0.1:{port}"\nbase_url = "http://127.0.0.1:{port}"\n\n'
        config.write_text(
            config.read_text(encoding="utf-8").replace("[[sources]]", web + "[[sources]]", 1),
            encoding="utf-8",
        )
        with BotRun(tmp_path, config) as daemon:
            assert wait_until(lambda: len(_mail_for(inbox, ALICE)) == 1, 20), daemon.log()
            [email] = _mail_for(inbox, ALICE)
            html = email.get_body(("html",)).get_content()
            [link] = re.findall(
                r'<a href="(http://127\.0\.0\.1:\d+/u/[^"]+)">Unsubscribe</a>', html
            )
            subject = email["Subject"]

            with chromium() as browser:
                # A phone, with JavaScript off: the page must not need it.
                context = browser.new_context(
                    viewport={"width": 375, "height": 740}, java_script_enabled=False
                )
                tab = context.new_page()
                asked: list[str] = []
                tab.on("request", lambda r: asked.append(r.url))
                answer = tab.goto(link)
                assert answer is not None and answer.status == 200
                body = tab.locator("body")
                assert "a•••e@example.org" in body.inner_text()
                assert "title:survey" in body.inner_text()
                assert subject in body.inner_text()  # the email just received, listed
                width = tab.evaluate("document.documentElement.scrollWidth")
                assert width <= 375  # no sideways scroll on a phone
                size = tab.locator("p").first.evaluate("e => getComputedStyle(e).fontSize")
                assert float(size.removesuffix("px")) >= 14
                button = tab.get_by_role("button", name="Unsubscribe")
                box = button.bounding_box()
                assert box is not None and box["height"] >= 44  # a thumb can hit it
                button.click()
                tab.wait_for_load_state()
                done = tab.get_by_role("status").inner_text()
                assert done == "You are unsubscribed. No more digests will be sent to this address."
                assert "You are unsubscribed since" in body.inner_text()
                assert tab.get_by_role("button").count() == 0  # only the operator can undo it
                assert context.cookies() == []
                assert {u.split("/u/")[0] for u in asked} == {f"http://127.0.0.1:{port}"}
                context.close()

            shown = run_bot("--config", str(config), "status", "--json", cwd=tmp_path)
            [alice] = json.loads(shown.stdout)["subscribers"]
            assert (alice["stopped"]["state"], alice["stopped"]["how"]) == ("unsubscribed", "page")
            assert "Traceback" not in daemon.log()
            assert daemon.stop() == 0
