"""The command line's grammar: commands, options, their help, examples and exit codes (SPEC 7)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping

from bot import __version__
from bot.cli.args import date, limit
from bot.cli.subscribers import add_subscriber_commands
from bot.cli.words import COMMON, EXIT_CODES
from bot.errors import ConfigError

__all__ = ["build_parser", "Parser"]


EXAMPLES = """examples:
  bot init                     write ./settings.toml: the commented example, to edit
  bot check --connect          validate it; try the mail server and every source
  bot fetch --mark-seen        record what is listed today without emailing it
  bot once                     one cycle, for cron: poll, then send what is due now
  bot search 'title:judge*' --since 2026-03-01
  bot subscribers add ann@example.org -k '"language model"' --cadence weekly --day fri
  bot status --html status.html
"""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2 like every other bad argument."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see '{self.prog} --help')")


def build_parser(handlers: Mapping[str, Callable[[argparse.Namespace], int]]):
    """The `bot` parser; `handlers[name]` runs command `name`."""
    parser = Parser(
        prog="bot",
        description="Paper digest and alert daemon: polls listings, emails each subscriber "
        "the new papers that match their queries.",
        epilog=f"{EXAMPLES}\n{EXIT_CODES}",
    )
    parser.add_argument("--version", action="version", version=f"bot {__version__}")
    _add_common(parser, defaults=True)
    # The same options after the command (`bot once --config x.toml`), not repeated in each
    # command's help; SUPPRESS keeps a value given before the command when none is given after.
    common = Parser(add_help=False)
    _add_common(common, defaults=False)
    commands = parser.add_subparsers(
        title="commands", metavar="COMMAND", required=True, parser_class=Parser
    )

    def command(
        name: str, func, help: str, example: str = "", *, settings: bool = True
    ) -> argparse.ArgumentParser:
        epilog = (f"example:\n  {example}\n\n" if example else "") + EXIT_CODES
        if settings:
            epilog += f"\n{COMMON}"
        sub = commands.add_parser(
            name,
            help=help,
            description=help,
            epilog=epilog,
            parents=[common] if settings else [],
        )
        sub.set_defaults(command=func)
        return sub

    command(
        "run",
        handlers["run"],
        "the daemon: poll on schedule, send digests at their cadence, "
        "follow the settings file; stops cleanly on SIGTERM/SIGINT",
    )
    command(
        "once",
        handlers["once"],
        "one cycle now, for cron: poll every source, then send what is due now (instant "
        "subscribers, digests whose send_at has passed, deferred emails whose retry time has come)",
        "*/10 * * * *  cd /srv/bot && bot once --log-level warning >> /var/log/bot.log 2>&1",
    )
    fetch = command(
        "fetch", handlers["fetch"], "poll every source; record new papers and queue deliveries"
    )
    fetch.add_argument(
        "--mark-seen",
        action="store_true",
        help="record the papers without queuing any email (prime a fresh install)",
    )
    send = command(
        "send",
        handlers["send"],
        "send what is due now (the second half of 'bot once'), then say what still waits",
        "bot send --all     (after fixing the mail server: everything pending, now)",
    )
    send.add_argument(
        "--all",
        action="store_true",
        help="send every pending email now, whatever its cadence or retry time",
    )
    command(
        "init",
        handlers["init"],
        "write a commented starter settings file (the example) where there is none",
        "bot init --config /etc/bot/settings.toml",
    )
    check = command("check", handlers["check"], "validate the settings file")
    check.add_argument(
        "--connect", action="store_true", help="also try the mail server and fetch every source"
    )
    search = command(
        "search",
        handlers["search"],
        "the stored papers that match QUERY, newest first",
        "bot search '\"language model\" AND cascade' --since 2026-03-01 --limit all --json",
    )
    search.add_argument("query", metavar="QUERY", help="a keyword query, as in keywords")
    search.add_argument("--json", action="store_true", help="print one JSON array of papers")
    search.add_argument(
        "--since",
        metavar="YYYY-MM-DD",
        type=date,
        help="only papers first seen on or after this day (UTC)",
    )
    search.add_argument(
        "--limit", metavar="N", type=limit, default=50, help="show at most N (default: 50; 'all')"
    )
    explain = command(
        "explain",
        handlers["explain"],
        "how a query is parsed, or where it is wrong; with --paper ID [EMAIL], why a stored"
        " paper matches each query of a subscriber (of every one without EMAIL), with its score",
        "bot explain 'title:judge* -survey'\n"
        "  bot explain --paper arxiv:2405.00001 ann@example.org",
    )
    explain.add_argument(
        "query",
        metavar="QUERY",
        nargs="?",
        help="a keyword query, as in keywords; with --paper: a subscriber's email",
    )
    explain.add_argument("--paper", metavar="ID", help="a stored paper's id (bot search --json)")
    status = command(
        "status",
        handlers["status"],
        "sources (last good poll, failure, next poll), papers seen, per subscriber the "
        "deliveries, emails waiting, next email and next retry",
    )
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.add_argument(
        "--html",
        metavar="FILE",
        help="also write a self-contained page: papers per day per source, matches and emails "
        "per subscriber, the last 30 days",
    )
    preview = command(
        "preview",
        handlers["preview"],
        "render a subscriber's next email without sending it (a sample from recent papers "
        "when nothing is pending)",
        "bot preview ann@example.org --html next.html",
    )
    preview.add_argument("email", metavar="EMAIL", help="a subscriber's email address")
    preview.add_argument("--html", metavar="FILE", help="also write the HTML part to FILE")
    add_subscriber_commands(command, common)
    demo = command(
        "demo",
        handlers["demo"],
        "offline end-to-end run on bundled sample pages (its own settings; no --config)",
        settings=False,
    )
    demo.add_argument("--html", metavar="FILE", help="also write the HTML part to FILE")
    return parser


def _add_common(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    # After the command they are accepted but not listed again (argparse.SUPPRESS help).
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=None if defaults else argparse.SUPPRESS,
        help="settings file (default: $BOT_CONFIG, else ./settings.toml)"
        if defaults
        else argparse.SUPPRESS,
    )
    parser.add_argument(
        "--log-level",
        metavar="LEVEL",
        choices=["debug", "info", "warning", "error"],
        default=None if defaults else argparse.SUPPRESS,
        help="debug, info, warning or error: log to stderr from this level (default: info for "
        "run; other commands print only their own one-line errors)"
        if defaults
        else argparse.SUPPRESS,
    )
