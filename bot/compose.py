"""A subscriber's next email, built from its pending deliveries: render, then bytes (no sending).

`compose` is pure given the renderer; `compose_isolating` also finds the papers that make a
message impossible to build (RELIABILITY K4, "poison message") so the others can still go out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from urllib.parse import quote

from bot import message
from bot.match import highlight, rank_key
from bot.models import Pending, Settings, Subscriber
from bot.render import Digest, DigestItem, Renderer, subject

__all__ = ["Composed", "compose", "compose_for", "compose_isolating", "ranked"]


@dataclass(frozen=True, slots=True)
class Composed:
    """A subscriber's next email: its bytes, its two bodies, the papers in it and its Message-ID."""

    data: bytes
    text: str
    html: str
    paper_ids: list[str]
    message_id: str


def ranked(pending: Sequence[Pending]) -> list[Pending]:
    """Pending deliveries best first (the order of the digest)."""
    return sorted(pending, key=lambda d: rank_key(d.paper, d.queries))


def compose_for(
    settings: Settings, store, subscriber: Subscriber, renderer: Renderer, now: datetime
) -> Composed | None:
    """The subscriber's next digest: pending deliveries best first, at most max_items; or None.

    Reads the store, changes nothing (`bot preview`).
    """
    return compose(settings, subscriber, ranked(store.pending(subscriber.email)), renderer, now)


def compose(
    settings: Settings,
    subscriber: Subscriber,
    pending: Sequence[Pending],
    renderer: Renderer,
    now: datetime,
) -> Composed | None:
    """The email holding the first max_items of `pending` (already ranked), or None if empty.

    The papers left out are announced in it ("N more papers will come in the next email").
    Raises whatever rendering or encoding raises.
    """
    batch = list(pending[: settings.max_items])
    if not batch:
        return None
    items = []
    for delivery in batch:
        marks = highlight(delivery.paper, delivery.queries)
        items.append(DigestItem(delivery.paper, delivery.queries, marks.title, marks.abstract))
    unsubscribe = _unsubscribe_url(settings.mail.unsubscribe, subscriber.email)
    digest = Digest(subscriber, tuple(items), len(pending) - len(batch), now, unsubscribe)
    text, html = renderer.render(digest)
    paper_ids = [item.paper.id for item in items]
    domain = parseaddr(settings.mail.from_addr)[1].rpartition("@")[2] or "localhost"
    message_id = message.message_id(subscriber.email, paper_ids, domain)
    data = message.build_message(
        from_addr=settings.mail.from_addr,
        to_addr=subscriber.email,
        to_name=subscriber.name,
        subject=subject(items, subscriber),
        text=text,
        html=html,
        message_id=message_id,
        date=now,
        list_id=f"Paper digest <digest.{domain}>",
        unsubscribe=unsubscribe,
    )
    return Composed(data, text, html, paper_ids, message_id)


def compose_isolating(
    settings: Settings,
    subscriber: Subscriber,
    pending: Sequence[Pending],
    renderer: Renderer,
    now: datetime,
) -> tuple[Composed | None, list[tuple[str, str]]]:
    """Like `compose`, but when the email cannot be built, leave out the papers that break it.

    Returns (the email without them or None, [(paper id, error)] for each paper left out). A paper
    is left out when it cannot be built alone; if each builds alone but not together, the whole
    first batch is left out this time (all of it is counted towards quarantine).
    """
    try:
        return compose(settings, subscriber, pending, renderer, now), []
    except Exception as exc:  # noqa: BLE001 (any failure of one message must not stop the others)
        together = _one_line(exc)
    bad: list[tuple[str, str]] = []
    for delivery in pending[: settings.max_items]:
        try:
            compose(settings, subscriber, [delivery], renderer, now)
        except Exception as exc:  # noqa: BLE001
            bad.append((delivery.paper.id, _one_line(exc)))
    if not bad:
        bad = [(d.paper.id, together) for d in pending[: settings.max_items]]
    left_out = {paper_id for paper_id, _ in bad}
    rest = [d for d in pending if d.paper.id not in left_out]
    try:
        composed = compose(settings, subscriber, rest, renderer, now)
    except Exception:  # noqa: BLE001 (the rest waits for the next run)
        composed = None
    return composed, bad


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


def _unsubscribe_url(template: str | None, email: str) -> str | None:
    """The unsubscribe URL for one subscriber; `{email}` in the template is replaced, URL-quoted."""
    if not template:
        return None
    return template.replace("{email}", quote(email, safe="@"))
