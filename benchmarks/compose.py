"""Benchmark of composing digests: the bot's compose step against the plain stdlib way.

    python benchmarks/compose.py                 # 5 rounds of 100 digests of 50 papers
    python benchmarks/compose.py --digests 20 --rounds 3   # a quick run
    python benchmarks/compose.py --plain-order   # the bot without scores and snippets
    python benchmarks/compose.py --maildir       # 800 digests sent into a Maildir (issue 14)

The papers: the bundled HF listing page (bot/samples/page-000.txt, 80 papers) parsed by the bot,
each digest 50 of them for one subscriber with three queries. One run prints, per digest:
  1. the bot: rank (query.rank, with a corpus of the page's papers, built once; no score cached
     from another digest), highlight, snippets, the table of contents, both templates, CSS
     inlined, the MIME bytes (bot.mail.digest.compose);
  2. the same with abstract = "full" and no score at all (papers in date order, the contents
     grouped by each paper's first query): what score and snippets cost;
  3. the plain stdlib way: Jinja2 text + HTML templates of the same papers (whole abstracts, no
     highlights, no inlining), an EmailMessage with both parts, as_bytes();
the ratios 1/3 and 1/2 (target of issue 16: 1/2 <= 1.10), and the size of one digest (bytes,
lines of the text part; target <= 80 KB). Each row is warmed up, then timed in rounds, the rows
taking turns; the figure is the median round (CPU time of this process).

--maildir (issue 14, row 2): N digests (default 800) of the same 50 papers into a Maildir, each
subscriber with the three queries widened by a word of its own that matches nothing (the same
papers, but no score shared between subscribers). The subscribers are sent in `--rounds` shares,
each share by the bot, then by the plain way (a change in the machine's load hits both alike);
wall time. One run prints, per digest:
  1. the bot: the real send path, `bot.mail.send.send` (what `bot send --all` runs) on a real
     SQLite ledger holding the papers and the pending deliveries (recorded beforehand, not timed)
     and a real Maildir (MaildirTransport: tmp/ then new/, fsynced): read the pending papers, rank,
     compose (snippets, contents, both templates, CSS, MIME), store in the outbox, deliver, mark
     sent;
  2. the plain stdlib way for the same papers: Jinja2 text + HTML (whole abstracts, autoescaped),
     an EmailMessage with both parts, mailbox.Maildir.add (no fsync, no ledger);
and the ratio 1/2 (target <= 1.0).
"""

from __future__ import annotations

import argparse
import asyncio
import mailbox
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import jinja2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import identity  # noqa: E402
from bot.ledger import Ledger  # noqa: E402
from bot.mail import digest as digest_module  # noqa: E402
from bot.mail.digest import compose, ranked  # noqa: E402
from bot.mail.render import Renderer  # noqa: E402
from bot.mail.send import send  # noqa: E402
from bot.mail.transports import open_transports  # noqa: E402
from bot.models import MailSettings, Paper, Pending, Settings, Source, Subscriber  # noqa: E402
from bot.query import rank  # noqa: E402
from bot.query.hits import word_runs  # noqa: E402
from bot.query.matcher import Matcher  # noqa: E402
from bot.query.rank import Corpus  # noqa: E402
from bot.sources.text_listing import parse_text_listing  # noqa: E402

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
PAGE = Path(__file__).resolve().parent.parent / "bot" / "samples" / "page-000.txt"
QUERIES = ("language OR model*", '"large language model"', "survey OR benchmark")
PER_DIGEST = 50

PLAIN_TEXT = jinja2.Template(
    "Hello {{ name }},\n\n{% for p in papers %}{{ loop.index }}. {{ p.title }}\n    {{ p.url }}\n"
    "    {{ p.authors | join(', ') }}\n\n{{ p.abstract | wordwrap(76) }}\n\n{% endfor %}"
)
PLAIN_HTML = jinja2.Template(
    "<!DOCTYPE html><html><body><p>Hello {{ name }},</p>{% for p in papers %}"
    '<div><h2><a href="{{ p.url }}">{{ p.title }}</a></h2><p>{{ p.authors | join(", ") }}</p>'
    "<p>{{ p.abstract }}</p></div>{% endfor %}</body></html>",
    autoescape=True,
)


def page_papers() -> list[Paper]:
    """The bundled page's papers as the bot records them: identified, dated, one source."""
    listing = parse_text_listing(PAGE.read_text(encoding="utf-8"))
    papers = []
    for number, paper in enumerate(listing):
        dated = replace(paper, sources=("hf-papers-page",), first_seen=NOW, published=None)
        papers.append(replace(identity.identify(dated), first_seen=NOW.replace(minute=number % 60)))
    return papers


def digest_pending(papers: list[Paper], subscriber: Subscriber) -> list[Pending]:
    """The subscriber's matched papers (the bot's own matcher), the first PER_DIGEST of them."""
    found = Matcher({subscriber.email: subscriber.keywords}).match(papers)
    pending = [
        Pending(subscriber.email, p, found[p.id][subscriber.email], NOW)
        for p in papers
        if p.id in found
    ]
    if len(pending) < PER_DIGEST:
        raise SystemExit(f"only {len(pending)} papers match {QUERIES}: pick wider queries")
    return pending[:PER_DIGEST]


def plain_way(subscriber: Subscriber, pending: list[Pending]) -> bytes:
    papers = [d.paper for d in pending]
    msg = EmailMessage()
    msg["From"] = "Paper Digest <digest@example.org>"
    msg["To"] = subscriber.email
    msg["Subject"] = f"{len(papers)} new papers"
    msg.set_content(PLAIN_TEXT.render(name=subscriber.name, papers=papers))
    msg.add_alternative(PLAIN_HTML.render(name=subscriber.name, papers=papers), subtype="html")
    return msg.as_bytes()


class _Unscored:
    """No score: only where the matched words are (the email still highlights them)."""

    best_query = None

    def __init__(self, paper: Paper, queries) -> None:
        self.title_runs, self.abstract_runs = word_runs(paper, queries)


def _no_score(paper: Paper, queries, _corpus) -> _Unscored:
    return _Unscored(paper, queries)


def timed(rows: dict[str, object], digests: int, rounds: int) -> dict[str, float]:
    """Seconds a digest of each row: the median of `rounds` rounds of `digests` digests, the rows
    taking turns within each round (a change in the machine's load hits every row alike), after a
    warm-up of each row. CPU time of this process (time.process_time): composing is
    single-threaded CPU work, and other processes' load inflates wall time, not this."""
    for make in rows.values():
        make(0)  # warm up: templates compiled, per-paper caches filled
    times: dict[str, list[float]] = {label: [] for label in rows}
    for _ in range(rounds):
        for label, make in rows.items():
            start = time.process_time()
            for n in range(digests):
                make(n)
            times[label].append((time.process_time() - start) / digests)
    found = {label: statistics.median(seconds) for label, seconds in times.items()}
    for label, seconds in found.items():
        spread = f"{min(times[label]) * 1000:.2f}-{max(times[label]) * 1000:.2f}"
        print(f"  {label:<52} {seconds * 1000:7.2f} ms a digest (rounds {spread})")
    return found


def maildir_run(digests: int, folder: Path, rounds: int) -> None:
    """Issue 14 row 2: `digests` emails of the same 50 papers into a Maildir, the bot's real send
    path against the plain stdlib way; prints both and the ratio."""
    papers = page_papers()
    chosen = [d.paper for d in digest_pending(papers, Subscriber("x@example.org", "X", QUERIES))]
    subscribers = tuple(
        Subscriber(
            f"reader{n}@example.org",
            f"Reader {n}",
            (f"{QUERIES[0]} OR nomatch{n}", *QUERIES[1:]),
            cadence="instant",
        )
        for n in range(digests)
    )
    settings = Settings(
        path=folder / "bench.toml",
        database=f"sqlite:///{folder / 'bench.db'}",
        mail=MailSettings(transport="maildir", maildir=folder / "bot-maildir"),
        sources=(Source("hf-papers-page", "page", PAGE.as_uri()),),
        subscribers=subscribers,
    )
    matcher = Matcher({s.email: s.keywords for s in subscribers})
    with Ledger.open(settings.database) as ledger:
        ledger.papers.ensure_subscribers((s.email for s in subscribers), NOW)

        def queue(new: list[Paper]):
            found = matcher.match(new)
            ids = {p.id for p in chosen}
            for paper in new:
                if paper.id in ids:
                    for email, queries in found.get(paper.id, {}).items():
                        yield email, paper.id, tuple(queries)

        ledger.papers.record(papers, NOW, queue=queue)

        async def bot_send(emails: list[str]):
            async with open_transports(settings.mail, {}) as transports:
                return await send(settings, ledger, transports, Renderer(), NOW, emails=emails)

        pending = [Pending(s.email, p, QUERIES, NOW) for s in subscribers[:1] for p in chosen]
        box = mailbox.Maildir(folder / "plain-maildir", create=True)
        box.add(plain_way(subscribers[0], pending))  # warm up: the plain templates compiled
        sent = papers_sent = 0
        bot_times, plain_times = [], []
        for part in range(rounds):
            group = subscribers[part::rounds]
            start = time.perf_counter()
            report = asyncio.run(bot_send([s.email for s in group]))
            bot_times.append(time.perf_counter() - start)
            sent, papers_sent = sent + report.emails, papers_sent + report.papers
            start = time.perf_counter()
            for subscriber in group:
                box.add(plain_way(subscriber, pending))
            plain_times.append(time.perf_counter() - start)
    delivered = len(list((folder / "bot-maildir" / "new").iterdir()))
    if sent != digests or delivered != digests or papers_sent != digests * PER_DIGEST:
        raise SystemExit(f"the bot sent {sent} emails ({papers_sent} papers)")

    bot_seconds, plain_seconds = sum(bot_times) / digests, sum(plain_times) / digests
    print(
        f"{digests} digests of {PER_DIGEST} papers from {PAGE.name} into a Maildir, in {rounds}"
        " rounds (a send run for a share of the subscribers, then the plain way for the same)"
    )
    print(
        f"  {'bot: send path (ledger, rank, compose, outbox, Maildir, sent)':<64}"
        f" {bot_seconds * 1000:7.2f} ms a digest"
    )
    print(
        f"  {'plain stdlib way (Jinja2 + EmailMessage + Maildir.add)':<64}"
        f" {plain_seconds * 1000:7.2f} ms a digest"
    )
    rounds_ratio = [b / p for b, p in zip(bot_times, plain_times, strict=True)]
    print(
        f"  ratio bot / plain stdlib: {bot_seconds / plain_seconds:.2f}x (target <= 1.0);"
        f" rounds {', '.join(f'{r:.2f}' for r in rounds_ratio)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digests", type=int, default=None, help="100 a round; 800 with --maildir")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (median taken)")
    parser.add_argument("--plain-order", action="store_true", help="only rows 2 and 3")
    parser.add_argument("--maildir", action="store_true", help="issue 14 row 2 (see above)")
    args = parser.parse_args()
    if args.maildir:
        with tempfile.TemporaryDirectory() as folder:
            maildir_run(args.digests or 800, Path(folder), args.rounds)
        return
    args.digests = args.digests or 100

    papers = page_papers()
    base = Subscriber("reader@example.org", "Reader", QUERIES)
    full = replace(base, abstract="full")
    settings = Settings(
        path=Path("bench.toml"),
        sources=(Source("hf-papers-page", "page", PAGE.as_uri()),),
    )
    renderer = Renderer()
    pending = digest_pending(papers, base)
    corpus = Corpus(papers)
    # Each digest goes to another subscriber, so no cache holds a whole message.
    subscribers = [replace(base, email=f"reader{n}@example.org") for n in range(args.digests)]
    fulls = [replace(full, email=s.email) for s in subscribers]

    def bot_way(n: int) -> bytes:
        # Subscribers rarely share all their queries: no score is reused from another digest.
        rank._score.cache_clear()
        best = ranked(pending, corpus)
        return compose(settings, subscribers[n], best, renderer, NOW, corpus).data

    def bot_plain_order(n: int) -> bytes:
        # No score at all: date order, and the contents grouped by each paper's first query.
        by_date = sorted(pending, key=lambda d: (d.paper.first_seen, d.paper.id), reverse=True)
        digest_module.score = _no_score
        try:
            return compose(settings, fulls[n], by_date, renderer, NOW, corpus).data
        finally:
            digest_module.score = rank.score

    def plain(n: int) -> bytes:
        return plain_way(subscribers[n], pending)

    print(
        f"{args.rounds} rounds of {args.digests} digests of {PER_DIGEST} papers from {PAGE.name},"
        f" queries {QUERIES}; median of the rounds, CPU time"
    )
    rows = {
        "bot: scored, snippets, table of contents": bot_way,
        'bot: date order, abstract = "full"': bot_plain_order,
        "plain stdlib way (Jinja2 + EmailMessage)": plain,
    }
    if args.plain_order:
        del rows["bot: scored, snippets, table of contents"]
    found = timed(rows, args.digests, args.rounds)
    scored = found.get("bot: scored, snippets, table of contents")
    unscored = found['bot: date order, abstract = "full"']
    stdlib = found["plain stdlib way (Jinja2 + EmailMessage)"]
    if scored is not None:
        print(f"  ratio bot / plain stdlib: {scored / stdlib:.2f}x")
        print(
            f"  ratio scored+snippets / date order+full: {scored / unscored:.2f}x (target <= 1.10)"
        )
    print(f"  ratio date order+full / plain stdlib: {unscored / stdlib:.2f}x")
    for label, make in (("scored, snippets", bot_way), ('date order, "full"', bot_plain_order)):
        if label.startswith("scored") and args.plain_order:
            continue
        data = make(0)
        text = message_from_bytes(data, policy=policy.default).get_body(("plain",)).get_content()
        print(
            f"  one digest ({label}): {len(data):,} bytes, {len(text.splitlines())} text lines"
            " (target <= 80 KB)"
        )


if __name__ == "__main__":
    main()
