"""`feed` sources: RSS 0.9x/1.0/2.0 and Atom through feedparser, given bytes, never a URL.

Pure: bytes in, Papers out. The body is hostile input (RELIABILITY.md findings 2-5): feedparser can
raise, expands some entities through its loose parser, reports error pages as healthy empty feeds
and yields half entries from truncated XML. Each of those is handled here; turning an entry into a
Paper is `bot.sources.feed_entries`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any
from xml.sax import SAXParseException

import feedparser
from feedparser.encodings import convert_to_utf8

from bot.errors import ParseError
from bot.sources.cleaning import collapse, html_page_title, html_to_text, looks_like_html
from bot.sources.feed_entries import is_arxiv_announce_feed, paper_from_entry
from bot.sources.listing import Listing

__all__ = ["parse_feed", "MAX_ENTITY_TEXT", "MAX_ENTITY_EXPANSION", "SKIPPED_CUT_OFF"]

SKIPPED_CUT_OFF = "feed item cut off by a truncated document (read again when it comes whole)"

# Internal-subset entities with more replacement text than this are refused: expat rejects the
# amplification, feedparser then retries with its loose parser, which expands them anyway
# (a 100 KB feed gave a 400 MB title: RELIABILITY.md finding 3). Real feeds declare at most
# short ones such as <!ENTITY nbsp "&#160;">.
MAX_ENTITY_TEXT = 16
# Short entities still amplify: 6 million references to a 16-character one (an 18 MB body) made a
# 96 MB title, +814 MB RSS and 14 s in feedparser. So the total expansion is capped as well.
MAX_ENTITY_EXPANSION = 1_000_000
_ENTITY = re.compile(r"<!ENTITY\s+(%\s*)?([^\s\"']+)\s+(\"[^\"]*\"|'[^']*'|\S+)", re.IGNORECASE)
_ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
# Entry fields whose absence from the last entry of a cut-off document means it was truncated.
_TRUNCATION_FIELDS = ("id", "link", "title", "summary", "arxiv_announce_type", "published")


def parse_feed(body: bytes, *, content_type: str | None = None, url: str = "") -> Listing:
    """The papers of an RSS/Atom body, in feed order; [] for a real feed with no entries. Entries
    that are not papers (entries.paper_from_entry) or were cut off are counted in `skipped`.

    `content_type` is the HTTP Content-Type (it can name the charset); `url` is where the body came
    from, used only to resolve relative links. Raises ParseError for a body that is not a feed (an
    HTML page, an empty body, JSON), an arXiv error feed or API error entry, a feed declaring large
    XML entities, and anything feedparser itself raises.
    """
    headers = _headers(content_type, url)
    # Checked on the text feedparser will parse: the body decoded by feedparser's own rules (BOM,
    # HTTP charset, XML declaration) and re-encoded as UTF-8. A bomb declared in EBCDIC or
    # UTF-32 is then seen like one in UTF-8 (issue 11 item 7: 70 KB of cp037, a 1.8 GB parse).
    _refuse_entity_bombs(_feedparser_call(convert_to_utf8, headers, body, {"headers": {}}))
    result = _feedparser_call(
        feedparser.parse,
        io.BytesIO(body),
        response_headers=headers,
        # sanitize_html=False: we never keep feed HTML, only its text (text.html_to_text), and
        # the sanitizer eats plain-text LaTeX such as "$c<d$" in arXiv abstracts it takes for HTML.
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if not result.get("version") and not result.get("entries"):
        raise ParseError(f"not a feed: {_describe_non_feed(body, content_type, result)}")
    feed_info = result.get("feed", {})
    feed_title = collapse(feed_info.get("title"))
    if "feed error for query" in feed_title.lower():
        # arXiv answers a bad category with this title and the reason in <description> (FORMATS 3).
        reason = html_to_text(feed_info.get("subtitle")) or feed_title
        raise ParseError(f"arXiv feed error: {reason}")
    entries = _complete_entries(result, body)
    listing = Listing()
    listing.skip(SKIPPED_CUT_OFF, len(result.get("entries", [])) - len(entries))
    for entry in entries:
        if "arxiv.org/api/errors" in str(entry.get("id", "")):
            # The API answers HTTP 200 with one entry whose summary is the error (FORMATS 4).
            message = collapse(entry.get("summary")) or collapse(entry.get("title")) or "unknown"
            raise ParseError(f"arXiv API error: {message}")
    announce_feed = is_arxiv_announce_feed(feed_info, entries)
    for entry in entries:
        paper = paper_from_entry(entry, announce_feed=announce_feed)
        if isinstance(paper, str):
            listing.skip(paper)
        else:
            listing.append(paper)
    return listing


def _headers(content_type: str | None, url: str) -> dict[str, str]:
    """The response headers feedparser is told about (it never sees the real response)."""
    headers: dict[str, str] = {}
    if content_type:
        headers["content-type"] = content_type
    if url:
        headers["content-location"] = url
    return headers


def _feedparser_call(function: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """function(*args, **options) from feedparser; anything it raises becomes ParseError
    (finding 2)."""
    try:
        return function(*args, **options)
    except Exception as error:  # noqa: BLE001 - feedparser's failure modes are open-ended
        detail = collapse(str(error))[:120]
        raise ParseError(
            f"not a readable feed: feedparser failed ({type(error).__name__}: {detail})"
        ) from None


def _refuse_entity_bombs(body: bytes) -> None:
    """ParseError when the DOCTYPE declares an entity that could amplify (finding 3).

    An entity is refused when it is external, a parameter entity, refers to other entities, or
    has more than MAX_ENTITY_TEXT characters of replacement text; the feed is refused when its
    references would expand to more than MAX_ENTITY_EXPANSION characters in all.
    """
    lowered = body.lower()
    for encoding in _ENCODINGS:
        start = lowered.find("<!doctype".encode(encoding))
        if start < 0 or "<!entity".encode(encoding) not in lowered[start:]:
            continue
        end = lowered.find("]>".encode(encoding), start)
        region = body[start : end if end >= 0 else len(body)].decode(encoding, errors="replace")
        expansion = 0
        for declaration in _ENTITY.finditer(region):
            name, value = declaration.group(2), declaration.group(3)
            quoted = value[:1] in ("'", '"')
            text = value[1:-1] if quoted else ""
            if (
                declaration.group(1)
                or not quoted
                or len(text) > MAX_ENTITY_TEXT
                or ("&" in text and not re.fullmatch(r"(&#x?[0-9a-fA-F]+;)+", text))
            ):
                what = f"{len(text)} characters" if quoted else "external or unquoted"
                raise ParseError(
                    f"refusing a feed whose DOCTYPE declares the XML entity {name[:40]!r} "
                    f"({what}): entity expansion can exhaust memory"
                )
            expansion += len(text) * body.count(f"&{name};".encode(encoding))
            if expansion > MAX_ENTITY_EXPANSION:
                raise ParseError(
                    f"refusing a feed whose XML entity references would expand to more than "
                    f"{MAX_ENTITY_EXPANSION:,} characters: entity expansion can exhaust memory"
                )


def _describe_non_feed(body: bytes, content_type: str | None, result: Any) -> str:
    """What was served instead of a feed, for the "not a feed: ..." message (finding 4)."""
    if not body.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        return "the body is empty"
    if looks_like_html(body, content_type) or re.search(rb"(?i)<html[\s>]", body[:4096]):
        title = html_page_title(body)
        return f"an HTML page was served (title {title!r})" if title else "an HTML page was served"
    problem = result.get("bozo_exception")
    if problem is not None:
        # SAXParseException's str() starts with a meaningless "<unknown>:2:0:" location.
        message = problem.getMessage() if isinstance(problem, SAXParseException) else str(problem)
        return f"no RSS or Atom element found ({collapse(message)[:120]})"
    return "no RSS or Atom element found"


def _complete_entries(result: Any, body: bytes) -> list[Any]:
    """The entries, minus a last entry cut short by a truncated document (finding 5).

    When the XML is not well-formed, feedparser still yields the entries it read; the last one can
    lack its id, abstract or announce type. It is dropped when the document has fewer closing
    </item> or </entry> tags than entries, or when it lacks a field every other entry has: it
    comes back whole next time, while a half entry could be a replace read as new, or a paper
    known by its title alone whose DOI was cut off.
    """
    entries = list(result.get("entries", []))
    problem = result.get("bozo_exception")
    harmless = isinstance(problem, feedparser.ThingsNobodyCaresAboutButMe)
    if not result.get("bozo") or harmless or not entries:
        return entries
    if _closed_entries(body, result.get("encoding")) < len(entries):
        return entries[:-1]  # the document ends inside its last entry
    if len(entries) < 2:
        return entries
    *complete, last = entries
    expected = {name for name in _TRUNCATION_FIELDS if all(name in e for e in complete)}
    return complete if any(name not in last for name in expected) else entries


_CLOSING = re.compile(r"</(?:[\w.-]+:)?(?:item|entry)\s*>", re.IGNORECASE)


def _closed_entries(body: bytes, encoding: str | None) -> int:
    """How many closing </item> or </entry> tags the body holds, read in feedparser's encoding."""
    try:
        text = body.decode(encoding or "utf-8", errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    return len(_CLOSING.findall(text))
