"""Words of a text as the query language sees them (SPEC section 5): folded, keyed; pure.

Folding: Unicode NFKC, case-fold, combining marks and invisible format characters removed.
A word is a run of letters and digits in the folded text. A word's key is the Snowball English
stem of the folded word (`judges`, `judging` -> `judg`), and nothing else: `news` stays `news`,
`sparse` is `spars`, never `spar`. The one exception is written case: an acronym plural, two or
more capitals (digits may follow the first) and a lower-case `s` (`LLMs`, `GPUs`, `CNNs`), has the
key of the acronym (`llm`), which Snowball would not give (`llms`). `As` and `Is` are not acronyms.

A text becomes parallel tuples: `words[i]` is its i-th word (position i), `keys[i]` that word's
key. Hyphenated words ("fine-tuning") also yield joins (word, key, first, last): "finetuning"
covering positions i..i+1, so that either spelling of a query matches either spelling of a
text. Character spans, needed only to highlight, are computed on demand.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from bot.models import Paper

__all__ = [
    "Join",
    "TextField",
    "Document",
    "HYPHENS",
    "fold",
    "word_key",
    "acronyms_singular",
    "split_words",
    "tokenize",
    "tokenize_paper",
]

Join = tuple[str, str, int, int]  # word, key, first position, last position

# U+2010 HYPHEN and U+2011 NON-BREAKING HYPHEN appear in publisher abstracts; NFKC maps the latter
# to the former. Dashes (U+2013 "2019–2020") are not hyphenation.
HYPHENS = frozenset("-\u2010\u2011")
_REMOVED = frozenset({"Mn", "Mc", "Me", "Cf"})  # combining marks; Cf: soft hyphen, zero-width chars
_RUN = re.compile(r"[^\W_]+")  # letters and digits: str.isalnum() characters, no underscore
# A run, and the hyphen after it when another run follows at once: one C-level pass per text.
_RUN_HYPHEN = re.compile(r"([^\W_]+)([-\u2010](?=[^\W_]))?")
_ASCII_OR_NOT = re.compile(r"[\x00-\x7f]+|[^\x00-\x7f]+")
# SPEC section 5: an acronym plural as written, before folding; whole words only.
# The capital comes first so that `re` scans for it at C speed; the look-behind then checks that
# it starts a word.
_ACRONYM_PLURAL = re.compile(r"[A-Z](?<![^\W_][A-Z])[0-9]*[A-Z][A-Z0-9]*s(?![^\W_])")
_MAX_JOIN = 4  # longest hyphen chain joined into one word ("state-of-the-art")
# Snowball stemmers are stateful objects; one per process, used only through word_key.
_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _fold_char(char: str) -> str:
    text = unicodedata.normalize("NFKC", char).casefold()
    text = unicodedata.normalize("NFD", text)
    return "".join(c for c in text if unicodedata.category(c) not in _REMOVED)


def _fold_spans(text: str) -> tuple[str, list[int] | None, list[int] | None]:
    """Folded text and, unless it is ASCII, each folded character's original start and end."""
    if text.isascii():
        return text.lower(), None, None
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for segment in _ASCII_OR_NOT.finditer(text):
        begin, stop = segment.span()
        if segment.group().isascii():  # the bulk of any abstract: one C-level step per segment
            pieces.append(segment.group().lower())
            starts.extend(range(begin, stop))
            ends.extend(range(begin + 1, stop + 1))
            continue
        for index in range(begin, stop):
            folded = _fold_char(text[index])
            if folded:
                pieces.append(folded)
                starts.extend([index] * len(folded))
                ends.extend([index + 1] * len(folded))
            elif ends and ends[-1] == index:
                ends[-1] = index + 1  # a removed mark belongs to the letter before it
    return "".join(pieces), starts, ends


def fold(text: str) -> str:
    """`text` NFKC-normalized, case-folded, with combining marks removed."""
    if text.isascii():
        return text.lower()
    return "".join(
        part.lower() if part.isascii() else "".join(map(_fold_char, part))
        for part in _ASCII_OR_NOT.findall(text)
    )


@lru_cache(maxsize=262144)
def word_key(word: str) -> str:
    """The key two forms of a folded word share: its Snowball stem (`judges`, `judging` -> `judg`).

    An acronym plural (`LLMs`) is recognised on the written text, before folding: see
    `acronyms_singular`.
    """
    return _STEMMER.stemWord(word)


def acronyms_singular(text: str) -> str:
    """`text` with every acronym plural written as its acronym (`GPUs for LLMs` -> `GPU for LLM`).

    `As`, `Is`, `LLMS` and `llms` are not acronym plurals and stay as they are.
    """
    return _ACRONYM_PLURAL.sub(lambda m: m.group()[:-1], text)


def _acronym_keys(
    text: str, found: list[str], folded: str, words: tuple[str, ...], keys: tuple[str, ...]
) -> tuple[str, ...]:
    """`keys` with each acronym plural of `text` (`found`, in order) keyed as its acronym."""
    forms = {form.lower(): found.count(form) for form in found}  # ASCII: folding is lower()
    keyed = list(keys)
    if all(words.count(form) == n for form, n in forms.items()):
        # Every occurrence of these words is written as an acronym plural (the usual case):
        # find them at C speed.
        for form in forms:
            singular = word_key(form[:-1])
            at = -1
            while (at := _index(words, form, at + 1)) >= 0:
                keyed[at] = singular
        return tuple(keyed)
    # "LLMs" and "llms" in one text: tell them apart by position.
    starts = {m.start() for m in _ACRONYM_PLURAL.finditer(text)}
    if not text.isascii():  # map each original position to its folded one
        _, origins, _ = _fold_spans(text)
        assert origins is not None
        back: dict[int, int] = {}
        for index, original in enumerate(origins):
            back.setdefault(original, index)
        starts = {back[at] for at in starts if at in back}
    for i, match in enumerate(_RUN_HYPHEN.finditer(folded)):
        if match.start() in starts and match.group(1).endswith("s"):
            keyed[i] = word_key(match.group(1)[:-1])
    return tuple(keyed)


def _index(words: tuple[str, ...], word: str, start: int) -> int:
    try:
        return words.index(word, start)
    except ValueError:
        return -1


def split_words(folded: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """The words of folded text, and for each gap between two words whether it is one hyphen."""
    pairs = _RUN_HYPHEN.findall(folded)
    if not pairs:
        return (), ()
    words, hyphens = zip(*pairs, strict=True)
    return words, tuple(bool(h) for h in hyphens[:-1])


@dataclass(frozen=True, slots=True)
class TextField:
    """One searchable text: its words, their keys, the joined hyphenated words, the original."""

    words: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    joins: tuple[Join, ...] = ()
    text: str = ""

    def spans(self) -> list[tuple[int, int]]:
        """The character span of each word in `text`."""
        folded, starts, ends = _fold_spans(self.text)
        if starts is None:
            return [m.span() for m in _RUN.finditer(folded)]
        return [(starts[m.start()], ends[m.end() - 1]) for m in _RUN.finditer(folded)]


def _joins(words: tuple[str, ...], hyphens: tuple[str, ...], offset: int) -> list[Join]:
    joins: list[Join] = []
    chain = 0  # how many words before word i are hyphenated to it
    for i in range(1, len(words)):
        if hyphens[i - 1]:
            chain += 1
            for first in range(i - min(chain, _MAX_JOIN - 1), i):
                word = "".join(words[first : i + 1])
                joins.append((word, word_key(word), first + offset, i + offset))
        else:
            chain = 0
    return joins


def tokenize(text: str) -> TextField:
    """The words, keys and joins of `text`."""
    folded = fold(text)
    pairs = _RUN_HYPHEN.findall(folded)
    if not pairs:
        return TextField(text=text)
    words, hyphens = zip(*pairs, strict=True)
    joins = tuple(_joins(words, hyphens, 0)) if any(hyphens) else ()
    keys = tuple(map(word_key, words))
    found = _ACRONYM_PLURAL.findall(text)
    if found:
        keys = _acronym_keys(text, found, folded, words, keys)
    return TextField(words, keys, joins, text)


@dataclass(frozen=True, slots=True)
class Document:
    """A paper's searchable fields: tokenized title, abstract and authors; folded names."""

    title: TextField
    abstract: TextField
    authors: TextField
    categories: frozenset[str]
    sources: frozenset[str]

    def text_field(self, field: str) -> TextField:
        """The words of query field `field`: "title", "abstract" or "author"."""
        return {"title": self.title, "abstract": self.abstract, "author": self.authors}[field]


def _tokenize_names(names: tuple[str, ...]) -> TextField:
    """All names in one field; an empty word between two keeps a phrase inside one name."""
    words: list[str] = []
    keys: list[str] = []
    joins: list[Join] = []
    for name in names:
        field = tokenize(name)
        joins.extend((w, k, a + len(words), b + len(words)) for w, k, a, b in field.joins)
        words.extend(field.words)
        keys.extend(field.keys)
        words.append("")
        keys.append("")
    return TextField(tuple(words), tuple(keys), tuple(joins))


def tokenize_paper(paper: Paper) -> Document:
    """Everything of `paper` a query can search, tokenized once."""
    return Document(
        title=tokenize(paper.title),
        abstract=tokenize(paper.abstract),
        authors=_tokenize_names(paper.authors),
        categories=frozenset(fold(c).strip() for c in paper.categories),
        sources=frozenset(fold(s).strip() for s in paper.sources),
    )
