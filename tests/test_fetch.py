"""fetch.py against real servers on loopback: status codes, conditional GET, caps and deadlines."""

from __future__ import annotations

import asyncio
import gzip
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import http_site, raw_server

from bot.errors import FetchError
from bot.sources.fetch import USER_AGENT, Fetcher, RetryLater, redact_url, retry_after_seconds


def _fetch(url: str, **kwargs):
    async def go():
        options = ("deadline", "max_bytes", "politeness", "max_retry_wait")
        async with Fetcher(**{k: v for k, v in kwargs.items() if k in options}) as f:
            return await f.fetch(
                url, **{k: v for k, v in kwargs.items() if k in ("etag", "last_modified")}
            )

    return asyncio.run(go())


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


def test_a_server_that_never_answers_is_cut_at_the_deadline():
    def reply(conn, stop):
        stop.wait(30)

    with raw_server(reply) as url:
        started = time.monotonic()
        with pytest.raises(FetchError) as err:
            _fetch(url, deadline=0.5)
        elapsed = time.monotonic() - started
    assert str(err.value) == f"no complete answer within 0.5 s from {url}"
    assert elapsed < 2


def test_a_huge_content_length_is_refused_before_reading():
    def reply(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2000000000\r\n\r\n")
        stop.wait(30)

    with raw_server(reply) as url:
        started = time.monotonic()
        with pytest.raises(FetchError) as err:
            _fetch(url, max_bytes=1024 * 1024)
    assert str(err.value) == f"body larger than 1 MiB from {url}"
    assert time.monotonic() - started < 2


def test_gone_says_what_to_do():
    with http_site() as site:
        site.put("/old", "", status=410)
        with pytest.raises(FetchError) as err:
            _fetch(site.base + "/old")
    assert str(err.value) == (
        f"HTTP 410 Gone from {site.base}/old: the listing is gone; remove the source or fix its url"
    )


def scripted(replies: list[bytes]):
    """A raw-socket reply function answering each connection with the next of `replies`."""
    left = list(replies)

    def reply(conn, stop):
        conn.sendall(left.pop(0) if len(left) > 1 else left[0])

    return reply


TOO_MANY = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: %s\r\nConnection: close\r\n"
TOO_MANY += b"Content-Length: 0\r\n\r\n"
FINE = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nfine"


def test_a_short_retry_after_is_slept_then_retried_once():
    with raw_server(scripted([TOO_MANY % b"1", FINE])) as url:
        started = time.monotonic()
        fetched = _fetch(url, max_retry_wait=2)
        elapsed = time.monotonic() - started
    assert fetched.body == b"fine"
    assert 1.0 <= elapsed < 3


def test_a_second_429_after_the_retry_is_an_error():
    with raw_server(scripted([TOO_MANY % b"0"])) as url:
        with pytest.raises(RetryLater) as err:
            _fetch(url)
    assert str(err.value) == f"HTTP 429 Too Many Requests from {url}: asked to retry after 0 s"


def test_a_long_retry_after_is_not_slept():
    date = b"Wed, 21 Oct 2099 07:28:00 GMT"
    with raw_server(scripted([TOO_MANY % b"120", TOO_MANY % date])) as url:
        started = time.monotonic()
        with pytest.raises(RetryLater) as err:
            _fetch(url, max_retry_wait=5)
        assert time.monotonic() - started < 1
        assert err.value.seconds == 120
        assert str(err.value).endswith(": asked to retry after 120 s")
        with pytest.raises(RetryLater) as dated:
            _fetch(url, max_retry_wait=5)
    assert dated.value.seconds == 86_400  # a date in 2099 is honoured up to a day (SPEC 3)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120),
        (" 7 ", 7),
        ("Mon, 27 Apr 2026 12:02:00 GMT", 120),
        ("Mon, 27 Apr 2026 11:00:00 GMT", 0),
        ("soon", None),
        ("", None),
        (None, None),
        ("-5", None),
        ("\u00b2", None),  # "²".isdigit() is True, but it is no number of seconds
    ],
)
def test_retry_after_header_values(value, seconds):
    now = datetime(2026, 4, 27, 12, 0, tzinfo=UTC)
    assert retry_after_seconds(value, now) == seconds


def test_requests_to_one_host_are_spaced_by_the_politeness_delay():
    async def go():
        async with Fetcher(politeness=0.4) as fetcher:
            started = time.monotonic()
            await asyncio.gather(*(fetcher.fetch(url) for _ in range(3)))
            return time.monotonic() - started

    with http_site() as site:
        url = site.put("/x", "hello")
        elapsed = asyncio.run(go())
    assert 0.8 <= elapsed < 2
    assert len(site.requests) == 3
