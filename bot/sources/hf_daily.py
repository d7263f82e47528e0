"""Hugging Face Daily Papers: the `/api/daily_papers` JSON array, and its items wherever they come.

Pure: bytes in, Papers out. Item shape from FORMATS.md section 1: `paper.id` is the versionless
arXiv id, `paper.title`/`paper.summary` keep arXiv's hard wraps, the outer `title` is normalised.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from bot.errors import ParseError
from bot.identity import arxiv_id
from bot.models import Paper
from bot.sources.cleaning import collapse, utc_from_iso
from bot.sources.listing import Listing

__all__ = ["parse_daily_papers", "papers_from_items", "load_json", "catch_up_urls", "CATCH_UP_DAYS"]

_HF_PAPER = "https://huggingface.co/papers/"
CATCH_UP_DAYS = 7  # at most this many missed days are asked for after a downtime
_PERIOD_PARAMETERS = {"date", "week", "month"}


def parse_daily_papers(body: bytes) -> Listing:
    """The papers of a daily-papers JSON array, in listed order; [] for an empty day.

    Raises ParseError for a body that is not JSON, an API error object ({"error": ...}), or
    anything that is not an array of daily-paper items.
    """
    data = load_json(body)
    if isinstance(data, dict) and "error" in data:
        raise ParseError(f"Hugging Face API error: {collapse(str(data['error']))}")
    if not isinstance(data, list):
        raise ParseError(
            f"not a daily-papers list: the JSON is {_json_kind(data)}, expected an array of items"
        )
    return papers_from_items(data)


def load_json(body: bytes) -> Any:
    """The decoded JSON of a body; ParseError with the decoder's message when it is not JSON."""
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise ParseError(
            f"not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except UnicodeDecodeError as error:
        raise ParseError(f"not JSON: the body is not UTF-8 text ({error.reason})") from None
    except RecursionError:
        # json.loads on hostile deep nesting overflows the C stack guard instead of failing cleanly.
        raise ParseError("not JSON: the document is nested too deeply") from None


def papers_from_items(items: list[Any]) -> Listing:
    """The papers of daily-paper items (the API's and the HTML page's `dailyPapers` are the same).

    Items without a paper id or title are left out and counted in `skipped`; withdrawn papers
    (`withdrawnAt`) are left out on purpose (FORMATS.md section 1) and not counted. Raises
    ParseError when there are items but none is usable: the format has changed, and a silent
    empty listing would hide that for ever.
    """
    listing = Listing()
    for item in items:
        if _is_withdrawn(item):
            continue
        paper = _paper_from_item(item)
        if isinstance(paper, str):
            listing.skip(paper)
        else:
            listing.append(paper)
    if items and not listing and not any(_is_withdrawn(item) for item in items):
        raise ParseError(
            f"no usable daily-paper items among {len(items)}: "
            "each item needs paper.id and a title (has the Hugging Face format changed?)"
        )
    return listing


def _paper_from_item(item: Any) -> Paper | str:
    """One Paper from one item that is not withdrawn, or the reason it is not usable."""
    paper = item.get("paper") if isinstance(item, dict) else None
    if not isinstance(paper, dict):
        return "daily-papers item without a paper object"
    raw_id = paper.get("id")
    if not isinstance(raw_id, str) or not collapse(raw_id):
        return "daily-papers item without paper.id"
    raw_id = collapse(raw_id)
    title = _text(item.get("title")) or _text(paper.get("title"))
    if not title:
        return "daily-papers item without a title"
    known = arxiv_id(raw_id)
    return Paper(
        title=title,
        url=f"https://arxiv.org/abs/{known}"
        if known
        else f"https://huggingface.co/papers/{quote(raw_id, safe='')}",
        abstract=_text(paper.get("summary")) or _text(item.get("summary")),
        authors=_authors(paper.get("authors")),
        # The date shown is the listing's (SPEC section 6): when the paper was put on the daily
        # list. paper.publishedAt is arXiv's v1 date and the outer publishedAt has drifted in
        # meaning (FORMATS.md section 1), so without submittedOnDailyAt the email shows the day
        # the bot first saw the paper.
        published=utc_from_iso(paper.get("submittedOnDailyAt")),
        arxiv_id=known,
    )


def _authors(value: Any) -> tuple[str, ...]:
    """authors[].name in order. Authors marked hidden are kept: the names are arXiv's public author
    list, and "hidden" only concerns the Hugging Face page (FORMATS.md section 1).
    """
    if not isinstance(value, list):
        return ()
    names = (_text(author.get("name")) for author in value if isinstance(author, dict))
    return tuple(name for name in names if name)


def _is_withdrawn(item: Any) -> bool:
    """Whether the item's paper carries `withdrawnAt` (the authors withdrew it)."""
    paper = item.get("paper") if isinstance(item, dict) else None
    return isinstance(paper, dict) and bool(paper.get("withdrawnAt"))


def _text(value: Any) -> str:
    """A string field with its whitespace collapsed; "" for anything that is not a string."""
    return collapse(value) if isinstance(value, str) else ""


def _json_kind(value: Any) -> str:
    """How to name a JSON value's type in an error message."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


def catch_up_urls(
    url: str, last_success: datetime | None, now: datetime, *, max_days: int = CATCH_UP_DAYS
) -> list[str]:
    """The `?date=` URLs of the UTC days from the day of `last_success` to yesterday (at most the
    latest `max_days`), oldest first, for an `/api/daily_papers` URL without a period parameter.

    [] for any other URL, for a source never polled successfully, and when it last succeeded today.
    Yesterday is asked for again because a day's list keeps growing during the day; the dates are
    UTC dates, never later than yesterday, because HF refuses a future date (FORMATS.md section 1).
    Saturday and Sunday lists are [] there, which is normal.
    """
    if last_success is None:
        return []
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if (
        parts.scheme not in ("http", "https")
        or not parts.path.rstrip("/").endswith("/api/daily_papers")
        or any(name in _PERIOD_PARAMETERS for name, _ in query)
    ):
        return []
    first: date = last_success.date()
    last: date = now.date() - timedelta(days=1)
    first = max(first, last - timedelta(days=max_days - 1))
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [
        urlunsplit(parts._replace(query=urlencode([*query, ("date", day.isoformat())])))
        for day in days
    ]
