"""The records that flow through the pipeline: frozen values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

__all__ = [
    "Paper",
    "Source",
    "Subscriber",
    "MailSettings",
    "Settings",
    "Pending",
    "SourceState",
    "SOURCE_TYPES",
    "CADENCES",
    "WEEKDAYS",
]

# The values a Source's `type` and a Subscriber's `cadence` and `day` take (SPEC sections 2-3),
# written once for the settings loader, the parsers, the calendar and the CLI.
SOURCE_TYPES = ("feed", "hf-daily", "page")
CADENCES = ("instant", "daily", "weekly")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order


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
    type: str  # one of SOURCE_TYPES
    url: str
    every: timedelta = timedelta(hours=1)
    include_revisions: bool = False
    exclude: str | None = None  # a query: this source's items that match it are ignored


@dataclass(frozen=True, slots=True)
class Subscriber:
    """Someone who gets digests; `sources` None means every source."""

    email: str
    name: str = ""
    keywords: tuple[str, ...] = ()
    cadence: str = "daily"  # one of CADENCES
    send_at: time = time(8, 0)
    day: str = "mon"  # for weekly: one of WEEKDAYS
    timezone: str = "UTC"
    sources: tuple[str, ...] | None = None
    abstract: str | None = None  # "snippet" | "full"; None: the [bot] setting
    paused: bool = False  # nothing is sent; matches keep being recorded for later


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
class WebSettings:
    """The [web] table: the recipients' page (SPEC sections 2 and 6). `secret` is read from the
    variable `secret_env` names when a command needs it (bot.web.secret), never from the file."""

    host: str
    port: int
    base_url: str  # without a trailing slash
    secret_env: str = "BOT_WEB_SECRET"
    secret: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Settings:
    """A whole validated settings file; relative paths are already resolved against its folder."""

    path: Path
    database: str = "sqlite:///bot.db"
    timezone: str = "UTC"
    max_items: int = 50
    abstract: str = "snippet"  # "snippet" | "full" (SPEC section 2)
    templates: Path | None = None
    mail: MailSettings = field(default_factory=MailSettings)
    web: WebSettings | None = None  # None: no page; emails keep the mailto: unsubscribe
    sources: tuple[Source, ...] = ()
    subscribers: tuple[Subscriber, ...] = ()


@dataclass(frozen=True, slots=True)
class Pending:
    """A pending delivery: one paper owed to one subscriber, with the queries it matched."""

    email: str
    paper: Paper
    queries: tuple[str, ...]
    queued_at: datetime


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the ledger remembers about polling one source (source health decides from it)."""

    name: str
    etag: str | None = None
    last_modified: str | None = None
    last_poll: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    last_count: int = 0
