"""`bot preview EMAIL`: the subscriber's next email, or, with nothing pending, a sample.

The sample is built the same way from the most recent stored papers that match the subscriber's
queries (and sources), so a new subscriber's email can be seen before the first real one. It is
marked as a sample in the subject and at the top of both parts (issue 13).
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bot.cli.words import plural
from bot.mail.digest import compose, compose_for, ranked, reference_corpus
from bot.mail.render import Renderer
from bot.models import Pending, Settings, Subscriber
from bot.query.matcher import Matcher

__all__ = ["run_preview"]

SAMPLE_PAPERS = 10  # papers in a sample preview
RECENT = 2000  # most recent papers looked at for a sample


def run_preview(
    settings: Settings, ledger, subscriber: Subscriber, now: datetime, html: Path | None
) -> int:
    renderer = Renderer(settings.templates)
    composed = compose_for(settings, ledger.deliveries, subscriber, renderer, now, ledger.papers)
    banner = ""
    if composed is None:
        sample = _sample(ledger, subscriber)
        if not sample:
            print(f"nothing pending for {subscriber.email}, and no stored paper matches yet")
            return 0
        corpus = reference_corpus(ledger.papers)
        composed = compose(settings, subscriber, ranked(sample, corpus), renderer, now, corpus)
        banner = (
            f"SAMPLE: nothing is pending for {subscriber.email}; this preview shows the "
            f"{plural(len(sample), 'most recent matching paper')} as an email would (a real "
            "email holds only papers new since the last one)."
        )
    headers = _headers(composed.data, ("From", "To", "Subject"))
    page = composed.html
    if banner:
        headers = headers.replace("Subject: ", "Subject: [SAMPLE] ", 1)
        page = _with_banner(page, banner)
    if html is not None:  # before printing: a reader that goes away must not cost the file
        html.write_text(page, encoding="utf-8")
    print(headers + "\n")
    if banner:
        print(banner + "\n")
    print(composed.text)
    return 0


def _sample(ledger, subscriber: Subscriber) -> list[Pending]:
    """The most recent stored papers this subscriber's queries and sources admit, as deliveries."""
    papers = ledger.papers.seen(limit=RECENT)
    matched = Matcher({subscriber.email: subscriber.keywords}).match(papers)
    admitted = subscriber.sources
    found = []
    for paper in papers:  # newest first
        queries = matched.get(paper.id, {}).get(subscriber.email)
        if not queries or (admitted is not None and not set(admitted) & set(paper.sources)):
            continue
        found.append(Pending(subscriber.email, paper, tuple(queries), paper.first_seen))
        if len(found) == SAMPLE_PAPERS:
            break
    return found


def _with_banner(page: str, banner: str) -> str:
    """The HTML part with the sample notice first in its body."""
    notice = (
        '<p id="sample-notice" style="background:#fff3cd;border:1px solid #e0c36c;'
        f'padding:8px;font-family:sans-serif">{_escape(banner)}</p>'
    )
    body = re.search(r"<body[^>]*>", page, flags=re.IGNORECASE)
    if body is None:
        return notice + page
    return page[: body.end()] + notice + page[body.end() :]


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


def _headers(data: bytes, names: Sequence[str]) -> str:
    """These headers of a built message, decoded (RFC 2047) for reading."""
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    return "\n".join(f"{name}: {parsed[name]}" for name in names if parsed[name] is not None)
