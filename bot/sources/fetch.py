"""The only HTTP code: a listing's bytes, with a total deadline, a byte cap and conditional GET.

Also: redirects bounded, Retry-After honoured on 429/503 (a short wait is slept and retried once,
a longer one is a RetryLater error), and a minimum delay between two requests to the same host.
`file://` URLs are read from disk with the same cap, so a listing can be a local file.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from bot import __version__
from bot.errors import FetchError
from bot.sources.health import MAX_RETRY_AFTER, asked_to_retry

__all__ = [
    "Fetched",
    "Fetcher",
    "RetryLater",
    "redact_url",
    "retry_after_seconds",
    "USER_AGENT",
    "MAX_RETRY_AFTER",
]

USER_AGENT = f"paper-digest-bot/{__version__} (+https://github.com/paper-digest-bot; self-hosted)"
DEFAULT_DEADLINE = 60.0  # seconds for the whole request, body included
DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # decoded bytes; a gzip bomb stops here
MAX_REDIRECTS = 5
DEFAULT_POLITENESS = 1.0  # seconds between two request starts to the same host
DEFAULT_MAX_RETRY_WAIT = 5.0  # a Retry-After up to this is slept inside the poll, then retried once

# httpx logs every request URL at INFO, credentials and query tokens included
# (RELIABILITY.md finding 8); our own log line carries the redacted URL instead.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetch result: `body` is None when the server said 304 Not Modified."""

    body: bytes | None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None


class RetryLater(FetchError):
    """The server answered 429 or 503 and asked to be asked again after `seconds`."""

    def __init__(self, message: str, seconds: int):
        super().__init__(message)
        self.seconds = seconds


def retry_after_seconds(value: str | None, now: datetime) -> int | None:
    """The wait a Retry-After header asks for, in whole seconds (RFC 9110 10.2.3: delay-seconds or
    an HTTP-date), at most MAX_RETRY_AFTER; None when absent or unreadable. Pure: `now` is passed.
    """
    text = (value or "").strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():  # "²".isdigit() is True, int("²") raises
        # Compared as text first: int() of a 5,000-digit header is refused by Python itself.
        return MAX_RETRY_AFTER if len(text) > 6 else min(int(text), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, min(int((when - now).total_seconds() + 0.999), MAX_RETRY_AFTER))


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    """The first exception inside (possibly nested) exception groups."""
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def redact_url(url: str) -> str:
    """The URL without user:password and without its query string, for logs and messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = "…" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class Fetcher:
    """One shared HTTP client for a poll; use as `async with Fetcher() as f: await f.fetch(url)`."""

    def __init__(
        self,
        *,
        deadline: float = DEFAULT_DEADLINE,
        max_bytes: int = DEFAULT_MAX_BYTES,
        politeness: float = DEFAULT_POLITENESS,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
    ):
        """`politeness`: minimum seconds between two request starts to one host (0: none);
        `max_retry_wait`: the longest Retry-After slept before the one retry."""
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.politeness = politeness
        self.max_retry_wait = max_retry_wait
        self._hosts: dict[str, tuple[asyncio.Lock, list[float]]] = {}
        self._client = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(min(30.0, deadline), connect=min(10.0, deadline)),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            trust_env=False,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        """The body at `url`, or body None on 304; raises FetchError naming the redacted URL."""
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file":
            return self._read_file(url)
        if scheme not in ("http", "https"):
            raise FetchError(
                f"unsupported URL scheme {scheme!r} in {redact_url(url)} (use http, https or file)"
            )
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            return await self._attempt(url, headers)
        except RetryLater as asked:
            if asked.seconds > self.max_retry_wait:
                raise
            await asyncio.sleep(asked.seconds)
            return await self._attempt(url, headers)

    async def _attempt(self, url: str, headers: dict[str, str]) -> Fetched:
        """One request, after the host's politeness delay, within the total deadline."""
        await self._wait_for_host(urlsplit(url).hostname or "")
        try:
            # httpx timeouts are per socket operation; a server dripping one byte at a time
            # would never trip them (RELIABILITY.md finding 8), so the deadline is outside.
            async with asyncio.timeout(self.deadline):
                return await self._get(url, headers)
        except TimeoutError:
            raise FetchError(
                f"no complete answer within {self.deadline:g} s from {redact_url(url)}"
            ) from None
        except httpx.TooManyRedirects:
            raise FetchError(
                f"more than {MAX_REDIRECTS} redirects from {redact_url(url)}"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, OverflowError) as exc:
            # InvalidURL, ValueError, OverflowError: a URL httpx cannot use, e.g. a redirect to
            # port 99999 ("port must be 0-65535"); a server's bad Location is the source's fault.
            reason = str(exc) or type(exc).__name__
            raise FetchError(f"cannot fetch {redact_url(url)}: {reason}") from None
        except ExceptionGroup as group:  # anyio's connect wraps such errors (happy eyeballs)
            leaf = _first_leaf(group)
            if not isinstance(leaf, OSError | ValueError | OverflowError):
                raise
            reason = str(leaf) or type(leaf).__name__
            raise FetchError(f"cannot fetch {redact_url(url)}: {reason}") from None

    async def _get(self, url: str, headers: dict[str, str]) -> Fetched:
        async with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return Fetched(
                    None,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                )
            if response.status_code != 200:
                raise _status_error(response, url)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes and not _encoded(response):
                raise FetchError(
                    f"body larger than {self.max_bytes // 2**20} MiB from {redact_url(url)}"
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():  # decoded bytes: the cap holds for gzip too
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchError(
                        f"body larger than {self.max_bytes // 2**20} MiB from {redact_url(url)}"
                    )
                chunks.append(chunk)
            return Fetched(
                b"".join(chunks),
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )

    async def _wait_for_host(self, host: str) -> None:
        """Sleep until `politeness` seconds have passed since the last request start to `host`."""
        if self.politeness <= 0:
            return
        lock, last = self._hosts.setdefault(host, (asyncio.Lock(), []))
        async with lock:
            if last:
                await asyncio.sleep(max(0.0, last[0] + self.politeness - time.monotonic()))
            last[:] = [time.monotonic()]

    def _read_file(self, url: str) -> Fetched:
        path = Path(unquote(urlsplit(url).path))
        try:
            with path.open("rb") as handle:
                body = handle.read(self.max_bytes + 1)
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(body) > self.max_bytes:
            raise FetchError(f"file larger than {self.max_bytes // (1024 * 1024)} MiB: {path}")
        content_type = "text/html" if path.suffix in (".html", ".htm") else None
        return Fetched(body, content_type=content_type)


def _status_error(response: httpx.Response, url: str) -> FetchError:
    """The error for a status other than 200 and 304: RetryLater when 429/503 name a wait."""
    status = response.status_code
    shown = f"HTTP {status} {response.reason_phrase or ''}".strip() + f" from {redact_url(url)}"
    if status in (429, 503):
        seconds = retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))
        if seconds is not None:
            return RetryLater(f"{shown}: {asked_to_retry(seconds)}", seconds)
    if status == 410:
        return FetchError(f"{shown}: the listing is gone; remove the source or fix its url")
    return FetchError(shown)


def _encoded(response: httpx.Response) -> bool:
    """Whether the body is content-encoded (its Content-Length then counts compressed bytes)."""
    return response.headers.get("content-encoding", "identity").strip().lower() != "identity"
