"""Source parsers: a fetched body in, the papers it lists out (SPEC section 3).

Pure: bytes in, list[Paper] out, no I/O and no clock. Papers come with `id` "" and `sources` ()
(the pipeline sets those), arxiv_id versionless, published aware UTC. A body that is not a listing
of the source's type raises ParseError with one line that does not name the source (the caller
adds the name).
"""

from __future__ import annotations

from bot.models import SOURCE_TYPES
from bot.sources.feed import parse_feed
from bot.sources.hf_daily import parse_daily_papers
from bot.sources.listing import Listing
from bot.sources.page import parse_page
from bot.sources.untrusted import clean_paper

__all__ = ["SOURCE_TYPES", "parse"]

SKIPPED_NO_TEXT = "item whose title is empty once markup and control characters are removed"


def parse(
    source_type: str, body: bytes, *, content_type: str | None = None, url: str = ""
) -> Listing:
    """The papers in `body`, fetched from a source of `source_type` (one of SOURCE_TYPES).

    `content_type` is the HTTP Content-Type header, if any; `url` is where the body came from
    (feeds use it to resolve relative links). An empty listing is [] (weekends, holidays).
    Raises ParseError for a body that is not such a listing; ValueError for an unknown type
    (settings validation refuses those first).

    Every paper is cleaned here, the one place all parsers pass (untrusted.clean_paper, SPEC
    section 3); a paper left without a title by the cleaning is counted in `skipped`.
    """
    if source_type == "feed":
        listing = parse_feed(body, content_type=content_type, url=url)
    elif source_type == "hf-daily":
        listing = parse_daily_papers(body)
    elif source_type == "page":
        listing = parse_page(body, content_type=content_type)
    else:
        raise ValueError(f"unknown source type {source_type!r}; expected one of {SOURCE_TYPES}")
    cleaned = Listing(skipped=getattr(listing, "skipped", None))
    for paper in map(clean_paper, listing):
        if paper.title:
            cleaned.append(paper)
        else:
            cleaned.skip(SKIPPED_NO_TEXT)
    return cleaned
