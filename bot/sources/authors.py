"""Splitting one author string into names: arXiv's comma list and bioRxiv's "Last, I." list.

Pure. FORMATS.md section 3 (arXiv `dc:creator` is ", "-joined "<first> <last>[ (aff1, aff2)]")
and section 5 (bioRxiv `dc:creator` is "Kukla, D., Crampton, A., Wood, D., Khetani, S.").
"""

from __future__ import annotations

import re

from bot.sources.cleaning import collapse

__all__ = ["split_arxiv_authors", "split_author_string"]

# One initials token of a "Last, Initials" name: "D.", "A. B.", "J.-P.", "Ch.", "MC". A letter
# with a dot (one lower-case letter may follow it), or up to three capitals without dots, so that
# two-letter surnames such as "Li" or "Wu" are not mistaken for initials. The lookahead makes each
# run of capitals match one way only: "(?![a-z])" instead would backtrack exponentially on a long
# run of capitals from a hostile feed.
_INITIALS = re.compile(r"^(?:(?:[A-Z][a-z]?\.|[A-Z]{1,3}(?![A-Za-z]))(?:\s*-\s*|\s+)?)+$")


def split_arxiv_authors(text: str | None) -> tuple[str, ...]:
    """The names in an arXiv `dc:creator` string: split on commas outside parentheses, because
    affiliations in parentheses contain commas ("A (MIT, USA), B" -> "A (MIT, USA)", "B").
    """
    names: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text or "":
        if char in "([":
            depth += 1
        elif char in ")]" and depth:
            depth -= 1
        if char == "," and depth == 0:
            names.append("".join(current))
            current = []
        else:
            current.append(char)
    names.append("".join(current))
    return tuple(name for name in map(collapse, names) if name)


def split_author_string(text: str | None) -> tuple[str, ...]:
    """The names in one author string of a non-arXiv feed.

    "Last, I., Last, I." (bioRxiv) splits after each initials token; "Ann Lee, Bo Chan" (every part
    two words or more) splits on commas; anything else ("Smith, John", one name) is kept whole.
    """
    cleaned = collapse(text).rstrip(",;")
    if not cleaned:
        return ()
    parts = [part.strip() for part in cleaned.split(",")]
    if len(parts) == 1:
        return (cleaned,)
    if any(_INITIALS.match(part) for part in parts[1:]):
        return _pair_initials(parts)
    if all(" " in part for part in parts):
        return tuple(part for part in parts if part)
    return (cleaned,)


def _pair_initials(parts: list[str]) -> tuple[str, ...]:
    """Join each surname with the initials token after it: [Kukla, D., Wood, D.] -> Kukla, D. ..."""
    names: list[str] = []
    index = 0
    while index < len(parts):
        part = parts[index]
        following = parts[index + 1] if index + 1 < len(parts) else ""
        if following and _INITIALS.match(following):
            names.append(f"{part}, {following}")
            index += 2
        else:
            if part:
                names.append(part)
            index += 1
    return tuple(names)
