"""arXiv specifics of feed entries: the announce line, revisions, category terms, error entries.

Pure. Facts from FORMATS.md section 3 (rss.arxiv.org) and section 4 (the export API).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Announcement", "read_announcement", "is_revision", "arxiv_categories"]

# The description/summary is built as f"arXiv:{id}v{ver} Announce Type: {type}" + " \nAbstract: …"
# (arXiv/arxiv-feed serializer, FORMATS.md section 3). Parsed leniently on whitespace.
_ANNOUNCE = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:)?(?P<abstract>.*)$",
    re.DOTALL | re.IGNORECASE,
)
# arXiv category terms; MSC/ACM strings such as "53D10, 53D15" share the <category> element in the
# API and are not arXiv categories (FORMATS.md section 4).
_CATEGORY = re.compile(r"^[a-z\-]+(\.[A-Za-z\-]+)?$")


@dataclass(frozen=True, slots=True)
class Announcement:
    """The parts of an rss.arxiv.org description: the versioned id, announce type and abstract."""

    versioned_id: str
    announce_type: str
    abstract: str


def read_announcement(text: str | None) -> Announcement | None:
    """The announce line of an rss.arxiv.org description/summary; None when the text has none."""
    found = _ANNOUNCE.match(text or "")
    if not found:
        return None
    return Announcement(found["id"], found["type"].lower(), found["abstract"].strip())


def is_revision(announce_type: str | None) -> bool:
    """Whether an announce type is a new version of an older paper: replace or replace-cross.

    new and cross are first announcements (a cross-list is still a new paper to the reader).
    """
    return (announce_type or "").strip().lower().startswith("replace")


def arxiv_categories(terms: list[str]) -> tuple[str, ...]:
    """The arXiv category terms among `terms`, each once, in order (MSC/ACM codes dropped)."""
    return tuple(dict.fromkeys(term.strip() for term in terms if _CATEGORY.match(term.strip())))
