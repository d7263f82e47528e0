"""Text made safe for one line: a header, a log line, a terminal, a digest's plain text; pure.

RELIABILITY 3.2 ("Control characters") and 3.3 (header safety): text from a feed, a mail server or
an exception reaches mail headers, logs and terminals only through `one_line`, so CR/LF, U+2028
and friends become a space and controls vanish before anything else sees them.
"""

from __future__ import annotations

import re

__all__ = ["one_line", "drop_controls"]

# C0/C1 controls that are not whitespace, DEL, lone surrogates (cannot be encoded as UTF-8) and the
# bidi overrides that can make a title read backwards (RELIABILITY 3.2, "Control characters").
_CONTROLS = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# `\s` on str covers \t \n \v \f \r, \x1c-\x1f, \x85, U+2028, U+2029 and the other Unicode spaces.
_SPACES = re.compile(r"\s+")


def drop_controls(text: str) -> str:
    """`text` without control characters, lone surrogates and bidi overrides; whitespace kept."""
    return _CONTROLS.sub("", text)


def one_line(text: str, limit: int | None = None) -> str:
    """`text` as one safe line: controls dropped, each whitespace run (CR/LF too) one space.

    With `limit`, a longer result is cut at a word boundary and ends with "…" (<= `limit` chars).
    """
    line = _SPACES.sub(" ", drop_controls(text)).strip()
    if limit is not None and len(line) > limit:
        cut = line[: limit - 1]
        if " " in cut and line[limit - 1] != " ":
            cut = cut.rsplit(" ", 1)[0]
        line = cut.rstrip(" ,;:") + "…"
    return line
