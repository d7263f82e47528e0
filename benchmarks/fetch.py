"""Benchmark of `bot fetch` with many subscribers: the real command, many subscribers against one.

    python benchmarks/fetch.py                       # 2,000 papers, 5,000 subscribers x 3 queries
    python benchmarks/fetch.py --subscribers 500 --papers 500 --memory ""   # a quick run
    python benchmarks/fetch.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python benchmarks/fetch.py --profile fetch.prof  # also cProfile the big side, top items shown

The inputs are built from a seed, so every run sees the same: an arXiv-shaped RSS listing of
`--papers` new papers (benchmarks/match.py's papers: titles and ~1,500-character abstracts from a
Zipf vocabulary) in a file read through a `file:` source, and a settings file with `--subscribers`
subscribers of `--queries` queries each, written as people write them (a word, a `title:` word,
a prefix, a phrase, two words with OR or AND), made of words of the listing picked so that each
query matches about 1% of the papers: ~300k deliveries at 5,000 x 3.

One run prints, on a new ledger each time (a SQLite file, or a fresh schema of --database-url):
  1. the wall time of `python -m bot fetch` (a subprocess: settings load, feed parse, identity,
     recording with the deliveries in one transaction, commit) with every subscriber;
  2. the same with the first subscriber alone;
  3. the ratio 1/2 (issue 14: <= 2.5), and in brackets the same from the subprocesses' CPU time
     (user + system), which other processes on the machine sway less than wall time;
then the peak memory (the subprocess's maxrss from wait4, as `/usr/bin/time -v` reports it) of
`bot fetch` with each number of subscribers in --memory.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from match import PHRASES, make_papers  # noqa: E402

from bot.models import Paper  # noqa: E402

NOW = "2026-11-23T06:00:00+00:00"
SEED = 20261123
SOURCE = "arxiv-cs"
# The share of the papers one query matches, about: 300k deliveries from 2,000 x 5,000 x 3.
LOW, HIGH = 0.004, 0.0115
CADENCES = ["daily"] * 6 + ["weekly"] * 3 + ["instant"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]


@dataclass(frozen=True)
class Inputs:
    folder: Path
    listing: Path
    papers: int


def rss(papers: list[Paper]) -> str:
    """An arXiv RSS listing (as rss.arxiv.org writes it: tests/fixtures/arxiv) of `papers`."""
    items = []
    for paper in papers:
        number = paper.id.removeprefix("arxiv:")
        categories = "".join(f"<category>{c}</category>" for c in paper.categories)
        items.append(
            f"<item><title>{escape(paper.title)}</title>"
            f"<link>https://arxiv.org/abs/{number}</link>"
            f"<description>arXiv:{number}v1 Announce Type: new \n"
            f"Abstract: {escape(paper.abstract)}</description>"
            f'<guid isPermaLink="false">oai:arXiv.org:{number}v1</guid>{categories}'
            "<pubDate>Mon, 23 Nov 2026 00:00:00 -0500</pubDate>"
            "<arxiv:announce_type>new</arxiv:announce_type>"
            f"<dc:creator>{escape(', '.join(paper.authors))}</dc:creator></item>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0"><channel>'
        "<title>cs updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs</link>"
        "<description>cs updates on the arXiv.org e-print archive.</description>\n"
        + "".join(items)
        + "</channel></rss>\n"
    )


def query_pool(papers: list[Paper], rng: random.Random) -> list[str]:
    """Queries made of the listing's words, each matching about LOW..HIGH of the papers.

    Counted here on the listing's own words (lower-cased), not by the bot: the bot matches
    inflected forms too, so its counts come out somewhat higher.
    """
    words = [set(re.findall(r"[a-z]+", f"{p.title} {p.abstract}".lower())) for p in papers]
    titles = [set(re.findall(r"[a-z]+", p.title.lower())) for p in papers]
    df = Counter(w for found in words for w in found)
    tf = Counter(w for found in titles for w in found)
    n = len(papers)

    def within(counts: Counter[str], low: float, high: float) -> list[str]:
        # At least one paper each (a small --papers run has no word in 0.2% of its papers).
        low, high = max(1, low * n), max(1, high * n)
        return sorted(w for w, c in counts.items() if low <= c <= high and len(w) > 3)

    band = within(df, LOW, HIGH)
    half = within(df, LOW / 2, HIGH / 2)
    broad = within(df, 0.08, 0.2)
    in_titles = within(tf, LOW, HIGH * 2)
    rare_phrases = [p for p in PHRASES if LOW * n <= _phrase_df(p, papers) <= HIGH * n * 2]
    pool: list[str] = []
    for _ in range(4000):
        kinds = ["word", "title", "prefix", "phrase", "or", "and"]
        kind = rng.choices(kinds, [45, 15, 10, 5, 15, 10])[0]
        if kind == "word" or (kind == "phrase" and not rare_phrases):
            pool.append(rng.choice(band))
        elif kind == "title" and in_titles:
            pool.append(f"title:{rng.choice(in_titles)}")
        elif kind == "prefix":
            word = rng.choice(band)
            pool.append(word[:-1] + "*" if len(word) > 6 else word)
        elif kind == "phrase":
            pool.append(f'"{rng.choice(rare_phrases)}"')
        elif kind == "or":
            pool.append(f"{rng.choice(half)} OR {rng.choice(half)}")
        else:
            pool.append(f"{rng.choice(broad)} AND {rng.choice(broad)}")
    return pool


def _phrase_df(phrase: str, papers: list[Paper]) -> int:
    return sum(phrase in f"{p.title} {p.abstract}".lower() for p in papers)


def settings_toml(folder: Path, database: str, count: int, queries: int, pool: list[str]) -> str:
    """A settings file with `count` subscribers of `queries` queries each (seeded: the first
    subscriber is the same person whatever `count`)."""
    rng = random.Random(SEED + 1)
    lines = [
        "[bot]",
        f"database = {_toml(database)}",
        "timezone = 'UTC'",
        "[mail]",
        "transport = 'maildir'",
        "maildir = 'outbox'",
        "from = 'Paper Digest <digest@example.org>'",
        "[[sources]]",
        f"name = '{SOURCE}'",
        "type = 'feed'",
        "url = 'file:listing.xml'",
        "every = '1h'",
    ]
    for n in range(count):
        chosen = rng.sample(pool, queries)
        lines += [
            "",
            "[[subscribers]]",
            f"email = 'reader{n:06d}@example.org'",
            f"name = 'Reader {n}'",
            f"keywords = [{', '.join(_toml(q) for q in chosen)}]",
            f"cadence = '{rng.choice(CADENCES)}'",
            f"send_at = '{rng.randrange(6, 10):02d}:{rng.choice(['00', '30']):s}'",
            f"timezone = '{rng.choice(ZONES)}'",
        ]
    return "\n".join(lines) + "\n"


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build(folder: Path, papers: int) -> tuple[Inputs, list[str]]:
    rng = random.Random(SEED)
    listed = make_papers(papers, rng)
    listing = folder / "listing.xml"
    listing.write_text(rss(listed), encoding="utf-8")
    return Inputs(folder, listing, papers), query_pool(listed, rng)


@contextmanager
def ledger(base: str | None, folder: Path) -> Iterator[str]:
    """A URL to an empty ledger: a new SQLite file, or a new schema of `base`, dropped after."""
    if base is None:
        path = folder / f"ledger-{uuid.uuid4().hex[:8]}.sqlite"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    sys.path.insert(0, str(HERE.parent / "tests"))
    from support.schemas import fresh_schema  # the tests' own (needs the test extra)

    with fresh_schema(base, "bot_bench") as url:
        yield url


@dataclass(frozen=True)
class Fetched:
    seconds: float
    cpu: float  # user + system seconds of the subprocess: less swayed by other processes' load
    maxrss_mb: float
    output: str

    @property
    def queued(self) -> int:
        found = re.search(r"(\d+) deliver(?:y|ies) queued", self.output)
        return int(found[1]) if found else -1


def fetch(
    inputs: Inputs,
    database: str,
    count: int,
    queries: int,
    pool: list[str],
    profile: Path | None = None,
) -> Fetched:
    """One `bot fetch` subprocess on a new settings file and ledger: wall time, maxrss, stdout."""
    config = inputs.folder / f"settings-{count}.toml"
    config.write_text(settings_toml(inputs.folder, database, count, queries, pool), "utf-8")
    shutil.rmtree(inputs.folder / "outbox", ignore_errors=True)
    command = [sys.executable]
    if profile is not None:
        command += ["-m", "cProfile", "-o", str(profile)]
    command += ["-m", "bot", "fetch", "--config", str(config)]
    environment = {**os.environ, "BOT_NOW": NOW, "PYTHONPATH": str(HERE.parent)}
    out_path = inputs.folder / "out.txt"
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
    output = out_path.read_text("utf-8", "replace")
    if process.returncode != 0:
        raise SystemExit(f"bot fetch failed (exit {process.returncode}):\n{output}")
    cpu = usage.ru_utime + usage.ru_stime
    return Fetched(seconds, cpu, usage.ru_maxrss / 1024, output)  # Linux: ru_maxrss in KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=3, help="per subscriber")
    parser.add_argument("--runs", type=int, default=1, help="timed runs of both sides")
    parser.add_argument(
        "--memory", default="5000,50000", help="subscriber counts to measure peak memory of"
    )
    parser.add_argument("--database-url", help="PostgreSQL base URL; default: a SQLite file")
    parser.add_argument("--profile", type=Path, help="cProfile the big side into this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bot-fetch-bench-") as tmp:
        inputs, pool = build(Path(tmp), args.papers)
        size = inputs.listing.stat().st_size
        where = "PostgreSQL" if args.database_url else "SQLite file"
        print(
            f"listing: {args.papers} new papers, {size / 1e6:.1f} MB RSS; "
            f"{args.queries} queries a subscriber; ledger: {where}; load {_load()}"
        )
        for _ in range(args.runs):
            with ledger(args.database_url, inputs.folder) as url:
                many = fetch(inputs, url, args.subscribers, args.queries, pool)
            with ledger(args.database_url, inputs.folder) as url:
                one = fetch(inputs, url, 1, args.queries, pool)
            print(
                f"bot fetch, {args.subscribers} subscribers: {many.seconds:6.2f} s"
                f" ({many.queued} deliveries)   1 subscriber: {one.seconds:6.2f} s"
                f" ({one.queued})   ratio {many.seconds / one.seconds:5.2f}x"
                f"   [CPU {many.cpu:.2f} s vs {one.cpu:.2f} s: {many.cpu / one.cpu:.2f}x]"
            )
        if args.profile:
            with ledger(args.database_url, inputs.folder) as url:
                fetch(inputs, url, args.subscribers, args.queries, pool, profile=args.profile)
            import pstats

            print(f"profile of the {args.subscribers}-subscriber side: {args.profile}")
            pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(15)
        for count in [int(c) for c in args.memory.split(",") if c.strip()]:
            with ledger(args.database_url, inputs.folder) as url:
                got = fetch(inputs, url, count, args.queries, pool)
            print(
                f"peak memory (maxrss) of bot fetch, {count} subscribers: {got.maxrss_mb:6.0f} MB"
                f" ({got.queued} deliveries, {got.seconds:.1f} s)"
            )
        print(f"load after: {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
