"""The recipients' page served by `bot run` (a subprocess), over HTTP with httpx: one-click
unsubscribe, a GET that changes nothing, tokens that name nobody, hostile requests; and two
daemons on one PostgreSQL ledger."""

from __future__ import annotations

import json
import os
import secrets
import socket
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from support import BotRun, free_port, http_site, page_settings, run_bot, smtp_server, wait_until

from tests.test_daemon import PAGE, _expected, _mail_for, _more_polls

ALICE, BOB = "alice@example.org", "bob@example.org"
SECRET = "a-long-random-secret-for-the-page-tests-0123"
PUBLIC = "https://digest.example.org"


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("BOT_WEB_SECRET", SECRET)  # BotRun passes the environment on


def _with_web(config: Path, port: int, base_url: str = PUBLIC, database: str | None = None) -> str:
    """Add [web] (and maybe another database) to a page_settings file; the page's local URL."""
    text = config.read_text(encoding="utf-8")
    if database:
        text = text.replace('database = "sqlite:///bot.db"', f"database = {database!r}")
    web = f'\n[web]\nlisten = "127.0.0.1:{port}"\nbase_url = "{base_url}"\n'
    config.write_text(text.replace("[[sources]]", web + "\n[[sources]]", 1), encoding="utf-8")
    return f"http://127.0.0.1:{port}"


def _path_in(message) -> str:
    """The page's path from a received email's List-Unsubscribe header (behind the proxy)."""
    header = message["List-Unsubscribe"]
    assert header.startswith(f"<{PUBLIC}/u/") and header.endswith(">"), header
    return header[1 + len(PUBLIC) : -1]


def _status(folder: Path, config: Path) -> dict:
    shown = run_bot("--config", str(config), "status", "--json", cwd=folder)
    assert shown.returncode == 0, shown.stderr
    return {p["email"]: p for p in json.loads(shown.stdout)["subscribers"]}


@contextmanager
def _running(tmp_path: Path, people: list[str]) -> Iterator[tuple]:
    with http_site() as site, smtp_server() as (inbox, smtp_port):
        url = site.put("/papers", PAGE[0].read_bytes())
        config = page_settings(tmp_path, url, smtp_port, people)
        local = _with_web(config, free_port())
        with BotRun(tmp_path, config) as daemon, httpx.Client(base_url=local, timeout=10) as web:
            assert wait_until(lambda: "web=listening" in daemon.log(), 20), daemon.log()
            for email in people:
                assert wait_until(lambda e=email: len(_mail_for(inbox, e)) == 1, 20), daemon.log()
            yield site, inbox, config, daemon, web
            assert "Traceback" not in daemon.log()
            assert daemon.stop() == 0


def test_one_click_stops_that_subscriber_only_and_a_get_changes_nothing(tmp_path: Path):
    with _running(tmp_path, [ALICE, BOB]) as (site, inbox, config, daemon, web):
        [first] = _mail_for(inbox, ALICE)
        assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        path = _path_in(first)
        for _ in range(3):  # a link scanner, a preview, the recipient
            page = web.get(path)
            assert page.status_code == 200 and "a•••e@example.org" in page.text
            assert "<code>title:survey</code>" in page.text
            assert web.head(path).status_code == 200
        assert _status(tmp_path, config)[ALICE]["stopped"] is None

        click = web.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert click.status_code == 200
        site.put("/papers", PAGE[1].read_bytes())
        assert wait_until(lambda: len(_mail_for(inbox, BOB)) == 2, 20), daemon.log()
        assert wait_until(_more_polls(site, "/papers"), 10), daemon.log()
        assert len(_mail_for(inbox, ALICE)) == 1  # nothing after the click
        shown = _status(tmp_path, config)
        assert shown[ALICE]["stopped"]["state"] == "unsubscribed"
        assert shown[ALICE]["stopped"]["how"] == "one-click"
        assert shown[ALICE]["deliveries"]["dropped"] == len(_expected(ALICE, 1)) > 0
        assert shown[BOB]["stopped"] is None
        assert "You are unsubscribed" in web.get(path).text


def test_wrong_tokens_get_the_404_of_a_missing_page_and_a_token_survives_an_edit(tmp_path: Path):
    with _running(tmp_path, [ALICE, BOB]) as (site, inbox, config, daemon, web):
        alice = _path_in(_mail_for(inbox, ALICE)[0])
        bob = _path_in(_mail_for(inbox, BOB)[0])
        head, tail = alice.removeprefix("/u/").split(".")
        bob_head = bob.removeprefix("/u/").split(".")[0]
        missing = web.get("/no/such/page")
        assert missing.status_code == 404
        wrong = [
            f"/u/{bob_head}.{tail}",  # Bob's address under Alice's signature
            f"/u/{head}.{tail[:-1]}",  # truncated
            f"/u/{head}",
            alice[:-5],
            f"/u/{urllib.parse.quote(os.urandom(40), safe='')}",  # random bytes
            f"/u/{secrets.token_urlsafe(30)}.{secrets.token_urlsafe(16)}",
        ]
        for path in wrong:
            for method in ("GET", "POST"):
                answer = web.request(method, path, content=b"List-Unsubscribe=One-Click")
                assert (answer.status_code, answer.text) == (404, missing.text), (method, path)
        assert _status(tmp_path, config)[ALICE]["stopped"] is None
        assert "b•••b@example.org" in web.get(bob).text  # Bob's own page is Bob's

        # The settings file edited: Alice's query changed, Bob moved above her.
        text = config.read_text(encoding="utf-8")
        edited = text.replace("keywords = ['title:survey']", "keywords = ['title:benchmark']")
        alice_at, bob_at = edited.index(f'email = "{ALICE}"'), edited.index(f'email = "{BOB}"')
        start = edited.rindex("[[subscribers]]", 0, alice_at)
        middle = edited.rindex("[[subscribers]]", 0, bob_at)
        edited = edited[:start] + edited[middle:] + "\n" + edited[start:middle]
        config.write_text(edited, encoding="utf-8")
        assert wait_until(lambda: "settings=reloaded" in daemon.log(), 10), daemon.log()
        page = web.get(alice)
        assert page.status_code == 200 and "<code>title:benchmark</code>" in page.text
        paused = web.post(alice, data={"action": "pause"})
        assert (
            paused.status_code == 200 and "Paused. Nothing is sent until you resume." in paused.text
        )
        assert _status(tmp_path, config)[ALICE]["stopped"]["state"] == "paused"
        resumed = web.post(alice, data={"action": "resume"})
        assert "Resumed." in resumed.text
        assert _status(tmp_path, config)[ALICE]["stopped"] is None
        # RFC 8058 section 3.1 lets a mail client send the one-click body as multipart/form-data.
        click = web.post(bob, files={"List-Unsubscribe": (None, "One-Click")})
        assert click.status_code == 200
        assert click.request.headers["Content-Type"].startswith("multipart/form-data")
        assert _status(tmp_path, config)[BOB]["stopped"]["how"] == "one-click"


def test_hostile_requests_get_plain_answers_never_a_500_or_a_traceback(tmp_path: Path):
    with _running(tmp_path, [ALICE]) as (site, inbox, config, daemon, web):
        path = _path_in(_mail_for(inbox, ALICE)[0])
        checks = [
            ("POST", path, {"content": b"x" * 2_000_000}, 413),
            ("POST", path, {"content": b"\xff\xfe\x00garbage"}, 400),
            ("POST", path, {"content": b"&".join(b"a=%d" % n for n in range(50))}, 400),
            ("POST", path, {"data": {"action": "delete-everything"}}, 400),
            (
                "POST",
                path,
                {"content": b"--x\r\nbroken", "headers": {"Content-Type": "multipart/form-data"}},
                400,
            ),
            ("POST", path, {"content": b""}, 400),
            ("PUT", path, {}, 405),
            ("DELETE", path, {}, 405),
            ("PATCH", path, {}, 405),
            ("OPTIONS", path, {}, 405),
            ("TRACE", path, {}, 405),
            ("GET", "/", {}, 404),
            ("GET", "/u/", {}, 404),
            ("GET", path + "/extra", {}, 404),
            ("GET", "/u/%2e%2e%2f%2e%2e%2fetc%2fpasswd", {}, 404),
            ("GET", "/u/" + "A" * 5000, {}, 404),
            ("GET", "/u/%00%01%02", {}, 404),
            ("GET", path + "?action=unsubscribe&List-Unsubscribe=One-Click", {}, 200),
        ]
        for method, where, options, status in checks:
            answer = web.request(method, where, **options)
            assert answer.status_code == status, (method, where[:60], answer.text[:200])
        # Not HTTP at all, and a request line far too long.
        host, port = web.base_url.host, web.base_url.port
        for raw in (
            b"\x16\x03\x01\x02\x00" + os.urandom(200),
            b"GET /" + b"u" * 70000 + b" HTTP/1.1\r\n\r\n",
        ):
            with socket.create_connection((host, port), timeout=5) as sock:
                sock.sendall(raw)
                reply = sock.recv(200)
            assert not reply or reply.startswith(b"HTTP/1.") and b" 500 " not in reply[:20]
        assert _status(tmp_path, config)[ALICE]["stopped"] is None  # none of it changed anything
        assert web.get(path).status_code == 200  # and the page still answers


def test_a_taken_listen_address_is_one_line_and_exit_2(tmp_path: Path):
    with socket.socket() as taken, smtp_server() as (_, smtp_port):
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = page_settings(tmp_path, "http://127.0.0.1:9/papers", smtp_port, [ALICE])
        _with_web(config, port)
        result = run_bot("--config", str(config), "run", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"error: {config}: web.listen: cannot listen on 127.0.0.1:{port}: Address already in use"
        " (stop what listens there, or choose another listen address)"
    )


def test_an_opt_out_through_one_daemon_stops_sending_from_both(tmp_path: Path, pg_database_url):
    """Two `bot run` on one PostgreSQL ledger, each serving the page on its own port: Alice's
    one-click through the one that does not lead stops her mail from both."""
    with http_site() as site, smtp_server() as (inbox, smtp_port):
        url = site.put("/papers", PAGE[0].read_bytes())
        daemons, locals_ = [], []
        for name in ("one", "two"):
            folder = tmp_path / name
            folder.mkdir()
            config = page_settings(folder, url, smtp_port, [ALICE, BOB])
            locals_.append(_with_web(config, free_port(), database=pg_database_url))
            daemons.append((folder, config))
        with BotRun(*daemons[0]) as one, BotRun(*daemons[1]) as two:
            for d in (one, two):
                assert wait_until(lambda d=d: "web=listening" in d.log(), 20), d.log()
            for email in (ALICE, BOB):
                assert wait_until(lambda e=email: len(_mail_for(inbox, e)) == 1, 30), one.log()
            standby = 1 if "daemon=standby" in two.log() else 0
            path = _path_in(_mail_for(inbox, ALICE)[0])
            click = httpx.post(
                locals_[standby] + path, content=b"List-Unsubscribe=One-Click", timeout=10
            )
            assert click.status_code == 200
            site.put("/papers", PAGE[1].read_bytes())
            assert wait_until(lambda: len(_mail_for(inbox, BOB)) == 2, 30), one.log() + two.log()
            assert wait_until(_more_polls(site, "/papers"), 10)
            assert len(_mail_for(inbox, ALICE)) == 1
            for d in (one, two):
                assert "Traceback" not in d.log()
                assert d.stop() == 0
