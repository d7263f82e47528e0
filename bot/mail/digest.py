"""A subscriber's next email, built from its pending deliveries: render, then bytes (no sending).

`compose` is pure given the renderer; `compose_isolating` also finds the papers that make a
message impossible to build (RELIABILITY K4, "poison message") so the others can still go out.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import quote

from bot.links import PaperLink, paper_link
from bot.mail import mime as message
from bot.mail.render import Digest, DigestItem, Renderer, subject
from bot.models import Paper, Pending, Settings, Subscriber
from bot.query.hits import marks
from bot.query.rank import Corpus, rank_key, score
from bot.web.tokens import page_url

__all__ = [
    "Composed",
    "Isolated",
    "compose",
    "compose_for",
    "compose_isolating",
    "ranked",
    "reference_corpus",
    "email_batch",
    "MAX_LISTED",
]

# SPEC section 4: past max_items, up to this many papers are listed one line each in the same email.
MAX_LISTED = 1000
# How rare a word is (query.rank) is judged on the ledger's newest papers: enough for stable
# frequencies of a field's vocabulary, few enough to tokenize in well under a second.
CORPUS_PAPERS = 500


@dataclass(frozen=True, slots=True)
class Composed:
    """A subscriber's next email: its bytes, its two bodies, the papers in it and its Message-ID."""

    data: bytes
    text: str
    html: str
    paper_ids: list[str]
    message_id: str


def reference_corpus(papers) -> Corpus:
    """The papers word rarity is judged on (query.rank): the ledger's newest CORPUS_PAPERS
    (`papers` is the ledger's bot.ledger.Papers)."""
    return Corpus(papers.seen(limit=CORPUS_PAPERS))


def ranked(pending: Sequence[Pending], corpus: Corpus | None = None) -> list[Pending]:
    """Pending deliveries best first (the order of the digest): query.rank's score, ties newest
    first. Without `corpus`, word rarity is judged on the pending papers themselves."""
    if corpus is None:
        corpus = Corpus(d.paper for d in pending)
    return sorted(pending, key=lambda d: rank_key(d.paper, d.queries, corpus))


def compose_for(
    settings: Settings,
    deliveries,
    subscriber: Subscriber,
    renderer: Renderer,
    now: datetime,
    papers=None,
) -> Composed | None:
    """The subscriber's next digest: what `compose` makes of its pending deliveries; or None.

    Reads the ledger's `deliveries` (and its `papers` for word rarity, when given), changes
    nothing (`bot preview`).
    """
    corpus = reference_corpus(papers) if papers is not None else None
    pending = ranked(deliveries.pending(subscriber.email), corpus)
    return compose(settings, subscriber, pending, renderer, now, corpus)


def compose(
    settings: Settings,
    subscriber: Subscriber,
    pending: Sequence[Pending],
    renderer: Renderer,
    now: datetime,
    corpus: Corpus | None = None,
) -> Composed | None:
    """The email holding `pending` (already ranked), or None if empty (SPEC section 4).

    The best max_items are cards, the rest are listed one line each (see `email_batch`); papers
    past that are announced as coming in the next email. `corpus` judges word rarity for the
    table of contents' grouping (None: the papers themselves). Raises whatever rendering or
    encoding raises.
    """
    batch = email_batch(pending, settings.max_items)
    if not batch:
        return None
    source_urls = tuple(source.url for source in settings.sources)
    cards = batch[: settings.max_items]
    if corpus is None:
        corpus = Corpus(d.paper for d in cards)
    items = []
    for delivery in cards:
        scored = score(delivery.paper, delivery.queries, corpus)
        found = marks(delivery.paper, scored.title_runs, scored.abstract_runs)
        link = _link(delivery.paper, source_urls)
        items.append(
            DigestItem(
                delivery.paper,
                delivery.queries,
                found.title,
                found.abstract,
                link,
                scored.best_query,
            )
        )
    listed = tuple(
        DigestItem(d.paper, d.queries, link=_link(d.paper, source_urls))
        for d in batch[settings.max_items :]
    )
    sender = settings.mail.from_addr
    if settings.web is not None:  # the recipient's own page (SPEC section 6), one-click
        unsubscribe = page_url(settings.web, subscriber.email)
    else:
        unsubscribe = _unsubscribe_url(
            settings.mail.unsubscribe, subscriber.email, message.sender_address(sender)
        )
    full = (subscriber.abstract or settings.abstract) == "full"
    digest = Digest(
        subscriber, tuple(items), len(pending) - len(batch), now, unsubscribe, listed, full
    )
    text, html = renderer.render(digest)
    paper_ids = [d.paper.id for d in batch]
    domain = message.sender_domain(sender)
    message_id = message.message_id(subscriber.email, paper_ids, domain)
    data = message.build_message(
        from_addr=settings.mail.from_addr,
        to_addr=subscriber.email,
        to_name=subscriber.name,
        subject=subject([*items, *listed], subscriber),
        text=text,
        html=html,
        message_id=message_id,
        date=now,
        list_id=f"Paper digest <digest.{domain}>",
        unsubscribe=unsubscribe,
    )
    return Composed(data, text, html, paper_ids, message_id)


@functools.lru_cache(maxsize=4096)
def _link(paper: Paper, source_urls: tuple[str, ...]) -> PaperLink:
    # A paper is shown to many subscribers: its link (a title search is a URL-encoding) once.
    return paper_link(paper, source_urls)


def email_batch(pending: Sequence[Pending], max_items: int) -> list[Pending]:
    """The deliveries one email holds, in `pending`'s (ranked) order: all of them, up to
    max_items + MAX_LISTED; past that the oldest owed go first, so the rest (newer) go in the next
    email and no paper waits more than one email behind newer ones (SPEC section 4)."""
    limit = max_items + MAX_LISTED
    if len(pending) <= limit:
        return list(pending)
    oldest = sorted(pending, key=lambda d: (d.queued_at, d.paper.id))[:limit]
    chosen = {id(d) for d in oldest}
    return [d for d in pending if id(d) in chosen]


@dataclass(frozen=True, slots=True)
class Isolated:
    """What `compose_isolating` made of a subscriber's pending papers.

    `email`: the email without the papers that break it (or None). `bad`: (paper id, error) for
    each paper that cannot be built even alone. `blocked`: the error when the email cannot be
    built and no paper is to blame (a template or code problem): nothing is left out then.
    """

    email: Composed | None
    bad: list[tuple[str, str]]
    blocked: str | None = None


def compose_isolating(
    settings: Settings,
    subscriber: Subscriber,
    pending: Sequence[Pending],
    renderer: Renderer,
    now: datetime,
    corpus: Corpus | None = None,
) -> Isolated:
    """Like `compose`, but when the email cannot be built, leave out the papers that break it.

    A paper is to blame only when it cannot be built alone while a plain control paper can: a
    broken template fails for every paper, and quarantining them would lose mail. When each paper
    builds alone but not together (a digest-level template branch), no paper is to blame either.
    """
    try:
        return Isolated(compose(settings, subscriber, pending, renderer, now, corpus), [])
    except Exception as exc:  # noqa: BLE001 (any failure of one message must not stop the others)
        together = _one_line(exc)
    try:
        compose(settings, subscriber, [_control(pending[0], now)], renderer, now)
    except Exception as exc:  # noqa: BLE001
        return Isolated(None, [], _one_line(exc))
    bad: list[tuple[str, str]] = []
    for delivery in email_batch(pending, settings.max_items):
        try:
            compose(settings, subscriber, [delivery], renderer, now)
        except Exception as exc:  # noqa: BLE001
            bad.append((delivery.paper.id, _one_line(exc)))
    if not bad:
        return Isolated(None, [], together)
    left_out = {paper_id for paper_id, _ in bad}
    rest = [d for d in pending if d.paper.id not in left_out]
    try:
        composed = compose(settings, subscriber, rest, renderer, now, corpus)
    except Exception:  # noqa: BLE001 (the rest waits for the next run)
        composed = None
    return Isolated(composed, bad)


def _control(like: Pending, now: datetime) -> Pending:
    """A plain paper for the same subscriber and queries: if it cannot be built, no paper can."""
    paper = Paper(
        title="Control paper",
        url="https://example.org/control",
        abstract="A plain abstract.",
        authors=("A. Author",),
        sources=like.paper.sources,
        published=now,
        id="control:0",
        first_seen=now,
    )
    return replace(like, paper=paper)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


def _unsubscribe_url(template: str | None, email: str, sender: str) -> str | None:
    """The unsubscribe URL for one subscriber; `{email}` in the template is replaced, URL-quoted.

    Without `mail.unsubscribe`, a reply to the sender asking to unsubscribe: SPEC section 6 wants
    List-Unsubscribe on every digest, and the From address is the one address we know.
    """
    if not template:
        return f"mailto:{sender}?subject=unsubscribe" if "@" in sender else None
    return template.replace("{email}", quote(email, safe="@"))
