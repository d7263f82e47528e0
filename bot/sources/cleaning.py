"""Text cleaning shared by the parsers: whitespace, HTML, links, timestamps.

Pure functions. FORMATS.md section 7 is the source: HF and arXiv-API values are hard-wrapped,
bioRxiv values are padded with tabs and newlines, Nature titles and content are HTML.
"""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime

__all__ = [
    "collapse",
    "html_to_text",
    "looks_like_html",
    "html_page_title",
    "http_url",
    "utc_from_struct",
    "utc_from_iso",
]

_SPACE = re.compile(r"\s+")
# C0/C1 controls other than whitespace never belong in a title or abstract; they break mail
# headers and XML later on (RELIABILITY.md finding 11). Lone surrogates (JSON's "\ud800" escape
# decodes to one) cannot be encoded at all: the ledger's INSERT raised (issue 11 item 4).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Only real HTML element names count as tags, so plain-text LaTeX such as "$a<b$" survives when a
# feed mislabels plain text as HTML.
_TAG_NAMES = (
    "a|abbr|acronym|address|article|aside|b|bdi|bdo|big|blockquote|body|br|caption|center|cite|"
    "code|col|colgroup|dd|del|dfn|div|dl|dt|em|figcaption|figure|font|footer|h[1-6]|head|header|"
    "hr|html|i|img|ins|kbd|label|li|main|mark|math|mi|mn|mo|mrow|msub|msup|nav|ol|p|picture|pre|"
    "q|s|samp|section|small|source|span|strike|strong|sub|sup|table|tbody|td|tfoot|th|thead|"
    "time|title|tr|tt|u|ul|var|wbr"
)
_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
    "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
}  # fmt: skip
_TAG = re.compile(rf"</?({_TAG_NAMES})(?:\s[^<>]*)?/?>", re.IGNORECASE)
# TeX math in abstracts (arXiv writes "$a<b$"). [^$]* keeps the scan linear on hostile text.
_MATH = re.compile(r"(\$\$[^$]*\$\$|\$[^$]+\$)")
_HIDDEN = re.compile(r"<(script|style|head)\b|<!--", re.IGNORECASE)
_HTML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<(?:!doctype\s+html|html[\s>])", re.IGNORECASE)
# Bounded, so a page of unclosed <title> tags costs linear time, not quadratic.
_TITLE = re.compile(r"<title[^>]{0,200}>(.{0,2000}?)</title\s*>", re.IGNORECASE | re.DOTALL)


def collapse(text: str | None) -> str:
    """The text with control characters and lone surrogates dropped and every whitespace run made
    one space, trimmed."""
    if not text:
        return ""
    return _SPACE.sub(" ", _CONTROL.sub("", text)).strip()


def html_to_text(markup: str | None) -> str:
    """The visible text of an HTML fragment: scripts and comments dropped, tags removed, entities
    decoded, whitespace collapsed. Inline tags vanish (S<sub>N</sub>2 -> SN2); block tags separate.

    LaTeX stays as written: inside $...$ and $$...$$ nothing is taken for a tag, so "$a<b>c$"
    (a < b > c) and "$x<head$" keep every character; entities are decoded there too.
    """
    if not markup:
        return ""
    parts = _MATH.split(markup)  # odd indexes are the math spans
    for index in range(0, len(parts), 2):
        text = _drop_hidden(parts[index])
        parts[index] = _TAG.sub(lambda m: " " if m.group(1).lower() in _BLOCK_TAGS else "", text)
    return collapse(html.unescape("".join(parts)))


def _drop_hidden(markup: str) -> str:
    """The markup without scripts, styles, <head> and comments. An unclosed one loses only its
    opening tag: the rest is text a reader was meant to see ("A <script> in a title").

    A scan with str.find rather than a lazy regex, and each closing tag looked for at most once
    after it was found missing, so that hostile markup full of unclosed <script> tags costs
    linear time.
    """
    lowered = markup.lower()
    missing: set[str] = set()  # closers absent from the rest of the markup
    kept: list[str] = []
    position = 0
    while found := _HIDDEN.search(markup, position):
        kept.append(markup[position : found.start()])
        closer = f"</{found.group(1).lower()}" if found.group(1) else "-->"
        close = -1 if closer in missing else lowered.find(closer, found.end())
        if close >= 0:
            close = lowered.find(">", close) if found.group(1) else close + 2
        if close >= 0:
            position = close + 1
        else:
            missing.add(closer)
            end = markup.find(">", found.end()) if found.group(1) else found.end() - 1
            position = (end if end >= 0 else found.end() - 1) + 1
        kept.append(" ")
    kept.append(markup[position:])
    return "".join(kept)


def looks_like_html(body: bytes, content_type: str | None = None) -> bool:
    """Whether a fetched body is an HTML document: it starts with <!doctype html> or <html>, or the
    server called it text/html and it has markup near the top (a plain-text body mislabelled as HTML
    is still read as text).
    """
    if _HTML_START.match(body[:1024]):
        return True
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("text/html", "application/xhtml+xml"):
        return re.search(rb"<[A-Za-z!/]", body[:4096]) is not None
    return False


def html_page_title(body: bytes) -> str:
    """The <title> of an HTML body, cleaned and cut to 80 characters; "" when there is none."""
    found = _TITLE.search(body[:65536].decode("utf-8", errors="replace"))
    title = html_to_text(found.group(1)) if found else ""
    return title if len(title) <= 80 else title[:77] + "..."


def http_url(url: str | None) -> str:
    """The URL with all whitespace removed when it is http(s); "" otherwise (javascript:, data:,
    relative or empty links are dropped: RELIABILITY.md finding 11).
    """
    cleaned = "".join((url or "").split())
    return cleaned if re.match(r"^https?://[^/?#\s]+", cleaned, re.IGNORECASE) else ""


def utc_from_struct(value: time.struct_time | None) -> datetime | None:
    """An aware UTC datetime from feedparser's *_parsed struct_time (always UTC); None if absent."""
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def utc_from_iso(value: object) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string ("2024-10-25T00:57:09.392Z"); a value without
    an offset is taken as UTC; None when absent or unreadable.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
