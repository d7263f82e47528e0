"""One feedparser entry -> one Paper: arXiv announcements, arXiv API results, other items.

Pure. Field facts from FORMATS.md sections 3 (rss.arxiv.org), 4 (arXiv API), 5 (Nature, bioRxiv)
and 7 (whitespace, markup, authors), all checked against the fixtures with feedparser 6.0.14.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.identity import arxiv_id, normalize_doi, normalize_title
from bot.models import Paper
from bot.sources.arxiv import Announcement, arxiv_categories, is_revision, read_announcement
from bot.sources.authors import split_arxiv_authors, split_author_string
from bot.sources.cleaning import collapse, html_to_text, http_url, utc_from_struct

__all__ = [
    "paper_from_entry",
    "is_arxiv_announce_feed",
    "title_from_abstract",
    "MAX_DERIVED_TITLE",
    "SKIPPED_NO_TITLE",
    "SKIPPED_NO_TEXT",
    "SKIPPED_NO_ANNOUNCE_TYPE",
]

MAX_DERIVED_TITLE = 200  # characters; the longest title in the sample pages is 174
SKIPPED_NO_TITLE = "feed item without a title, arXiv id or DOI"
SKIPPED_NO_TEXT = "feed item with an arXiv id or DOI but no title or abstract"
SKIPPED_NO_ANNOUNCE_TYPE = "arXiv announcement item without an announce type (new or revision?)"

# Nature's content:encoded starts with "<p>Nature, Published online: 18 July 2024; <a ...>doi:...
# </a></p>" before a one-line teaser: boilerplate, not an abstract (FORMATS.md section 5).
_PUBLISHED_ONLINE_HTML = re.compile(
    r"<p>\s*[^<]{0,120}?Published online:.{0,600}?</p>", re.IGNORECASE | re.DOTALL
)
_PUBLISHED_ONLINE_TEXT = re.compile(r"^[^;]{0,120}?Published online:[^;]*;\s*doi:\S+\s*", re.I)
_MARKUP = re.compile(r"</?[A-Za-z][^<>]*>")
_API_ENTRY = re.compile(r"^https?://(?:export\.)?arxiv\.org/abs/", re.IGNORECASE)
# A sentence ends at ".", "!" or "?" before a space and a capital, digit or opening quote/bracket.
_SENTENCE_END = re.compile(r"[.!?](?=\s+[\"'(\[\u2018\u201cA-Z0-9])")


def is_arxiv_announce_feed(feed: Mapping[str, Any], entries: list[Any]) -> bool:
    """Whether the feed is an rss.arxiv.org announcement feed ("cs.AI updates on arXiv.org")."""
    if any(entry.get("arxiv_announce_type") for entry in entries):
        return True
    return collapse(feed.get("title")).lower().endswith("updates on arxiv.org")


def paper_from_entry(entry: Mapping[str, Any], *, announce_feed: bool = False) -> Paper | str:
    """The Paper an entry describes, or a str: the one-line reason it is not one.

    An entry without a title is still a paper when it has an arXiv id or DOI, its identity apart
    from the title (SPEC section 4), and an abstract: its title is then the abstract's first
    sentence. Without those it has nothing to be known, matched or listed by, and is left out
    ("feed item without a title, arXiv id or DOI"). So is an entry of an arXiv announcement feed
    without an announce type: new and replace cannot be told apart.
    """
    title = _field_text(entry, "title")
    announcement = read_announcement(entry.get("summary"))
    announce_type = collapse(entry.get("arxiv_announce_type")).lower() or (
        announcement.announce_type if announcement else ""
    )
    if announce_type or announcement:
        paper = _announced_paper(entry, title, announce_type, announcement)
    elif announce_feed:
        return SKIPPED_NO_ANNOUNCE_TYPE
    elif _API_ENTRY.match(str(entry.get("id", ""))):
        paper = _api_paper(entry, title)
    else:
        paper = _generic_paper(entry, title)
    if paper.title:
        return paper
    if not (paper.arxiv_id or paper.doi):
        return SKIPPED_NO_TITLE
    if not paper.abstract:
        return SKIPPED_NO_TEXT
    return replace(paper, title=title_from_abstract(paper.abstract))


def title_from_abstract(abstract: str) -> str:
    """A stand-in title for an entry that has none: the abstract's first sentence without its
    full stop, cut at a word to at most MAX_DERIVED_TITLE characters (with "...").
    """
    found = _SENTENCE_END.search(abstract, 12)  # not inside a leading "Dr." or "(a)."
    sentence = abstract[: found.start() + 1] if found else abstract
    sentence = sentence.rstrip(".").strip() or abstract
    if len(sentence) <= MAX_DERIVED_TITLE:
        return sentence
    cut = sentence[: MAX_DERIVED_TITLE - 2].rsplit(" ", 1)[0] or sentence[: MAX_DERIVED_TITLE - 3]
    return cut.rstrip(" ,;:") + "..."


def _announced_paper(
    entry: Mapping[str, Any], title: str, announce_type: str, announcement: Announcement | None
) -> Paper:
    """An rss.arxiv.org RSS/Atom item: plain-text abstract after "Abstract:", one author string."""
    known = (
        arxiv_id(entry.get("id"))
        or arxiv_id(entry.get("link"))
        or (arxiv_id(announcement.versioned_id) if announcement else None)
    )
    # The abstract is plain text with raw LaTeX, not HTML, whatever feedparser guesses (FORMATS 3).
    abstract = announcement.abstract if announcement else entry.get("summary")
    authors: tuple[str, ...] = ()
    for author in _author_names(entry):
        authors += split_arxiv_authors(author)
    return Paper(
        title=title,
        url=f"https://arxiv.org/abs/{known}" if known else http_url(entry.get("link")),
        abstract=collapse(abstract),
        authors=authors,
        categories=arxiv_categories(_tag_terms(entry)),
        published=_published(entry),
        arxiv_id=known,
        doi=normalize_doi(entry.get("arxiv_doi")),
        revision=is_revision(announce_type),
    )


def _api_paper(entry: Mapping[str, Any], title: str) -> Paper:
    """An export.arxiv.org API result: id http://arxiv.org/abs/IDvN, N <author> elements."""
    known = arxiv_id(entry.get("id"))
    return Paper(
        title=title,
        url=f"https://arxiv.org/abs/{known}" if known else http_url(entry.get("link")),
        abstract=_field_text(entry, "summary"),
        # entry.author is only the LAST author; entry.authors has them all (FORMATS 4).
        authors=tuple(name for name in map(collapse, _author_names(entry)) if name),
        categories=arxiv_categories(_tag_terms(entry)),
        published=_published(entry),
        arxiv_id=known,
        doi=normalize_doi(entry.get("arxiv_doi")),
    )


def _generic_paper(entry: Mapping[str, Any], title: str) -> Paper:
    """A journal, bioRxiv or any other feed item."""
    names = _author_names(entry)
    if len(names) == 1:
        authors = split_author_string(names[0])  # bioRxiv's one "Last, I., Last, I." string
    else:
        authors = tuple(name for name in map(collapse, names) if name)
    abstract = _generic_abstract(entry)
    if normalize_title(abstract) == normalize_title(title):
        abstract = ""  # Nature's research teaser repeats the title
    link = http_url(entry.get("link")) or _alternate_link(entry)
    doi = next(
        filter(
            None,
            (
                normalize_doi(entry.get(name))
                for name in ("prism_doi", "dc_identifier", "arxiv_doi", "id", "link")
            ),
        ),
        None,
    )
    return Paper(
        title=title,
        url=link,
        abstract=abstract,
        authors=tuple(dict.fromkeys(authors)),
        categories=tuple(dict.fromkeys(filter(None, map(collapse, _tag_terms(entry))))),
        published=_published(entry),
        arxiv_id=arxiv_id(link) or arxiv_id(entry.get("id")),
        doi=doi,
    )


def _generic_abstract(entry: Mapping[str, Any]) -> str:
    """The summary (else the first content) as text, without Nature's "Published online" line."""
    contents = [c for c in entry.get("content") or [] if isinstance(c, Mapping)]
    value = entry.get("summary") or (contents[0].get("value") if contents else "")
    if not isinstance(value, str) or not value:
        return ""
    # feedparser copies content:encoded into `summary` without a summary_detail (Nature).
    detail = entry.get("summary_detail") or (contents[0] if contents else {})
    media = detail.get("type") or ("text/html" if _MARKUP.search(value) else "text/plain")
    if "html" in media:
        return _PUBLISHED_ONLINE_TEXT.sub("", html_to_text(_PUBLISHED_ONLINE_HTML.sub(" ", value)))
    return _PUBLISHED_ONLINE_TEXT.sub("", collapse(value))


def _field_text(entry: Mapping[str, Any], name: str) -> str:
    """A text field as plain text: tags stripped and entities decoded only when it is HTML."""
    value = entry.get(name)
    if not isinstance(value, str):
        return ""
    media = (entry.get(f"{name}_detail") or {}).get("type", "text/plain")
    return html_to_text(value) if "html" in media else collapse(value)


def _author_names(entry: Mapping[str, Any]) -> list[str]:
    """The raw author names in order (entry.authors; entry.author when there is no list)."""
    authors = entry.get("authors")
    if isinstance(authors, list) and authors:
        return [a.get("name", "") for a in authors if isinstance(a, Mapping) and a.get("name")]
    return [entry["author"]] if isinstance(entry.get("author"), str) else []


def _tag_terms(entry: Mapping[str, Any]) -> list[str]:
    """The category terms (or labels) of the entry's tags."""
    tags = entry.get("tags") or []
    terms = (tag.get("term") or tag.get("label") for tag in tags if isinstance(tag, Mapping))
    return [term for term in terms if isinstance(term, str)]


def _alternate_link(entry: Mapping[str, Any]) -> str:
    """The first http(s) alternate link of an entry without a usable `link`."""
    for link in entry.get("links") or []:
        if isinstance(link, Mapping) and link.get("rel", "alternate") == "alternate":
            url = http_url(link.get("href"))
            if url:
                return url
    return ""


def _published(entry: Mapping[str, Any]) -> datetime | None:
    """The entry's publication time in UTC, else its update time (Nature's, bioRxiv's dc:date)."""
    return utc_from_struct(entry.get("published_parsed")) or utc_from_struct(
        entry.get("updated_parsed")
    )
