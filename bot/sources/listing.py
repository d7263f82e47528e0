"""What a parser read from one body: the papers, plus the entries it left out and why.

Pure values. A parser must never drop an entry without a word (a paper that should be emailed is
never lost, SPEC section 1), yet it cannot log: so the entries it leaves out travel with the papers
as reasons and counts, for the caller to log and report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.models import Paper

__all__ = ["Listing"]


class Listing(list[Paper]):
    """The papers of one body, in listed order, and `skipped`: reason -> how many entries.

    A list, so every caller that wants only the papers keeps working (equal to a plain list of the
    same papers). Each reason is one line naming what the entries lacked, e.g.
    "feed item without a title, arXiv id or DOI".
    """

    __slots__ = ("skipped",)

    def __init__(self, papers: Iterable[Paper] = (), skipped: Mapping[str, int] | None = None):
        super().__init__(papers)
        self.skipped: dict[str, int] = {k: v for k, v in (skipped or {}).items() if v > 0}

    def skip(self, reason: str, count: int = 1) -> None:
        """Count `count` more entries left out for `reason`."""
        if count > 0:
            self.skipped[reason] = self.skipped.get(reason, 0) + count

    @property
    def skipped_count(self) -> int:
        """How many entries were left out, for every reason."""
        return sum(self.skipped.values())

    def describe_skipped(self) -> str:
        """One line for a log: "2 entries skipped: 1 feed item without ...; 1 ..."; "" if none."""
        if not self.skipped:
            return ""
        total = self.skipped_count
        reasons = "; ".join(f"{count} {reason}" for reason, count in self.skipped.items())
        return f"{total} {'entry' if total == 1 else 'entries'} skipped: {reasons}"

    def __repr__(self) -> str:
        return f"Listing({list.__repr__(self)}, skipped={self.skipped!r})"
