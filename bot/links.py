"""A paper's link (SPEC section 3, "Links"): pure functions, no I/O.

A paper links to its own page (arXiv abs page, DOI resolver, the item's link), or to the link
another source gave for it (the store merges those), else to a title search at arXiv, labelled as
a search.
A source's own URL is never a paper's link, and no link shown anywhere carries credentials
(user:password@) or the source URL's query string (API tokens are passed there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from bot.models import Paper

__all__ = ["PaperLink", "paper_link", "own_link", "search_link", "http_link", "scrub"]

# A source URL's query value this long may be a token; shorter ones (`rss=1`, `format=atom`) are
# too common in papers' links to be taken for one.
_TOKEN_LENGTH = 8
_ARXIV_ID = re.compile(r"[A-Za-z0-9.\-/]+")
_CONTROLS_OR_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f]")
# Query parameters that carry a secret whatever the source: never shown (OAuth, API keys, signed
# URLs such as X-Amz-Signature). Matched on the whole lower-cased name, so `author` or `keywords`
# stay.
_SECRET_PARAMS = re.compile(
    r"(?:.*[-_.])?(?:token|secret|password|passwd|pwd|api[-_]?key|apikey|key|sig|signature|auth"
    r"|credential|session|sessionid)"
)


@dataclass(frozen=True, slots=True)
class PaperLink:
    """The link shown for a paper; `search` is True for a title search, not the paper's page."""

    url: str
    search: bool = False


def http_link(url: str | None) -> str | None:
    """`url` when it is an http(s) URL with a host, whitespace and controls removed, userinfo
    dropped; None otherwise (javascript:, data:, ftp:, relative links are not links we show)."""
    if not url:
        return None
    cleaned = _CONTROLS_OR_SPACE.sub("", url)
    try:
        parts = urlsplit(cleaned)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    netloc = parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
    if port is None and netloc.endswith(":"):
        netloc = netloc[:-1]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def scrub(url: str, source_urls: Iterable[str] = ()) -> str | None:
    """`url` fit to show as a paper's link, or None when it is no paper's link.

    None: not http(s), or a source's own URL (same host and path, and no query parameter of its
    own: the listing page; `index.php?p=7` under a source `index.php?feed=rss` is a paper's page).
    Dropped: the userinfo, and query parameters that carry a secret — named like one, or with a
    value (of a token's length) that a source URL's query carries.
    """
    link = http_link(url)
    if link is None:
        return None
    parts = urlsplit(link)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    secrets: set[str] = set()
    for source in source_urls:
        try:
            theirs = urlsplit(_CONTROLS_OR_SPACE.sub("", source))
        except ValueError:
            continue
        their_pairs = parse_qsl(theirs.query, keep_blank_values=True)
        if _place(theirs) == _place(parts) and set(pairs) <= set(their_pairs):
            return None
        secrets.update(v for _, v in their_pairs if len(v) >= _TOKEN_LENGTH)
    if not pairs:
        return link
    kept = [
        (k, v) for k, v in pairs if v not in secrets and not _SECRET_PARAMS.fullmatch(k.lower())
    ]
    if len(kept) == len(pairs):
        return link
    return urlunsplit(parts._replace(query=urlencode(kept)))


def _place(parts) -> tuple[str, str, str]:
    """(host, port, path) of a split URL: what makes two URLs the same page, whoever asks."""
    try:
        port = str(parts.port or "")
    except ValueError:
        port = "?"
    return ((parts.hostname or "").lower(), port, parts.path.rstrip("/") or "/")


def own_link(paper: Paper, source_urls: Iterable[str] = ()) -> str | None:
    """The paper's own link: arXiv abs page, DOI resolver, else its (merged) item link."""
    if paper.arxiv_id and _ARXIV_ID.fullmatch(paper.arxiv_id):
        return f"https://arxiv.org/abs/{paper.arxiv_id}"
    if paper.doi and not _CONTROLS_OR_SPACE.search(paper.doi):
        return "https://doi.org/" + quote(paper.doi, safe="/:;()._-")
    return scrub(paper.url, source_urls)


def search_link(title: str) -> PaperLink:
    """A title search at arXiv: the link of last resort (a title-only listing line)."""
    words = " ".join(title.split())[:300]
    query = urlencode({"query": words, "searchtype": "title"})
    return PaperLink(f"https://arxiv.org/search/?{query}", search=True)


def paper_link(paper: Paper, source_urls: Iterable[str] = ()) -> PaperLink:
    """The link shown for `paper`: its own, else a title search (`.search` is then True)."""
    own = own_link(paper, source_urls)
    return PaperLink(own) if own else search_link(paper.title)
