"""The commands of SPEC section 7; every BotError becomes one line and an exit code.

Each command imports the stages it uses when it runs (the indented imports below): `bot explain`,
`bot check` or `--help` then do not load SQLAlchemy, APScheduler, httpx and aiosmtplib
(`python -X importtime`: this module about 0.05 s, bot.daemon about 0.45 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cli.args import protect_queries
from bot.cli.parser import build_parser
from bot.cli.words import plural
from bot.errors import BotError, ConfigError
from bot.text import one_line

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code: 0 done, 1 the work failed, 2 bad settings or arguments."""
    try:
        parser = build_parser(_HANDLERS)
        args = parser.parse_args(protect_queries(sys.argv[1:] if argv is None else argv))
        if args.command is _demo and args.config is not None:
            raise ConfigError("bot demo: runs on its own sample settings; --config is not for it")
        # The daemon tells its story at info. A one-shot command prints its own one-line errors,
        # so its log stays silent unless asked for (else one failure would show up three times).
        _configure_logging(args.log_level or ("info" if args.command is _run else "critical"))
        code = args.command(args)
        sys.stdout.flush()  # here, where a reader gone away is handled (`bot search … | head`)
        return code
    except BotError as exc:
        lines = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
        for line in lines:
            print(f"error: {one_line(line)}", file=sys.stderr)  # may quote a server's text
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`bot search … | head`): stop quietly, as other Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        stream=sys.stderr,
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )


def _now() -> datetime:
    """The clock. BOT_NOW (an ISO time, UTC when no offset is given) is for tests only: it lets a
    test run `bot once` as cron would over simulated weeks without waiting for them."""
    fixed = os.environ.get("BOT_NOW")
    if not fixed:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(fixed)
    except ValueError:
        raise ConfigError(
            f"BOT_NOW={fixed!r} is not an ISO time (for tests only; unset it)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _settings(args: argparse.Namespace, *, links: bool = False):
    """The settings file; with `links` (commands that write emails), the [web] secret read from
    the environment too (bot.web.secret: a missing or short one is one line, exit 2)."""
    from bot.settings.load import config_path, load_settings

    settings = load_settings(config_path(args.config, os.environ))
    if links:
        from bot.web.secret import with_secret

        settings = with_secret(settings, os.environ)
    return settings


def _ledger(settings, *, read_only: bool = False):
    from bot.ledger import Ledger

    return Ledger.open(settings.database, read_only=read_only)


def _run(args: argparse.Namespace) -> int:
    from bot.daemon import Daemon
    from bot.ledger import Leadership, daemon_lock

    settings = _settings(args)
    with daemon_lock(settings.database) as lock, _ledger(settings) as ledger:
        leadership = lock if isinstance(lock, Leadership) else None
        return asyncio.run(Daemon(settings, ledger, dict(os.environ), leadership).run())


def _once(args: argparse.Namespace) -> int:
    from bot.cli.cycle import run_poll, run_send

    settings = _settings(args, links=True)
    with _ledger(settings) as ledger:
        polled = run_poll(settings, ledger, _now(), mark_seen=False)
        sent = run_send(settings, ledger, _now())
    return max(polled, sent)


def _fetch(args: argparse.Namespace) -> int:
    from bot.cli.cycle import run_poll

    settings = _settings(args)
    with _ledger(settings) as ledger:
        return run_poll(settings, ledger, _now(), mark_seen=args.mark_seen)


def _send(args: argparse.Namespace) -> int:
    from bot.cli.cycle import run_send

    settings = _settings(args, links=True)
    with _ledger(settings) as ledger:
        return run_send(settings, ledger, _now(), everything=args.all)


def _init(args: argparse.Namespace) -> int:
    from importlib.resources import files

    from bot.settings.load import config_path

    path = config_path(args.config, os.environ)
    example = files("bot.settings").joinpath("settings.example.toml").read_bytes()
    try:
        with open(path, "xb") as out:  # never over a file that is there
            out.write(example)
    except FileExistsError:
        raise ConfigError(f"{path}: exists already; bot init leaves it as it is") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the settings file: {exc.strerror}") from None
    print(f"wrote {path}: edit it (sources, [mail], subscribers), then run 'bot check'")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from bot.ledger import check_database
    from bot.mail.render import Renderer

    settings = _settings(args, links=True)
    Renderer(settings.templates)  # a template that does not compile is a settings problem
    check_database(settings.database, f"{settings.path}: ")
    queries = sum(len(s.keywords) for s in settings.subscribers)
    print(
        f"{settings.path}: OK: {plural(len(settings.sources), 'source')}, "
        f"{plural(len(settings.subscribers), 'subscriber')}, {plural(queries, 'query')}"
    )
    if settings.web is not None:
        web = settings.web
        print(
            f"recipients' page: bot run serves it on {_host_port(web)};"
            f" emails link to {web.base_url}/u/…"
        )
    if not args.connect:
        return EXIT_OK
    from bot.cli.check import check_connections

    problems = asyncio.run(check_connections(settings, os.environ))
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    if not problems and settings.mail.transport == "maildir":
        print(f"Maildir folder {settings.mail.maildir} is writable; every source answered")
    elif not problems:
        print("mail server and every source answered")
    return EXIT_FAILED if problems else EXIT_OK


def _host_port(web) -> str:
    return f"[{web.host}]:{web.port}" if ":" in web.host else f"{web.host}:{web.port}"


def _search(args: argparse.Namespace) -> int:
    from bot.cli.status import paper_json
    from bot.query.matcher import matches
    from bot.query.syntax import parse_query

    query = parse_query(args.query)
    settings = _settings(args)
    with _ledger(settings, read_only=True) as ledger:
        found = [p for p in ledger.papers.seen(since=args.since) if matches(query, p)]
    shown = found[: args.limit]
    rows = [paper_json(p, [s.url for s in settings.sources]) for p in shown]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    for paper, row in zip(shown, rows, strict=True):
        seen = paper.first_seen.date().isoformat() if paper.first_seen else "?"
        print(f"{seen}  {paper.title}\n            {row['url']}  [{', '.join(paper.sources)}]")
    total = "1 paper matches" if len(found) == 1 else f"{len(found)} papers match"
    if len(shown) < len(found):
        total += f"; the newest {len(shown)} shown (--limit)"
    print(total)
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    if args.paper is not None:
        return _explain_paper(args)
    from bot.query.explain import explain

    if args.query is None:
        raise ConfigError("bot explain: give a QUERY, or --paper ID [EMAIL] (see 'bot --help')")
    print(explain(args.query))
    return EXIT_OK


def _explain_paper(args: argparse.Namespace) -> int:
    from bot.mail.digest import reference_corpus
    from bot.query.why import explain_paper

    settings = _settings(args)
    subscribers = list(settings.subscribers)
    if args.query is not None:
        wanted = args.query.lower()
        subscribers = [s for s in subscribers if s.email.lower() == wanted]
        if not subscribers:
            raise ConfigError(f"{settings.path}: no subscriber {args.query!r} (see 'bot status')")
    with _ledger(settings, read_only=True) as ledger:
        paper = ledger.papers.paper(args.paper)
        if paper is None:
            raise ConfigError(
                f"no paper {args.paper!r} in the ledger (ids as `bot search QUERY --json` shows"
                " them, e.g. arxiv:2405.00001)"
            )
        corpus = reference_corpus(ledger.papers)
    print(explain_paper(paper, subscribers, corpus))
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from bot.cli.status import print_status, subscriber_plans

    settings = _settings(args)
    now = _now()
    with _ledger(settings, read_only=True) as ledger:
        status = ledger.status()
        plans = subscriber_plans(settings, ledger, now)
        if args.html:
            from bot.cli.status_page import DAYS, write_status_page

            since = datetime.combine(now.date(), datetime.min.time(), UTC)
            history = ledger.history(since - timedelta(days=DAYS - 1))
            write_status_page(Path(args.html), status, history, settings, now)
    print_status(status, settings, as_json=args.json, now=now, plans=plans)
    return EXIT_OK


def _preview(args: argparse.Namespace) -> int:
    from bot.cli.preview import run_preview

    settings = _settings(args, links=True)
    wanted = args.email.lower()
    subscriber = next((s for s in settings.subscribers if s.email.lower() == wanted), None)
    if subscriber is None:
        raise ConfigError(f"{settings.path}: no subscriber {args.email!r} (see 'bot status')")
    html = Path(args.html) if args.html else None
    with _ledger(settings, read_only=True) as ledger:
        return run_preview(settings, ledger, subscriber, _now(), html)


def _demo(args: argparse.Namespace) -> int:
    from bot.cli.demo import run_demo

    return run_demo(html_path=Path(args.html) if args.html else None)


_HANDLERS = {
    "run": _run,
    "once": _once,
    "fetch": _fetch,
    "send": _send,
    "init": _init,
    "check": _check,
    "search": _search,
    "explain": _explain,
    "status": _status,
    "preview": _preview,
    "demo": _demo,
}
