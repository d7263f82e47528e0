"""The part of an abstract a card shows: the sentences holding the matched words; pure.

SPEC section 6: "the sentences with the matched words, about 400 characters, with "…" where text
is left out". Cuts fall only on whitespace between sentences or words, never inside a word, a
highlight or a URL (a cut URL would lead somewhere else). The text is sliced from the original,
so non-ASCII and LaTeX come through as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["SNIPPET_CHARS", "ELLIPSIS", "snippet"]

#: About this many characters of abstract per card.
SNIPPET_CHARS = 400
ELLIPSIS = "…"
# A sentence ends at . ! or ? (maybe closed by a quote or bracket) before whitespace and a capital
# (any script) or an opening quote/bracket/$ of the next one: "e.g. the" or "v1.2" do not end one,
# nor does an abbreviation that is followed by a capital or a number ("Fig. 3", "et al. Smith").
_SENTENCE_END = re.compile(r"([.!?])[\"'”’)\]]*\s+(?=\S)")
_STARTS_SENTENCE = "\"'“‘([$\\"
_ABBREVIATIONS = frozenset(
    "al fig figs eq eqs sec secs tab ref refs e.g i.e cf vs approx resp no vol ch app".split()
)
_WORD_BEFORE = re.compile(r"([\w.]+)\.$")


def snippet(
    text: str,
    marks: Sequence[tuple[int, int]],
    protected: Sequence[tuple[int, int]] = (),
    limit: int = SNIPPET_CHARS,
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The snippet of `text` and the `marks` moved into it (char spans, sorted, not overlapping).

    `protected` spans (URLs) are never cut, nor are marks. Text at most `limit` * 1.25 long
    comes back whole (cutting it would save next to nothing). Otherwise: the sentences holding
    marks, in order, while they fit in about `limit` characters (at least one), or the first
    sentences when nothing is marked; a sentence longer than `limit` is cut to a window around
    its first mark. "…" stands where text is left out.
    """
    text_marks = sorted((max(a, 0), min(b, len(text))) for a, b in marks if a < b)
    if len(text.strip()) <= limit * 5 // 4:
        return text, tuple(text_marks)
    keep = sorted([*text_marks, *protected])
    sentences = _sentences(text, keep)
    marked = [s for s in sentences if any(s[0] <= a < s[1] for a, _ in text_marks)]
    chosen: list[tuple[int, int]] = []
    used = 0
    for start, end in marked or sentences:
        size = end - start + (3 if chosen else 0)  # " … " between two sentences
        if chosen and used + size > limit:
            if marked:
                continue  # a later, shorter marked sentence may still fit
            break
        chosen.append((start, end))
        used += size
    if len(chosen) == 1 and used > limit:
        chosen = [_window(text, chosen[0], text_marks, keep, limit)]
    return _join(text, chosen, text_marks)


def _inside(position: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(a < position < b for a, b in spans)


def _sentences(text: str, keep: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace around it excluded."""
    found = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start() + len(match.group().rstrip())
        following = text[match.end()]
        if _inside(match.start(), keep) or not (
            following.isupper() or following in _STARTS_SENTENCE
        ):
            continue
        word = _WORD_BEFORE.search(text, max(0, match.start() - 12), match.start() + 1)
        if match.group(1) == "." and word and word.group(1).lower() in _ABBREVIATIONS:
            continue
        found.append((start, end))
        start = match.end()
    found.append((start, len(text)))
    out = []
    for a, b in found:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            out.append((a, b))
    return out


def _window(
    text: str,
    sentence: tuple[int, int],
    marks: Sequence[tuple[int, int]],
    keep: Sequence[tuple[int, int]],
    limit: int,
) -> tuple[int, int]:
    """About `limit` characters of `sentence` from a little before its first mark, cut at
    spaces outside `keep` (marks and URLs)."""
    start, end = sentence
    first, first_end = next(((a, b) for a, b in marks if start <= a < end), (start, start))
    cuts = [i for i in range(start, end) if text[i].isspace() and not _inside(i, keep)]
    begin = start
    if first - limit // 4 > start:
        begin = max((i + 1 for i in cuts if i <= first - limit // 4), default=start)
    stop = end
    if begin + limit < end:
        fits = [i for i in cuts if first_end <= i <= begin + limit]
        # The first mark is always shown: past a word or URL longer than the window, stop at
        # the first space after the mark.
        stop = fits[-1] if fits else next((i for i in cuts if i >= first_end), end)
    return begin, stop


def _join(
    text: str, chosen: Sequence[tuple[int, int]], marks: Sequence[tuple[int, int]]
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The chosen ranges joined with "…" where text was left out; marks moved along."""
    pieces: list[str] = []
    moved: list[tuple[int, int]] = []
    length = 0
    previous = 0
    for start, end in chosen:
        gap = text[previous:start]
        if start > 0 and (start > previous or previous == 0) and gap.strip():
            sep = f"{ELLIPSIS} " if not pieces else f" {ELLIPSIS} "
        else:
            sep = " " if pieces else ""
        pieces.append(sep)
        length += len(sep)
        for a, b in marks:
            if start <= a and b <= end:
                moved.append((a - start + length, b - start + length))
        pieces.append(text[start:end])
        length += end - start
        previous = end
    if text[previous:].strip():
        pieces.append(f" {ELLIPSIS}")
    return "".join(pieces), tuple(moved)
