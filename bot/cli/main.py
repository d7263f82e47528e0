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
from datetime import UTC, datetime
from pathlib import Path

from bot import __version__
from bot.cli.args import date, positive, protect_queries
from bot.cli.subscribers import add_subscriber_commands
from bot.errors import BotError, ConfigError
from bot.text import one_line

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2 like every other bad argument."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see '{self.prog} --help')")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code: 0 done, 1 the work failed, 2 bad settings or arguments."""
    try:
        args = _build_parser().parse_args(protect_queries(sys.argv[1:] if argv is None else argv))
        # The daemon tells its story at info. A one-shot command prints its own one-line errors,
        # so its log stays silent unless asked for (else one failure would show up three times).
        _configure_logging(args.log_level or ("info" if args.command is _run else "critical"))
        return args.command(args)
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
        return EXIT_FAILED


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bot", description="Paper digest and alert daemon.")
    parser.add_argument("--version", action="version", version=f"bot {__version__}")
    _add_common(parser, defaults=True)
    # The same options after the command (`bot once --config x.toml`); SUPPRESS keeps a value
    # given before the command when none is given after it.
    common = _Parser(add_help=False)
    _add_common(common, defaults=False)
    commands = parser.add_subparsers(
        title="commands", metavar="COMMAND", required=True, parser_class=_Parser
    )

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help, parents=[common])
        sub.set_defaults(command=func)
        return sub

    command(
        "run",
        _run,
        "the daemon: poll on schedule, send digests at their cadence, "
        "follow the settings file; stops cleanly on SIGTERM/SIGINT",
    )
    command("once", _once, "one cycle now: poll every source, then send every pending email")
    fetch = command("fetch", _fetch, "poll every source; record new papers and queue deliveries")
    fetch.add_argument(
        "--mark-seen",
        action="store_true",
        help="record the papers without queuing any email (prime a fresh install)",
    )
    command("send", _send, "send every pending email now, regardless of cadence")
    check = command("check", _check, "validate the settings file")
    check.add_argument(
        "--connect", action="store_true", help="also try the mail server and fetch every source"
    )
    search = command("search", _search, "the stored papers that match QUERY, newest first")
    search.add_argument("query")
    search.add_argument("--json", action="store_true", help="one JSON array")
    search.add_argument("--since", metavar="DATE", type=date, help="first seen on or after DATE")
    search.add_argument("--limit", metavar="N", type=positive, default=50, help="default: 50")
    explain = command(
        "explain",
        _explain,
        "how a query is parsed, or where it is wrong; with --paper ID [EMAIL], why a stored"
        " paper matches each query of a subscriber (of every one without EMAIL), with its score",
    )
    explain.add_argument("query", nargs="?", help="a query; with --paper: a subscriber's email")
    explain.add_argument("--paper", metavar="ID", help="a stored paper's id (bot search --json)")
    status = command("status", _status, "sources, papers seen, deliveries per subscriber")
    status.add_argument("--json", action="store_true")
    preview = command("preview", _preview, "render a subscriber's next email without sending it")
    preview.add_argument("email")
    preview.add_argument("--html", metavar="FILE", help="also write the HTML part to FILE")
    add_subscriber_commands(command, common)
    demo = command("demo", _demo, "offline end-to-end run on bundled sample pages")
    demo.add_argument("--html", metavar="FILE", help="also write the HTML part to FILE")
    return parser


def _add_common(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=None if defaults else argparse.SUPPRESS,
        help="settings file (default: $BOT_CONFIG, else ./settings.toml)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=None if defaults else argparse.SUPPRESS,
        help="log to stderr from this level (default: info for run; other commands print "
        "only their own one-line errors)",
    )


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        stream=sys.stderr,
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _settings(args: argparse.Namespace):
    from bot.settings.load import config_path, load_settings

    return load_settings(config_path(args.config, os.environ))


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
    settings = _settings(args)
    with _ledger(settings) as ledger:
        polled = _run_poll(settings, ledger, mark_seen=False)
        sent = _run_send(settings, ledger)
    return max(polled, sent)


def _fetch(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _ledger(settings) as ledger:
        return _run_poll(settings, ledger, mark_seen=args.mark_seen)


def _send(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _ledger(settings) as ledger:
        return _run_send(settings, ledger)


def _run_poll(settings, ledger, *, mark_seen: bool) -> int:
    from bot.poll import poll

    report = asyncio.run(poll(settings, ledger.papers, _now(), mark_seen=mark_seen))
    for outcome in report.sources:
        if outcome.deferred:
            print(f"{outcome.name}: {outcome.error}")
        elif outcome.error:
            print(f"error: source {outcome.name!r}: {outcome.error}", file=sys.stderr)
        elif outcome.unchanged:
            print(f"{outcome.name}: unchanged since the last poll")
        else:
            skipped = f" ({outcome.skipped})" if outcome.skipped else ""
            print(f"{outcome.name}: {outcome.listed} papers listed{skipped}")
        if outcome.alert and not outcome.error:  # a failure has its own line on every run
            print(f"error: source {outcome.name!r}: {outcome.alert}", file=sys.stderr)
    queued = "no email queued (--mark-seen)" if mark_seen else f"{report.queued} deliveries queued"
    print(f"{len(report.new)} new papers recorded, {queued}")
    return EXIT_FAILED if report.failed else EXIT_OK


def _run_send(settings, ledger) -> int:
    from bot.mail.render import Renderer
    from bot.mail.send import send
    from bot.mail.transports import open_transports
    from bot.shutdown import until_stopped

    renderer = Renderer(settings.templates)

    async def run(stop: asyncio.Event):
        async with open_transports(settings.mail, os.environ) as transports:
            return await send(settings, ledger, transports, renderer, _now(), stop=stop)

    # SIGTERM/SIGINT: the email in flight is finished and recorded, no other is started.
    report, stopped = asyncio.run(until_stopped(run))
    if report is None:
        print(
            "error: stopped by a signal while an email was in flight; "
            "it stays pending and may arrive twice",
            file=sys.stderr,
        )
        return EXIT_FAILED
    # Each line may quote a mail server: one_line drops the control characters it may hold.
    for line in report.deferred:
        print(f"error: not sent yet, will retry: {one_line(line)}", file=sys.stderr)
    for line in [*report.failed, *report.quarantined]:
        print(f"error: {one_line(line)}", file=sys.stderr)
    if report.stopped:
        print(f"error: sending stopped: {one_line(report.stopped)}", file=sys.stderr)
    if stopped:
        print("error: stopped by a signal; what was not sent stays pending", file=sys.stderr)
    print(f"{report.emails} emails sent with {report.papers} papers")
    problems = report.deferred or report.failed or report.quarantined or report.stopped or stopped
    return EXIT_FAILED if problems else EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from bot.ledger import check_database
    from bot.mail.render import Renderer

    settings = _settings(args)
    Renderer(settings.templates)  # a template that does not compile is a settings problem
    check_database(settings.database, f"{settings.path}: ")
    queries = sum(len(s.keywords) for s in settings.subscribers)
    print(
        f"{settings.path}: OK: {len(settings.sources)} sources, "
        f"{len(settings.subscribers)} subscribers, {queries} queries"
    )
    if not args.connect:
        return EXIT_OK
    from bot.cli.check import check_connections

    problems = asyncio.run(check_connections(settings, os.environ))
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    if not problems:
        print("mail server and every source answered")
    return EXIT_FAILED if problems else EXIT_OK


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
    from bot.cli.status import print_status

    settings = _settings(args)
    with _ledger(settings, read_only=True) as ledger:
        status = ledger.status()
    print_status(status, settings, as_json=args.json)
    return EXIT_OK


def _preview(args: argparse.Namespace) -> int:
    from bot.mail.render import Renderer
    from bot.mail.send import compose_for

    settings = _settings(args)
    wanted = args.email.lower()
    subscriber = next((s for s in settings.subscribers if s.email.lower() == wanted), None)
    if subscriber is None:
        raise ConfigError(f"{settings.path}: no subscriber {args.email!r} (see 'bot status')")
    with _ledger(settings, read_only=True) as ledger:
        renderer = Renderer(settings.templates)
        composed = compose_for(
            settings, ledger.deliveries, subscriber, renderer, _now(), ledger.papers
        )
    if composed is None:
        print(f"nothing pending for {subscriber.email}")
        return EXIT_OK
    if args.html:  # before printing: a reader that goes away must not cost the file
        Path(args.html).write_text(composed.html, encoding="utf-8")
    print(_headers(composed.data, ("From", "To", "Subject")) + "\n")
    print(composed.text)
    return EXIT_OK


def _headers(data: bytes, names: Sequence[str]) -> str:
    """These headers of a built message, decoded (RFC 2047) for reading."""
    import email
    import email.policy

    parsed = email.message_from_bytes(data, policy=email.policy.default)
    return "\n".join(f"{name}: {parsed[name]}" for name in names if parsed[name] is not None)


def _demo(args: argparse.Namespace) -> int:
    from bot.cli.demo import run_demo

    return run_demo(html_path=Path(args.html) if args.html else None)
