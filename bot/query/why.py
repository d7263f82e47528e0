"""`bot explain --paper ID [EMAIL]`: why a stored paper matches (or not) each query, and its score.

Pure: the paper, the subscribers and the reference corpus in, lines of text out. The parts are
query.rank's own (the numbers the digest is ordered by), so what is shown is what ranks.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.models import Paper, Subscriber
from bot.query.rank import K1, TITLE_WEIGHT, Corpus, score

__all__ = ["explain_paper"]


def explain_paper(paper: Paper, subscribers: Sequence[Subscriber], corpus: Corpus) -> str:
    """One block per subscriber: each query, whether it matches, the words that hit where, the
    points of each word and the total."""
    when = paper.published or paper.first_seen
    lines = [
        f"paper:   {paper.id}",
        f"title:   {paper.title}",
        f"sources: {', '.join(paper.sources) or '-'}" + (f" · {when:%Y-%m-%d}" if when else ""),
        "score:   the sum over matching queries of each matched word's points: its rarity (idf,",
        f"         from the ledger's {corpus.size} newest papers) x its hits (a title hit counts"
        f" {TITLE_WEIGHT:g}",
        f"         abstract hits; repeats saturate, k1 = {K1:g}).",
    ]
    for subscriber in subscribers:
        result = score(paper, subscriber.keywords, corpus)
        matching = [q for q in result.queries if q.matches]
        who = f"{subscriber.email}" + (f" ({subscriber.name})" if subscriber.name else "")
        lines.append("")
        lines.append(
            f"{who}: {len(matching)} of {len(result.queries)} queries match"
            + (f", score {result.total:.2f}" if matching else " (not in their emails)")
        )
        if matching and subscriber.sources is not None:
            if not set(paper.sources) & set(subscriber.sources):
                lines.append(
                    f"  but they get only papers from {', '.join(subscriber.sources)}:"
                    " this one is not emailed to them"
                )
        for part in result.queries:
            if not part.matches:
                lines.append(f"  no match  {part.query}")
                continue
            lines.append(f"  matches   {part.query}   ({part.points:.2f} points)")
            for term in part.terms:
                lines.append(
                    f"            {term.term}: title {term.title_hits}, abstract"
                    f" {term.abstract_hits}; in {term.frequency} of {corpus.size} papers,"
                    f" idf {term.idf:.2f} -> {term.points:.2f}"
                )
    return "\n".join(lines)
