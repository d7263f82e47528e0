"""The only HTTP code: a listing's bytes, with a total deadline, a byte cap and conditional GET.

`file://` URLs are read from disk with the same cap, so a listing can be a local file.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from bot import __version__
from bot.errors import FetchError

__all__ = ["Fetched", "Fetcher", "redact_url", "USER_AGENT"]

USER_AGENT = f"paper-digest-bot/{__version__} (+https://github.com/paper-digest-bot; self-hosted)"
DEFAULT_DEADLINE = 60.0  # seconds for the whole request, body included
DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # decoded bytes; a gzip bomb stops here
MAX_REDIRECTS = 5

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

    def __init__(self, *, deadline: float = DEFAULT_DEADLINE, max_bytes: int = DEFAULT_MAX_BYTES):
        self.deadline = deadline
        self.max_bytes = max_bytes
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
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
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
                phrase = response.reason_phrase or ""
                raise FetchError(
                    f"HTTP {response.status_code} {phrase} from {redact_url(url)}".replace(
                        "  ", " "
                    )
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
