"""Benchmark of composing digests: the bot's compose step against the plain stdlib way.

    python benchmarks/compose.py                 # 200 digests of 50 papers
    python benchmarks/compose.py --digests 50    # a quick run
    python benchmarks/compose.py --plain-order   # the bot without scores and snippets

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
lines of the text part; target <= 80 KB).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import jinja2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import identity  # noqa: E402
from bot.mail import digest as digest_module  # noqa: E402
from bot.mail.digest import compose, ranked  # noqa: E402
from bot.mail.render import Renderer  # noqa: E402
from bot.models import Paper, Pending, Settings, Source, Subscriber  # noqa: E402
from bot.query import rank  # noqa: E402
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
    best_query = None


def _no_score(*_args) -> _Unscored:
    return _Unscored()


def timed(label: str, digests: int, make) -> float:
    make(0)  # warm up: templates compiled, caches of the first digest filled
    start = time.perf_counter()
    for n in range(digests):
        make(n)
    seconds = (time.perf_counter() - start) / digests
    print(f"  {label:<58} {seconds * 1000:8.2f} ms a digest")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digests", type=int, default=200)
    parser.add_argument("--plain-order", action="store_true", help="only rows 2 and 3")
    args = parser.parse_args()

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

    print(f"{args.digests} digests of {PER_DIGEST} papers from {PAGE.name}, queries {QUERIES}")
    scored = None
    if not args.plain_order:
        scored = timed("bot: scored, snippets, table of contents", args.digests, bot_way)
    unscored = timed('bot: date order, abstract = "full"', args.digests, bot_plain_order)
    stdlib = timed("plain stdlib way (Jinja2 + EmailMessage)", args.digests, plain)
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
