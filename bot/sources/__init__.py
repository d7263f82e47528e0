"""Source parsers: a fetched body in, the papers it lists out (SPEC section 3).

Pure: bytes in, list[Paper] out, no I/O and no clock. Papers come with `id` "" and `sources` ()
(the pipeline sets those), arxiv_id versionless, published aware UTC. A body that is not a listing
of the source's type raises ParseError with one line that does not name the source (the caller
adds the name).
"""

from __future__ import annotations

from bot.models import Paper
from bot.sources.feed import parse_feed
from bot.sources.hf_daily import parse_daily_papers
from bot.sources.page import parse_page

__all__ = ["SOURCE_TYPES", "parse"]

SOURCE_TYPES = ("feed", "hf-daily", "page")


def parse(
    source_type: str, body: bytes, *, content_type: str | None = None, url: str = ""
) -> list[Paper]:
    """The papers in `body`, fetched from a source of `source_type` (one of SOURCE_TYPES).

    `content_type` is the HTTP Content-Type header, if any; `url` is where the body came from
    (feeds use it to resolve relative links). An empty listing is [] (weekends, holidays).
    Raises ParseError for a body that is not such a listing; ValueError for an unknown type
    (settings validation refuses those first).
    """
    if source_type == "feed":
        return parse_feed(body, content_type=content_type, url=url)
    if source_type == "hf-daily":
        return parse_daily_papers(body)
    if source_type == "page":
        return parse_page(body, content_type=content_type)
    raise ValueError(f"unknown source type {source_type!r}; expected one of {SOURCE_TYPES}")
