"""`page` sources: a Hugging Face papers HTML page, or a plain-text listing page.

Pure: bytes in, Papers out. HTML pages are read through their server-side hydration blob
(FORMATS.md section 2: `<div ... data-target="DailyPapers" data-props="{&quot;dailyPapers...">`),
never through the DOM cards, whose layout has changed at least twice.
"""

from __future__ import annotations

import codecs
import html
import json
import re

from bot.errors import ParseError
from bot.sources.cleaning import html_page_title, looks_like_html
from bot.sources.hf_daily import papers_from_items
from bot.sources.listing import Listing
from bot.sources.text_listing import parse_text_listing

__all__ = ["parse_page"]

_PROPS = re.compile(rb'data-target="DailyPapers"[^>]*data-props="([^"]+)"')
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
         (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip
# Characters no text listing holds: undecodable bytes (U+FFFD once decoded) and control
# characters other than whitespace. Random bytes are about half such characters in any 8-bit
# encoding; a real page has none, or a stray few from one damaged line.
_NOT_TEXT = re.compile(r"[\ufffd\x00-\x08\x0e-\x1f\x7f-\x9f]")
MAX_NOT_TEXT_SHARE = 0.01
NOT_TEXT = "not a text listing: the body is binary data, not text (check the source url and type)"


def parse_page(body: bytes, *, content_type: str | None = None) -> Listing:
    """The papers of a listing page: HTML through its DailyPapers JSON, anything else as plain text
    (`page_text`). Text-page papers have url "".

    Raises ParseError for an HTML page without the DailyPapers data, or with data that is not a
    daily-papers list, and for a body that is not text (issue 11 item 8: 2 MB of random bytes
    became 36 "papers" full of U+FFFD).
    """
    if looks_like_html(body, content_type):
        return _parse_hf_html(body)
    return parse_text_listing(page_text(body, content_type))


def page_text(body: bytes, content_type: str | None = None) -> str:
    """The text of a plain-text page: decoded by its BOM, else the charset the server named, else
    UTF-8 (or Windows-1252, the web's legacy default, when that reads with fewer bad characters);
    undecodable bytes replaced. ParseError (NOT_TEXT) when more than MAX_NOT_TEXT_SHARE of the
    characters are undecodable bytes or control characters: binary data is not a listing.
    """
    declared = next((name for bom, name in _BOMS if body.startswith(bom)), None)
    found = _CHARSET.search(content_type or "")
    if declared is None and found:
        try:
            declared = codecs.lookup(found.group(1)).name
        except LookupError:
            declared = None  # an unknown charset name: read as if none was named
    text = body.decode(declared or "utf-8", errors="replace")
    bad = len(_NOT_TEXT.findall(text))
    if declared is None and bad > len(text) * MAX_NOT_TEXT_SHARE:
        legacy = body.decode("cp1252", errors="replace")
        legacy_bad = len(_NOT_TEXT.findall(legacy))
        if legacy_bad < bad:
            text, bad = legacy, legacy_bad
    if bad > len(text) * MAX_NOT_TEXT_SHARE:
        raise ParseError(NOT_TEXT)
    return text


def _parse_hf_html(body: bytes) -> Listing:
    """The dailyPapers items embedded in a Hugging Face papers page."""
    found = _PROPS.search(body)
    if not found:
        title = html_page_title(body)
        named = f" (title {title!r})" if title else ""
        raise ParseError(
            f"an HTML page without Hugging Face DailyPapers data was served{named}; "
            "a page source needs a Hugging Face papers page or a plain-text listing"
        )
    raw = html.unescape(found.group(1).decode("utf-8", errors="replace"))
    try:
        props = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ParseError(
            f"the DailyPapers data is not JSON: {error.msg} at line {error.lineno} "
            f"column {error.colno}"
        ) from None
    except RecursionError:
        raise ParseError("the DailyPapers data is nested too deeply") from None
    items = props.get("dailyPapers") if isinstance(props, dict) else None
    if not isinstance(items, list):
        raise ParseError("the DailyPapers data has no dailyPapers list")
    return papers_from_items(items)
