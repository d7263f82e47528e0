"""fetch.py against real servers on loopback: status codes, conditional GET, caps and deadlines."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from support import http_site

from bot.errors import FetchError
from bot.fetch import USER_AGENT, Fetcher, redact_url


def _fetch(url: str, **kwargs):
    async def go():
        async with Fetcher(
            **{k: v for k, v in kwargs.items() if k in ("deadline", "max_bytes")}
        ) as f:
            return await f.fetch(
                url, **{k: v for k, v in kwargs.items() if k in ("etag", "last_modified")}
            )

    return asyncio.run(go())


@contextmanager
def raw_server(reply):
    """A TCP server on loopback whose every connection is handled by `reply(conn)`."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                try:
                    reply(conn, stop)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/feed"
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def test_a_page_is_fetched_with_our_user_agent():
    with http_site() as site:
        url = site.put("/x", "hello", "text/plain")
        fetched = _fetch(url)
    assert fetched.body == b"hello"
    assert fetched.content_type == "text/plain"
    assert USER_AGENT.startswith("paper-digest-bot/")


def test_http_errors_name_the_status_and_the_url():
    with http_site() as site:
        with pytest.raises(FetchError) as err:
            _fetch(site.base + "/nothing")
    assert str(err.value) == f"HTTP 404 Not Found from {site.base}/nothing"


def test_a_file_url_is_read_and_a_missing_file_is_one_line(tmp_path: Path):
    page = tmp_path / "page.txt"
    page.write_bytes(b"listing")
    assert _fetch(page.as_uri()).body == b"listing"
    with pytest.raises(FetchError) as err:
        _fetch((tmp_path / "missing.txt").as_uri())
    assert str(err.value) == f"cannot read {tmp_path / 'missing.txt'}: No such file or directory"


def test_not_modified_gives_no_body():
    def reply(conn, stop):
        conn.sendall(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 0\r\n\r\n')

    with raw_server(reply) as url:
        fetched = _fetch(url, etag='"v1"')
    assert fetched.body is None and fetched.etag == '"v1"'


def test_a_slow_drip_is_cut_at_the_total_deadline():
    def reply(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while not stop.is_set():
            conn.sendall(b"x")
            time.sleep(0.1)

    with raw_server(reply) as url:
        started = time.monotonic()
        with pytest.raises(FetchError) as err:
            _fetch(url, deadline=1.0)
        elapsed = time.monotonic() - started
    assert str(err.value) == "no complete answer within 1 s from " + url
    assert elapsed < 5


def test_a_gzip_bomb_stops_at_the_decoded_byte_cap():
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))

    def reply(conn, stop):
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
            + str(len(bomb)).encode()
            + b"\r\n\r\n"
            + bomb
        )

    with raw_server(reply) as url:
        with pytest.raises(FetchError) as err:
            _fetch(url, max_bytes=1024 * 1024)
    assert str(err.value) == f"body larger than 1 MiB from {url}"


def test_a_redirect_loop_is_bounded():
    def reply(conn, stop):
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: /feed\r\nConnection: close\r\n"
            b"Content-Length: 0\r\n\r\n"
        )

    with raw_server(reply) as url:
        with pytest.raises(FetchError) as err:
            _fetch(url)
    assert str(err.value) == f"more than 5 redirects from {url}"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:secret@example.org/feed?api_key=123", "https://example.org/feed?…"),
        ("http://example.org:8080/rss/cs.CL", "http://example.org:8080/rss/cs.CL"),
    ],
)
def test_credentials_and_query_tokens_never_show(url: str, shown: str):
    assert redact_url(url) == shown
