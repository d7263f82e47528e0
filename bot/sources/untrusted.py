"""What a source gives is untrusted text: the one cleaning every Paper gets before it is recorded.

Pure. SPEC section 3: markup in titles and abstracts becomes plain text (entities decoded, tags
removed, LaTeX kept as written), control characters and lone surrogates are removed, and each
field is capped with an ellipsis. `bot.sources.parse` applies `clean_paper` to every paper of every
parser, so nothing a parser forgets reaches the ledger, an email or a log (issue 11 items 1 and 4:
a 6 MB abstract, a lone surrogate that made every INSERT of a poll fail).
"""

from __future__ import annotations

from dataclasses import replace

from bot.models import Paper
from bot.sources.cleaning import collapse, html_to_text

__all__ = [
    "clean_paper",
    "plain_text",
    "MAX_TITLE",
    "MAX_ABSTRACT",
    "MAX_AUTHORS",
    "MAX_NAME",
    "MAX_CATEGORIES",
    "ELLIPSIS",
]

MAX_TITLE = 1_000  # characters (SPEC section 3)
MAX_ABSTRACT = 20_000  # characters (SPEC section 3)
MAX_AUTHORS = 200  # names (SPEC section 3); the last one kept is then ELLIPSIS
MAX_NAME = 1_000  # characters of one author name or category: no real one comes close
MAX_CATEGORIES = 200
MAX_URL = 2_000  # characters; a longer link is not a link a reader can use
ELLIPSIS = "\u2026"
# Markup shrinks when tags are removed, but not by more than this factor in any real feed; cutting
# the raw value first keeps a 6 MB abstract from costing its full size in every regex below.
_RAW_FACTOR = 10


def clean_paper(paper: Paper) -> Paper:
    """The paper with every text field made safe (module docstring); identity fields keep their
    value minus control characters and surrogates. The title may come out "" (it was all markup
    or control characters): the caller decides what such a paper is.
    """
    names = (plain_text(name, MAX_NAME) for name in paper.authors[:MAX_AUTHORS])
    authors = [name for name in names if name]
    if len(paper.authors) > MAX_AUTHORS:
        authors = [*authors[: MAX_AUTHORS - 1], ELLIPSIS]
    categories = (_cap(collapse(c[: MAX_NAME * 2]), MAX_NAME) for c in paper.categories)
    return replace(
        paper,
        title=plain_text(paper.title, MAX_TITLE),
        abstract=plain_text(paper.abstract, MAX_ABSTRACT),
        authors=tuple(authors),
        categories=tuple(dict.fromkeys(c for c in categories if c))[:MAX_CATEGORIES],
        url=_bare(paper.url, MAX_URL),
        arxiv_id=_bare(paper.arxiv_id, MAX_NAME) or None,
        doi=_bare(paper.doi, MAX_NAME) or None,
    )


def plain_text(value: str | None, limit: int) -> str:
    """A title or abstract as plain text (html_to_text: tags removed outside TeX math, entities
    decoded, controls and surrogates dropped, whitespace collapsed), at most `limit` characters:
    a longer one is cut at a word and ends with an ellipsis.
    """
    if not value:
        return ""
    return _cap(html_to_text(value[: limit * _RAW_FACTOR]), limit)


def _cap(text: str, limit: int) -> str:
    """`text`, or its first words up to `limit` - 1 characters and an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    at_word = cut.rsplit(" ", 1)[0]
    return (at_word if len(at_word) > limit // 2 else cut).rstrip() + ELLIPSIS


def _bare(value: str | None, limit: int) -> str:
    """An identifier or URL: controls, surrogates and whitespace removed; "" when longer than
    `limit` (a cut identifier would name something else)."""
    text = "".join(collapse(value).split())
    return text if len(text) <= limit else ""
