"""Paper text cut into pieces for the templates: highlights, URLs, 78-column wrapping; pure.

A highlight never lands inside a URL, only http(s) URLs become links (SPEC section 6), and the
plain-text part is wrapped without ever cutting a URL.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from urllib.parse import urlsplit

from bot.text import one_line

__all__ = ["WIDTH", "INDENT", "safe_link", "wrap", "marked_text", "url_spans", "segments"]

# Plain-text layout: lines of at most WIDTH columns (SPEC section 6: 78, what a terminal mail
# client shows without wrapping), paper details indented under the title.
WIDTH = 78
INDENT = "    "
# Visible marker around a matched term in the text part (the HTML part uses <mark>).
MARK_OPEN, MARK_CLOSE = "*", "*"
# A URL in an abstract: no highlight inside it; http(s) ones become links in HTML (SPEC section 6).
# Trailing punctuation is the sentence's, not the URL's.
URL = re.compile(
    r"(?:\b[A-Za-z][A-Za-z0-9+.\-]*://|\bwww\.|\b(?:javascript|vbscript|data|mailto):)[^\s<>\"]+",
    re.IGNORECASE,
)
URL_TAIL = ".,;:!?'\""


def safe_link(url: str | None, schemes: tuple[str, ...]) -> str | None:
    """`url` when its scheme is one of `schemes` (and http(s) has a host); None otherwise.

    Autoescaping does not protect `href="javascript:…"`, so the scheme is checked here.
    """
    if not url:
        return None
    link = one_line(url).replace(" ", "%20")
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in schemes or (scheme in ("http", "https") and not parts.netloc):
        return None
    return link


def wrap(text: str) -> str:
    """`text` wrapped at WIDTH, indented; a URL is never cut (it would stop working), other words
    longer than a line are."""
    words = []
    for word in text.split(" "):
        if len(word) > WIDTH - len(INDENT) and not URL.match(word):
            step = WIDTH - len(INDENT)
            words += [word[i : i + step] for i in range(0, len(word), step)]
        else:
            words.append(word)
    return textwrap.fill(
        " ".join(words),
        width=WIDTH,
        initial_indent=INDENT,
        subsequent_indent=INDENT,
        break_on_hyphens=False,
        break_long_words=False,
    )


def marked_text(segments: Sequence[tuple[str, bool, str]]) -> str:
    return "".join(f"{MARK_OPEN}{t}{MARK_CLOSE}" if marked else t for t, marked, _ in segments)


def url_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, href) of each URL in `text`; href is "" unless it is an http(s) link."""
    found = []
    for match in URL.finditer(text):
        url = match.group().rstrip(URL_TAIL)
        # A ")" closing the sentence's parenthesis is not the URL's (Wikipedia's own ones are).
        while url.endswith(")") and url.count(")") > url.count("("):
            url = url[:-1].rstrip(URL_TAIL)
        start = match.start()
        href = url if re.match(r"https?://", url, re.IGNORECASE) else ""
        found.append((start, start + len(url), safe_link(href, ("http", "https")) or ""))
    return found


def segments(text: str, marks: Sequence[tuple[int, int]]) -> tuple[tuple[str, bool, str], ...]:
    """`text` cut at marked spans and URLs, cleaned to one line: ((piece, marked, href), …).

    Spans are clipped to the text and merged when they overlap; a span touching a URL is dropped
    (never a highlight inside a URL); an http(s) URL is its own piece with its href, other pieces
    have href "". Whitespace (CR/LF too) collapses to one space and sits outside the marks,
    controls are dropped, empty pieces vanish.
    """
    urls = url_spans(text)
    spans: list[list[int]] = []
    for start, end in sorted((max(a, 0), min(b, len(text))) for a, b in marks):
        if start >= end or any(start < u_end and u_start < end for u_start, u_end, _ in urls):
            continue
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    cuts = sorted([(a, b, True, "") for a, b in spans] + [(a, b, False, h) for a, b, h in urls])
    raw: list[tuple[str, bool, str]] = []
    pos = 0
    for start, end, marked, href in cuts:
        raw += [(text[pos:start], False, ""), (text[start:end], marked, href)]
        pos = end
    raw.append((text[pos:], False, ""))

    pieces: list[tuple[str, bool, str]] = []
    for piece, marked, href in raw:
        # Keep a space at the piece's edges (one_line strips them) so words do not run together.
        clean = one_line(piece)
        if not clean:
            pieces.append((" " if any(c.isspace() for c in piece) else "", False, ""))
            continue
        lead = " " if piece[:1].isspace() else ""
        trail = " " if piece[-1:].isspace() else ""
        pieces += [(lead, False, ""), (clean, marked, href), (trail, False, "")]

    out: list[tuple[str, bool, str]] = []
    for piece, marked, href in pieces:
        if piece == " " and (not out or out[-1][0].endswith(" ")):
            continue
        if not piece:
            continue
        if out and out[-1][1] == marked and not href and not out[-1][2]:
            out[-1] = (out[-1][0] + piece, marked, "")
        else:
            out.append((piece, marked, href))
    if out and not out[-1][1] and not out[-1][2]:
        last = out[-1][0].rstrip(" ")
        out[-1:] = [(last, False, "")] if last else []
    return tuple(out)
