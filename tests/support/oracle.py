"""What the tests expect, computed from the inputs as a reader would, never by the bot's code.

The query oracle is written from SPEC section 5 v2 (tokens are runs of letters and digits; a word
matches by its Snowball stem; a phrase matches consecutive words by stem; no query here has an
acronym plural), not with the bot's own matcher.
"""

from __future__ import annotations

import re
import unicodedata

import snowballstemmer

_stemmer = snowballstemmer.stemmer("english")


def words(text: str) -> list[str]:
    """SPEC section 5's tokens: runs of letters and digits, NFKC-casefolded, accents dropped."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = "".join(
        c for c in unicodedata.normalize("NFD", folded) if not unicodedata.combining(c)
    )
    return re.findall(r"[^\W_]+", folded)


def _key(word: str) -> str:
    return _stemmer.stemWord(word)


def has_word(text: str, word: str) -> bool:
    """A word matches by its Snowball stem."""
    return _key(word) in {_key(w) for w in words(text)}


def has_phrase(text: str, phrase: str) -> bool:
    """A phrase matches consecutive words by stem."""
    keys = " ".join(_key(w) for w in words(phrase))
    return f" {keys} " in f" {' '.join(_key(w) for w in words(text))} "


# Three subscribers, each query paired with the oracle that decides it for (title, abstract).
SUBSCRIBERS = {
    "alice@example.org": ("title:survey", lambda t, a: has_word(t, "survey")),
    "bob@example.org": (
        '"reinforcement learning" OR "mixture of experts"',
        lambda t, a: (
            has_phrase(f"{t} {a}", "reinforcement learning")
            or has_phrase(f"{t} {a}", "mixture of experts")
        ),
    ),
    "carol@example.org": (
        "recommendation -title:survey",
        lambda t, a: has_word(f"{t} {a}", "recommendation") and not has_word(t, "survey"),
    ),
}


def page_papers(text: str) -> list[tuple[str, str]]:
    """(title, abstract) pairs of a fixture listing page, computed independently of the bot.

    These fixture pages (tests/fixtures/pages) have a five-line header, then alternating
    title and abstract blocks separated by blank lines.
    """
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    body = blocks[5:]
    return list(zip(body[0::2], body[1::2], strict=True))
