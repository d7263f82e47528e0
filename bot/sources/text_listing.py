"""Plain-text listing pages: each paper is a title line followed by its abstract paragraph.

Pure. The shape (SPEC section 3, ../shared/fixtures/pages/): an optional header of short lines
("new", "Subscribe", "Mar 12"), then title / abstract pairs, blank lines between blocks, maybe a
footer ("Load more", "(c) 2026 ..."). A paper there has a title and an abstract and nothing else:
no link, no id. Papers are recognised by shape, never by line position:

1. Lines are grouped into paragraphs. A blank line always ends one. Inside a block of consecutive
   lines, a line break is a hard break (not a wrap) when either line is longer than any wrapped
   line would be (MAX_WRAP), or when the next line's first word would have fitted on the line
   before it: a greedy wrapper (textwrap, editors, mail clients) never breaks early, so an early
   break was typed. Wrapped abstracts stay one paragraph; "Title\nAbstract..." splits in two.
2. A paragraph is an ABSTRACT when it has at least MIN_ABSTRACT_WORDS words and reads as prose:
   longer than any title (MAX_TITLE), or two sentences or more, or one sentence ending in a full
   stop that is not in Title Case. A shorter paragraph that is such a sentence (capital or digit
   first, full stop last, not Title Case, at least MIN_SENTENCE_WORDS words: "We show that short
   abstracts exist.") is a SENTENCE, which context makes an abstract or a title (rule 3): an
   abstract's length never decides whether its paper is listed. Header and footer labels are
   not sentences ("Subscribe", "Get trending papers in your email inbox!"). Otherwise a paragraph
   of at most MAX_TITLE characters is a TITLE candidate; anything else is NOISE, and so are a
   date line ("Mar 12", the header's date) and a copyright footer (a paragraph starting with
   "\u00a9", "(c) 2026" or "Copyright 2026", or a title-length one containing "\u00a9" or
   "All rights reserved").
3. A paper is a TITLE immediately followed by an ABSTRACT or a SENTENCE; further ABSTRACT or
   SENTENCE paragraphs right after it are more paragraphs of the same abstract, except that a
   SENTENCE right before an ABSTRACT is the title of the next paper (a title ending in a full
   stop). A TITLE followed by another TITLE was header or footer noise and is dropped; prose with
   no title before it is left out and counted in the listing's `skipped`.
4. A page whose papers are all site messages (an error, maintenance, sign-in or robot-check page:
   `site_message`), or without papers but headed by an HTTP error, maintenance or robot check,
   is not a listing: ParseError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import ParseError
from bot.models import Paper
from bot.sources.cleaning import collapse
from bot.sources.listing import Listing
from bot.sources.site_message import is_error_heading, is_site_message

__all__ = [
    "parse_text_listing",
    "MAX_TITLE",
    "MAX_WRAP",
    "MIN_ABSTRACT_WORDS",
    "MIN_SENTENCE_WORDS",
    "SKIPPED_UNTITLED",
]

MAX_TITLE = 300  # characters; the longest title in the sample pages is 174
MAX_WRAP = 200  # characters; nobody hard-wraps wider, so a longer line is a paragraph of its own
MIN_ABSTRACT_WORDS = 10  # below this, prose is an abstract only when it is one plain sentence
MIN_SENTENCE_WORDS = 4  # "No papers found." and "All rights reserved." are not abstracts
SKIPPED_UNTITLED = "paragraph of prose without a title line before it"
SKIPPED_NO_ABSTRACT = "title line without an abstract after it"

# Words before a full stop that do not end a sentence ("Humans vs. Machines", "Smith et al.").
_ABBREVIATIONS = {"vs", "al", "cf", "eg", "e.g", "ie", "i.e", "etc", "fig", "no", "dr", "mr", "ms"}
_COPYRIGHT = re.compile(r"(?:\u00a9|\(c\)\s*\d{4}|copyright\s*(?:\u00a9|\(c\)|\d{4}))", re.I)
_RESERVED = re.compile(r"\ball rights reserved\b", re.I)
_MONTH = (  # "Mar", "March", "Sept."
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = re.compile(  # the header's date: "Mar 12", "Thursday, March 12, 2026", "2026-03-12"
    r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)?"
    rf"(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|\d{{4}}-\d{{2}}-\d{{2}})",
    re.IGNORECASE,
)
_CLOSERS = "\"')]}\u2019\u201d"
_OPENERS = "\"'([{\u2018\u201c"


@dataclass(frozen=True, slots=True)
class _Paragraph:
    text: str
    kind: str  # "abstract" | "sentence" | "title" | "noise"


def parse_text_listing(text: str) -> Listing:
    """The (title, abstract) papers of a plain-text listing page, in page order; url left "".

    Raises ParseError when the page is a site message rather than a listing (rule 4).
    """
    paragraphs = _paragraphs(text)
    listing = _pair(paragraphs)
    _refuse_site_message(listing, paragraphs)
    return listing


def _pair(paragraphs: list[_Paragraph]) -> Listing:
    """Rule 3: titles paired with the abstract paragraphs that follow them."""
    listing = Listing()
    title: str | None = None  # a TITLE waiting for its abstract
    paper: tuple[str, list[str]] | None = None  # the paper being read: title, abstract paragraphs
    orphan = False  # inside a run of prose without a title

    def finish() -> None:
        if paper is not None:
            listing.append(Paper(title=paper[0], abstract=" ".join(paper[1])))

    for index, paragraph in enumerate(paragraphs):
        following = paragraphs[index + 1].kind if index + 1 < len(paragraphs) else ""
        kind = paragraph.kind
        if kind == "sentence" and title is None and following == "abstract":
            kind = "title"  # a title that ends in a full stop, right above its abstract
        if kind in ("abstract", "sentence"):
            if title is not None:
                paper, title = (title, [paragraph.text]), None
            elif paper is not None:
                paper[1].append(paragraph.text)
            elif not orphan:
                listing.skip(SKIPPED_UNTITLED)
            orphan = paper is None
            continue
        finish()
        if title is not None and listing:
            # Between papers, a title line with no abstract after it: say so, never in silence
            # (before the first paper such lines are the page's header).
            listing.skip(SKIPPED_NO_ABSTRACT)
        paper, orphan = None, False
        title = paragraph.text if kind == "title" else None
    finish()
    return listing


def _refuse_site_message(papers: list[Paper], paragraphs: list[_Paragraph]) -> None:
    """Rule 4: ParseError for an error, maintenance, sign-in or robot-check page."""
    if papers and not all(is_site_message(paper.title, paper.abstract) for paper in papers):
        return
    headings = (p.text for p in paragraphs if p.kind != "abstract")
    heading = next((text for text in headings if is_error_heading(text)), "")
    if not papers and not heading:
        return
    heading = heading or papers[0].title
    shown = heading if len(heading) <= 80 else heading[:77] + "..."
    raise ParseError(
        f"the plain-text page does not look like a listing of papers: it is a site message "
        f"headed {shown!r} (an error, maintenance or sign-in page), not titles with abstracts; "
        "if this lasts, check the source url"
    )


def _paragraphs(text: str) -> list[_Paragraph]:
    """The classified paragraphs of a page (rule 1 and 2 of the module docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    paragraphs: list[_Paragraph] = []
    block: list[str] = []
    for line in [*lines, ""]:
        line = collapse(line)
        if line:
            block.append(line)
        elif block:
            paragraphs.extend(_classify(" ".join(part)) for part in _unwrap(block))
            block = []
    return paragraphs


def _unwrap(lines: list[str]) -> list[list[str]]:
    """The lines of one block grouped into paragraphs at hard breaks (rule 1)."""
    width = max((len(line) for line in lines if len(line) <= MAX_WRAP), default=0)
    groups = [[lines[0]]]
    for before, line in zip(lines, lines[1:], strict=False):
        first_word = line.split(" ", 1)[0]
        if (
            len(before) > MAX_WRAP
            or len(line) > MAX_WRAP
            or len(before) + 1 + len(first_word) <= width
        ):
            groups.append([line])
        else:
            groups[-1].append(line)
    return groups


def _classify(text: str) -> _Paragraph:
    """Rule 2: abstract, sentence, title or noise."""
    words = text.split()
    short = len(text) <= MAX_TITLE
    if _COPYRIGHT.match(text) or (short and ("\u00a9" in text or _RESERVED.search(text))):
        return _Paragraph(text, "noise")  # a footer such as "(c) 2026 Hugging Face. ..."
    if _DATE.fullmatch(text.rstrip(".")):
        return _Paragraph(text, "noise")  # the header's date: "Mar 12", "Thursday, March 12, 2026"
    final_stop = bool(words) and words[-1].rstrip(_CLOSERS).endswith(".")
    if len(words) >= MIN_ABSTRACT_WORDS:
        ends = _sentence_ends(words)
        if not short or ends >= 2 or (final_stop and not _title_case(words)):
            return _Paragraph(text, "abstract")
    elif (
        len(words) >= MIN_SENTENCE_WORDS
        and final_stop
        and _ends_sentence(words, len(words) - 1)  # not "... et al." or an initial
        and (words[0].lstrip(_OPENERS)[:1].isupper() or words[0][:1].isdigit())
        and not _title_case(words)
    ):
        return _Paragraph(text, "sentence")
    return _Paragraph(text, "title" if short else "noise")


def _sentence_ends(words: list[str]) -> int:
    """How many words end a sentence: ".", "!" or "?" (before closing quotes), not an abbreviation
    or an initial, and followed by the end of the text or a word that can start a sentence.
    """
    return sum(1 for index in range(len(words)) if _ends_sentence(words, index))


def _ends_sentence(words: list[str], index: int) -> bool:
    """Whether words[index] ends a sentence (the rule of _sentence_ends); False for no word."""
    if index < 0:
        return False
    bare = words[index].rstrip(_CLOSERS)
    if not bare or bare[-1] not in ".!?":
        return False
    stem = bare.rstrip(".!?").lstrip(_OPENERS).lower()
    if len(stem) <= 1 or stem in _ABBREVIATIONS:
        return False
    following = words[index + 1].lstrip(_OPENERS) if index + 1 < len(words) else ""
    return not following or following[0].isupper() or following[0].isdigit()


def _title_case(words: list[str]) -> bool:
    """Whether most words of four letters or more start with a capital ("Why They Matter")."""
    long_words = [word for word in words if len(word) >= 4 and word[0].isalpha()]
    capitals = sum(1 for word in long_words if word[0].isupper())
    return bool(long_words) and capitals * 2 > len(long_words)
