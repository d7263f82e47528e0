"""One canonical identity per paper (SPEC section 4): arXiv id, else DOI, else normalized title.

Two records are the same paper when they share an arXiv id or a DOI, or when one of them has
neither and their normalized titles are equal. Strong ids (arXiv id, DOI) that differ never
merge: "Editorial" with two DOIs, or one title under two arXiv ids, are two papers.

Pure: values in, values out. FORMATS.md section 6 is the source of every pattern below.
"""

from __future__ import annotations

import hashlib
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
    "title_key",
    "TITLE_KEY_BYTES",
    "strong",
    "conflict",
    "same_paper",
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
# Longest title key kept as text (bytes); see title_key. Far below PostgreSQL's 2,704-byte limit.
TITLE_KEY_BYTES = 512


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
        found.append(title_key(title))
    return tuple(found)


def title_key(normalized: str) -> str:
    """The identity key of a normalized title: "title:<title>", or for a title whose key is over
    TITLE_KEY_BYTES (UTF-8), "title:sha256:<hex of the title>".

    The ledger indexes every key, and PostgreSQL refuses a btree entry over 2,704 bytes ("index
    row size ... exceeds"): a 1,000-character CJK title (3 bytes each) was never recorded. A
    normalized title holds no ":" (punctuation becomes spaces), so a hashed key is never a title.
    """
    key = f"title:{normalized}"
    if len(key.encode()) <= TITLE_KEY_BYTES:
        return key
    return f"title:sha256:{hashlib.sha256(normalized.encode()).hexdigest()}"


def strong(paper_keys: Iterable[str]) -> frozenset[str]:
    """The strong keys (arXiv id, DOI) among `paper_keys`."""
    return frozenset(k for k in paper_keys if not k.startswith("title:"))


def conflict(one: frozenset[str], other: frozenset[str]) -> bool:
    """Whether two sets of strong keys name different papers.

    They do when both hold arXiv ids and share none; or, sharing no arXiv id, both hold DOIs and
    share none. A shared arXiv id wins over differing DOIs (a preprint and its journal DOI).
    """
    arxiv_one = {k for k in one if k.startswith("arxiv:")}
    arxiv_other = {k for k in other if k.startswith("arxiv:")}
    if arxiv_one & arxiv_other:
        return False
    if arxiv_one and arxiv_other:
        return True
    doi_one, doi_other = one - arxiv_one, other - arxiv_other
    return bool(doi_one and doi_other and not doi_one & doi_other)


def same_paper(
    strong_one: frozenset[str],
    titles_one: Iterable[str],
    strong_other: frozenset[str],
    titles_other: Iterable[str],
) -> bool:
    """SPEC section 4: a shared strong id without a conflicting one, or, when one side has no
    strong id at all, an equal title key."""
    if strong_one & strong_other:
        return not conflict(strong_one, strong_other)
    if strong_one and strong_other:
        return False
    return not set(titles_one).isdisjoint(titles_other)


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
    """One record per paper (`same_paper`), in first-seen order.

    A record joins the first earlier paper it is the same as, and bridges any later one it is
    also the same as when their strong ids do not conflict. The merged record keeps the
    strongest identity (arXiv over DOI over title), the longest abstract, the first non-empty
    URL (an arXiv or DOI record's URL before a title-only one), and the union of authors,
    categories and sources. A revision stays a revision only when every record of the paper
    is one. Records without any key are dropped: without a stable identity they would be sent
    again next time (RELIABILITY.md finding 5).
    """
    groups: list[list[Paper]] = []
    strongs: list[frozenset[str]] = []
    titles: list[set[str]] = []
    owners: dict[str, list[int]] = {}  # key -> the groups holding it (titles recur)
    for paper in papers:
        paper_keys = keys(paper)
        if not paper_keys:
            continue
        mine = strong(paper_keys)
        my_titles = [k for k in paper_keys if k.startswith("title:")]
        target = None
        for index in sorted({i for k in paper_keys for i in owners.get(k, ())}):
            if not groups[index] or not same_paper(mine, my_titles, strongs[index], titles[index]):
                continue
            if target is None:
                target = index
            elif conflict(strongs[target] | mine, strongs[index]):
                continue
            else:  # this record joins two papers that were apart until now
                groups[target].extend(groups[index])
                strongs[target] |= strongs[index]
                titles[target] |= titles[index]
                for key in strongs[index] | titles[index]:
                    owners[key] = [target if i == index else i for i in owners[key]]
                groups[index] = []
        if target is None:
            target = len(groups)
            groups.append([])
            strongs.append(frozenset())
            titles.append(set())
        groups[target].append(paper)
        strongs[target] |= mine
        titles[target].update(my_titles)
        for key in paper_keys:
            holders = owners.setdefault(key, [])
            if target not in holders:
                holders.append(target)
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
