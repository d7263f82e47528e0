"""Send each subscriber one email holding what is owed to them: render, build, hand over, mark.

Deliveries become sent only after the server accepted the message (or the Maildir file was written).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from urllib.parse import quote

import jinja2

from bot import message
from bot.errors import BotError, PermanentSendError, TemporarySendError
from bot.match import highlight, rank_key
from bot.models import Settings, Subscriber
from bot.render import Digest, DigestItem, Renderer, subject
from bot.store import Store

__all__ = ["SendReport", "Composed", "send", "compose_for"]

log = logging.getLogger(__name__)

# Stop a send run after this many temporary failures in a row: the server is down or refusing us,
# and every further attempt would only wait for the same timeout. Nothing is lost: rows stay
# pending.
BREAKER_THRESHOLD = 3


@dataclass(slots=True)
class SendReport:
    """A send run: emails sent, papers in them, temporary and permanent failures (one line each)."""

    emails: int = 0
    papers: int = 0
    deferred: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stopped: str | None = None


async def send(
    settings: Settings, store: Store, transport, renderer: Renderer, now: datetime
) -> SendReport:
    """Send each subscriber one email holding its pending deliveries (best first, max_items).

    Deliveries become sent only after the server accepted the message (or the Maildir file was
    written); a temporary failure leaves them pending, a permanent one marks them failed.
    """
    report = SendReport()
    by_email = {s.email.lower(): s for s in settings.subscribers}
    sender = parseaddr(settings.mail.from_addr)[1]
    in_a_row = 0
    for email in store.emails_with_pending():
        subscriber = by_email.get(email.lower())
        if subscriber is None:  # removed from the settings: keep its rows, send nothing
            continue
        try:
            composed = compose_for(settings, store, subscriber, renderer, now)
        except (BotError, jinja2.TemplateError, ValueError) as exc:
            line = f"{subscriber.email}: cannot build the email: {exc}"
            log.error("subscriber=%s error=%r", subscriber.email, str(exc))
            report.failed.append(line)
            continue
        if composed is None:
            continue
        paper_ids = composed.paper_ids
        try:
            await transport.send(sender, subscriber.email, composed.data)
        except TemporarySendError as exc:
            in_a_row += 1
            report.deferred.append(f"{subscriber.email}: {exc}")
            log.warning("subscriber=%s deferred=%r", subscriber.email, str(exc))
            if in_a_row >= BREAKER_THRESHOLD:
                report.stopped = f"{in_a_row} temporary failures in a row; the rest stays pending"
                break
            continue
        except PermanentSendError as exc:
            in_a_row = 0
            store.mark_failed(subscriber.email, paper_ids, exc.reply, now)
            report.failed.append(f"{subscriber.email}: refused: {exc.reply}")
            log.error("subscriber=%s refused=%r", subscriber.email, exc.reply)
            continue
        in_a_row = 0
        store.mark_sent(subscriber.email, paper_ids, composed.message_id, now)
        report.emails += 1
        report.papers += len(paper_ids)
        log.info(
            "subscriber=%s sent papers=%d message_id=%s",
            subscriber.email,
            len(paper_ids),
            composed.message_id,
        )
    return report


@dataclass(frozen=True, slots=True)
class Composed:
    """A subscriber's next email: its bytes, its two bodies, the papers in it and its Message-ID."""

    data: bytes
    text: str
    html: str
    paper_ids: list[str]
    message_id: str


def compose_for(
    settings: Settings, store: Store, subscriber: Subscriber, renderer: Renderer, now: datetime
) -> Composed | None:
    """The subscriber's next digest: pending deliveries best first, at most max_items; or None.

    Reads the store, changes nothing.
    """
    pending = sorted(store.pending(subscriber.email), key=lambda d: rank_key(d.paper, d.queries))
    batch = pending[: settings.max_items]
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


def _unsubscribe_url(template: str | None, email: str) -> str | None:
    """The unsubscribe URL for one subscriber; `{email}` in the template is replaced, URL-quoted."""
    if not template:
        return None
    return template.replace("{email}", quote(email, safe="@"))
