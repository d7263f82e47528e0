"""Plain-text listing pages: each paper is a title line followed by its abstract paragraph.

Pure. The shape (SPEC section 3, ../shared/fixtures/pages/): an optional header of short lines
("new", "Subscribe", "Mar 12"), then title / abstract pairs, blank lines between blocks, maybe a
footer ("Load more", "(c) 2026 ..."). Papers are recognised by shape, never by line position:

1. Lines are grouped into paragraphs. A blank line always ends one. Inside a block of consecutive
   lines, a line break is a hard break (not a wrap) when either line is longer than any wrapped
   line would be (MAX_WRAP), or when the next line's first word would have fitted on the line
   before it: a greedy wrapper (textwrap, editors, mail clients) never breaks early, so an early
   break was typed. Wrapped abstracts stay one paragraph; "Title\\nAbstract..." splits in two.
2. A paragraph is an ABSTRACT when it has at least MIN_ABSTRACT_WORDS words and reads as prose:
   longer than any title (MAX_TITLE), or two sentences or more, or one sentence ending in a full
   stop that is not in Title Case. Otherwise a paragraph of at most MAX_TITLE characters is a
   TITLE candidate; anything else is NOISE, and so is a copyright footer (a paragraph starting
   with "\u00a9", "(c) 2026" or "Copyright 2026", or a title-length one containing "\u00a9").
3. A paper is a TITLE immediately followed by one ABSTRACT; further ABSTRACT paragraphs right after
   it are more paragraphs of the same abstract. A TITLE followed by another TITLE was header or
   footer noise and is dropped, as is prose with no title before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.models import Paper
from bot.sources.text import collapse

__all__ = ["parse_text_listing", "MAX_TITLE", "MAX_WRAP", "MIN_ABSTRACT_WORDS"]

MAX_TITLE = 300  # characters; the longest title in the sample pages is 174
MAX_WRAP = 200  # characters; nobody hard-wraps wider, so a longer line is a paragraph of its own
MIN_ABSTRACT_WORDS = 10  # shorter prose ("All rights reserved.") is not an abstract

# Words before a full stop that do not end a sentence ("Humans vs. Machines", "Smith et al.").
_ABBREVIATIONS = {"vs", "al", "cf", "eg", "e.g", "ie", "i.e", "etc", "fig", "no", "dr", "mr", "ms"}
_COPYRIGHT = re.compile(r"(?:\u00a9|\(c\)\s*\d{4}|copyright\s*(?:\u00a9|\(c\)|\d{4}))", re.I)
_CLOSERS = "\"')]}\u2019\u201d"
_OPENERS = "\"'([{\u2018\u201c"


@dataclass(frozen=True, slots=True)
class _Paragraph:
    text: str
    kind: str  # "abstract" | "title" | "noise"


def parse_text_listing(text: str) -> list[Paper]:
    """The (title, abstract) papers of a plain-text listing page, in page order; url left ""."""
    papers: list[Paper] = []
    title: str | None = None  # a TITLE waiting for its abstract
    paper: tuple[str, list[str]] | None = None  # the paper being read: title, abstract paragraphs

    def finish() -> None:
        if paper is not None:
            papers.append(Paper(title=paper[0], abstract=" ".join(paper[1])))

    for paragraph in _paragraphs(text):
        if paragraph.kind == "abstract":
            if paper is not None:
                paper[1].append(paragraph.text)
            elif title is not None:
                paper, title = (title, [paragraph.text]), None
            continue
        finish()
        paper = None
        title = paragraph.text if paragraph.kind == "title" else None
    finish()
    return papers


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
    """Rule 2: abstract, title or noise."""
    words = text.split()
    if _COPYRIGHT.match(text) or ("\u00a9" in text and len(text) <= MAX_TITLE):
        return _Paragraph(text, "noise")  # a footer such as "(c) 2026 Hugging Face. ..."
    if len(words) >= MIN_ABSTRACT_WORDS:
        ends = _sentence_ends(words)
        final_stop = words[-1].rstrip(_CLOSERS).endswith(".")
        if len(text) > MAX_TITLE or ends >= 2 or (final_stop and not _title_case(words)):
            return _Paragraph(text, "abstract")
    return _Paragraph(text, "title" if len(text) <= MAX_TITLE else "noise")


def _sentence_ends(words: list[str]) -> int:
    """How many words end a sentence: ".", "!" or "?" (before closing quotes), not an abbreviation
    or an initial, and followed by the end of the text or a word that can start a sentence.
    """
    count = 0
    for index, word in enumerate(words):
        bare = word.rstrip(_CLOSERS)
        if not bare or bare[-1] not in ".!?":
            continue
        stem = bare.rstrip(".!?").lstrip(_OPENERS).lower()
        if len(stem) <= 1 or stem in _ABBREVIATIONS:
            continue
        following = words[index + 1].lstrip(_OPENERS) if index + 1 < len(words) else ""
        if not following or following[0].isupper() or following[0].isdigit():
            count += 1
    return count


def _title_case(words: list[str]) -> bool:
    """Whether most words of four letters or more start with a capital ("Why They Matter")."""
    long_words = [word for word in words if len(word) >= 4 and word[0].isalpha()]
    capitals = sum(1 for word in long_words if word[0].isupper())
    return bool(long_words) and capitals * 2 > len(long_words)
