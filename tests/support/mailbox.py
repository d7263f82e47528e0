"""Reading the emails a test received: parsed messages, their visible text, titles found."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def maildir_messages(folder: Path) -> list[EmailMessage]:
    """Every message in a Maildir's new/ folder, oldest first."""
    files = sorted((folder / "new").iterdir(), key=lambda p: p.stat().st_mtime_ns)
    return [parse(p.read_bytes()) for p in files]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(msg: EmailMessage) -> str:
    """The visible text of the HTML part, whitespace collapsed (tags such as <mark> removed)."""
    part = msg.get_body(preferencelist=("html",))
    parser = _Text()
    parser.feed(part.get_content())
    return " ".join(" ".join(parser.parts).split())


def titles_in(msg: EmailMessage, candidates: list[str]) -> set[str]:
    """Which of `candidates` appear (whitespace-normalized) in the email's HTML text."""
    text = html_text(msg)
    return {t for t in candidates if " ".join(t.split()) in text}
