"""`page` sources: a Hugging Face papers HTML page, or a plain-text listing page.

Pure: bytes in, Papers out. HTML pages are read through their server-side hydration blob
(FORMATS.md section 2: `<div ... data-target="DailyPapers" data-props="{&quot;dailyPapers...">`),
never through the DOM cards, whose layout has changed at least twice.
"""

from __future__ import annotations

import html
import json
import re

from bot.errors import ParseError
from bot.models import Paper
from bot.sources.hf_daily import papers_from_items
from bot.sources.text import html_page_title, looks_like_html
from bot.sources.textpage import parse_text_listing

__all__ = ["parse_page"]

_PROPS = re.compile(rb'data-target="DailyPapers"[^>]*data-props="([^"]+)"')


def parse_page(body: bytes, *, content_type: str | None = None) -> list[Paper]:
    """The papers of a listing page: HTML through its DailyPapers JSON, anything else as plain text
    decoded from UTF-8 (undecodable bytes replaced). Text-page papers have url "".

    Raises ParseError for an HTML page without the DailyPapers data, or with data that is not a
    daily-papers list.
    """
    if looks_like_html(body, content_type):
        return _parse_hf_html(body)
    return parse_text_listing(body.decode("utf-8", errors="replace"))


def _parse_hf_html(body: bytes) -> list[Paper]:
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
