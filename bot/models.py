"""The records that flow through the pipeline: frozen values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

__all__ = ["Paper", "Source", "Subscriber", "MailSettings", "Settings", "Pending"]


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as a source listed it, or as the store holds it.

    `id` is the canonical identity (SPEC section 4), set by `identity.identify`; parsers leave
    it "".
    `published` is timezone-aware UTC or None. `revision` marks an arXiv replace/replace-cross
    announcement, which does not make a paper new unless the source admits revisions.
    """

    title: str
    url: str = ""
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    published: datetime | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    revision: bool = False
    id: str = ""
    first_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """A listing to poll (SPEC section 3)."""

    name: str
    type: str  # "feed" | "hf-daily" | "page"
    url: str
    every: timedelta = timedelta(hours=1)
    include_revisions: bool = False


@dataclass(frozen=True, slots=True)
class Subscriber:
    """Someone who gets digests; `sources` None means every source."""

    email: str
    name: str = ""
    keywords: tuple[str, ...] = ()
    cadence: str = "daily"  # "instant" | "daily" | "weekly"
    send_at: time = time(8, 0)
    day: str = "mon"  # for weekly: mon … sun
    timezone: str = "UTC"
    sources: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class MailSettings:
    """The [mail] table; `password_env` names the variable holding the secret, never the secret."""

    transport: str = "maildir"  # "maildir" | "smtp"
    maildir: Path = Path("outbox")
    from_addr: str = "Paper Digest <digest@example.org>"
    host: str = "localhost"
    port: int | None = None  # None: 25 for none, 587 for starttls, 465 for tls
    security: str = "starttls"  # "none" | "starttls" | "tls"
    username: str | None = None
    password_env: str | None = None
    concurrency: int = 4
    timeout: float = 30.0
    unsubscribe: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """A whole validated settings file; relative paths are already resolved against its folder."""

    path: Path
    database: str = "sqlite:///bot.db"
    timezone: str = "UTC"
    max_items: int = 50
    templates: Path | None = None
    mail: MailSettings = field(default_factory=MailSettings)
    sources: tuple[Source, ...] = ()
    subscribers: tuple[Subscriber, ...] = ()


@dataclass(frozen=True, slots=True)
class Pending:
    """A pending delivery: one paper owed to one subscriber, with the queries it matched."""

    email: str
    paper: Paper
    queries: tuple[str, ...]
    queued_at: datetime
