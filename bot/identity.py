"""One canonical identity per paper (SPEC section 4): arXiv id, else DOI, else normalized title.

Pure: values in, values out. FORMATS.md section 6 is the source of every pattern below.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import replace

from bot.models import Paper

__all__ = [
    "arxiv_id",
    "normalize_doi",
    "normalize_title",
    "keys",
    "identify",
    "merge",
]

# New-style ids: 4-digit yymm, a dot, 4 digits (0704-1412) or 5 digits (1501 on). Old-style ids:
# an archive (optionally with an upper-case subject class) and 7 digits, e.g. hep-th/9901001,
# math.GT/0309136 (FORMATS.md section 6, arXiv normalisation step 4).
_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
_VERSION = r"(?:v\d+)?"
_ARXIV_URL = re.compile(
    r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/"
    rf"({_NEW_ID}|{_OLD_ID}){_VERSION}(?:\.pdf)?(?![\w.])",
    re.IGNORECASE,
)
# "oai:arXiv.org:2604.21935v1" (arXiv RSS guid), "arXiv:2604.21935v1" (RSS description),
# "10.48550/arXiv.2604.21935" (arXiv's DataCite DOI), or a bare id.
_ARXIV_PREFIXED = re.compile(
    rf"^(?:oai:arxiv\.org:|arxiv:|10\.48550/arxiv\.)?({_NEW_ID}|{_OLD_ID}){_VERSION}$",
    re.IGNORECASE,
)
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", re.IGNORECASE)
_TITLE_JUNK = re.compile(r"[\W_]+")


def arxiv_id(text: str | None) -> str | None:
    """The versionless arXiv id in an id, guid, DOI or abs/pdf/html URL; None when there is none.

    "oai:arXiv.org:2604.21935v1" -> "2604.21935"; "http://arxiv.org/abs/math/0502287v1" ->
    "math/0502287". The archive part of old-style ids is lower-cased, the subject class kept.
    """
    if not text:
        return None
    text = text.strip()
    m = _ARXIV_URL.search(text) or _ARXIV_PREFIXED.match(text)
    if not m:
        return None
    found = m.group(1)
    if "/" in found:
        archive, number = found.split("/", 1)
        head, _, subject = archive.partition(".")
        found = (
            f"{head.lower()}.{subject.upper()}/{number}" if subject else f"{head.lower()}/{number}"
        )
    return found


def normalize_doi(text: str | None) -> str | None:
    """The lower-cased bare DOI ("10.1101/857789") from a DOI, doi: URI or doi.org URL; else None.

    DOIs are case-insensitive (DOI Handbook 3.4), so the key is lower-cased.
    """
    if not text:
        return None
    doi = _DOI_PREFIX.sub("", text.strip()).strip().lower()
    return doi if _DOI.match(doi) else None


def normalize_title(title: str) -> str:
    """NFKC, case-folded, every run of punctuation and whitespace collapsed to one space."""
    folded = unicodedata.normalize("NFKC", title).casefold()
    return _TITLE_JUNK.sub(" ", folded).strip()


def keys(paper: Paper) -> tuple[str, ...]:
    """Every identity key of a paper, the canonical one first; empty when it has none at all.

    A DOI of arXiv's own DataCite form (10.48550/arXiv.X) is the arXiv key, not a second key.
    """
    found: list[str] = []
    arxiv = arxiv_id(paper.arxiv_id) or arxiv_id(paper.url) or arxiv_id(paper.doi)
    if arxiv:
        found.append(f"arxiv:{arxiv}")
    doi = normalize_doi(paper.doi)
    if doi and not arxiv_id(doi):
        found.append(f"doi:{doi}")
    title = normalize_title(paper.title)
    if title:
        found.append(f"title:{title}")
    return tuple(found)


def identify(paper: Paper) -> Paper:
    """The paper with `id` set to its canonical key (and arxiv_id/doi normalized)."""
    all_keys = keys(paper)
    arxiv = next((k[6:] for k in all_keys if k.startswith("arxiv:")), None)
    doi = normalize_doi(paper.doi)
    return replace(
        paper,
        id=all_keys[0] if all_keys else "",
        arxiv_id=arxiv,
        doi=doi if doi and not arxiv_id(doi) else None,
    )


def merge(papers: Iterable[Paper]) -> list[Paper]:
    """One record per paper: records sharing any identity key become one, in first-seen order.

    The merged record keeps the strongest identity (arXiv over DOI over title), the longest
    abstract, the first non-empty URL (an arXiv or DOI record's URL before a title-only one),
    and the union of authors, categories and sources. A revision stays a revision only when
    every record of the paper is one. Records without any key are dropped: without a stable
    identity they would be sent again next time (RELIABILITY.md finding 5).
    """
    groups: list[list[Paper]] = []
    owner: dict[str, int] = {}
    for paper in papers:
        paper_keys = keys(paper)
        if not paper_keys:
            continue
        hits = sorted({owner[k] for k in paper_keys if k in owner})
        if not hits:
            index = len(groups)
            groups.append([paper])
        else:
            index = hits[0]
            groups[index].append(paper)
            for other in hits[1:]:  # this record joins groups that were apart until now
                groups[index].extend(groups[other])
                groups[other] = []
                for key, at in owner.items():
                    if at == other:
                        owner[key] = index
        for key in paper_keys:
            owner[key] = index
    return [_combine(group) for group in groups if group]


def _combine(records: Sequence[Paper]) -> Paper:
    """One Paper from records known to be the same paper."""
    ranked = sorted(records, key=lambda p: (keys(p)[0].split(":", 1)[0] != "arxiv", not p.doi))
    best = ranked[0]
    return identify(
        replace(
            best,
            url=next((p.url for p in ranked if p.url), ""),
            abstract=max((p.abstract for p in records), key=len),
            authors=best.authors or next((p.authors for p in ranked if p.authors), ()),
            categories=_union(p.categories for p in records),
            sources=_union(p.sources for p in records),
            published=next((p.published for p in ranked if p.published), None),
            arxiv_id=next((p.arxiv_id for p in ranked if p.arxiv_id), None)
            or next((a for p in ranked if (a := arxiv_id(p.url))), None),
            doi=next((p.doi for p in ranked if p.doi), None),
            revision=all(p.revision for p in records),
        )
    )


def _union(groups: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    """The items of every tuple, each once, in first-seen order."""
    return tuple(dict.fromkeys(item for group in groups for item in group))
