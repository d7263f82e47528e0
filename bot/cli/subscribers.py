"""`bot subscribers list/add/remove/set/pause/resume`: the CLI side of bot.settings.edit.

Every command's parser registers these actions, so the settings code (tomlkit, the query parser)
is imported only when a subscribers action runs, as bot.cli.main does for its commands.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from bot.cli.stops import read_stops, stop_json, stop_words
from bot.cli.words import COMMON, EXIT_CODES, plural
from bot.errors import ConfigError
from bot.models import CADENCES, WEEKDAYS

__all__ = ["add_subscriber_commands", "subscriber_json"]


def add_subscriber_commands(command, common: argparse.ArgumentParser) -> None:
    """Register `subscribers` and its actions through the CLI's `command(name, func, help)`."""
    people = command(
        "subscribers",
        _subscribers_list,
        "list or edit the subscribers in the settings file, keeping its comments",
    )
    actions = people.add_subparsers(title="actions", metavar="ACTION", parser_class=type(common))

    def action(name: str, func, help: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(
            name,
            help=help,
            description=help,
            epilog=f"{EXIT_CODES}\n{COMMON}",
            parents=[common],
        )
        parser.set_defaults(command=func)
        return parser

    listing = action("list", _subscribers_list, "every subscriber with every key (the default)")
    listing.add_argument("--json", action="store_true", help="print one JSON array")
    add = action("add", _subscribers_add, "add a subscriber to the settings file")
    add.add_argument("email", metavar="EMAIL", help="the subscriber's email address")
    add.add_argument(
        "--keyword",
        "-k",
        dest="keywords",
        action="append",
        required=True,
        metavar="QUERY",
        help="a query; repeat for several",
    )
    _person_options(add)
    remove = action(
        "remove",
        _subscribers_remove,
        "remove a subscriber from the settings file (their history stays in the database)",
    )
    remove.add_argument("email", metavar="EMAIL", help="the subscriber's email address")
    change = action("set", _subscribers_set, "change some keys of a subscriber")
    change.add_argument("email", metavar="EMAIL", help="the subscriber's email address")
    change.add_argument(
        "--keyword",
        "-k",
        dest="keywords",
        action="append",
        metavar="QUERY",
        help="replace the keywords (repeat for several)",
    )
    change.add_argument(
        "--add-keyword", action="append", default=[], metavar="QUERY", help="add a query"
    )
    change.add_argument(
        "--remove-keyword", action="append", default=[], metavar="QUERY", help="remove a query"
    )
    _person_options(change)
    change.add_argument(
        "--all-sources",
        action="store_true",
        help="remove the sources restriction: papers from every source (same as --source '')",
    )
    pause = action(
        "pause", _subscribers_pause, "stop sending to a subscriber; matches are kept for later"
    )
    pause.add_argument("email", metavar="EMAIL", help="the subscriber's email address")
    resume = action(
        "resume",
        _subscribers_resume,
        "send to a paused subscriber again; also ends an unsubscribe, pause or suspension the"
        " recipient's page or mail server stored in the database (what was dropped stays dropped)",
    )
    resume.add_argument("email", metavar="EMAIL", help="the subscriber's email address")


def _person_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="the subscriber's name, shown in the To: header")
    parser.add_argument("--cadence", choices=CADENCES, help="how often")
    parser.add_argument("--send-at", metavar="HH:MM", help="local time of a daily/weekly digest")
    parser.add_argument("--day", choices=WEEKDAYS, help="for weekly")
    parser.add_argument("--timezone", metavar="ZONE", help="e.g. Europe/Berlin")
    parser.add_argument(
        "--source",
        dest="sources",
        action="append",
        metavar="NAME",
        help="only papers from this source (repeat for several; '' for every source)",
    )
    parser.add_argument(
        "--abstract",
        choices=("snippet", "full"),
        help="what a card shows of each abstract (default: abstract in [bot])",
    )


def _person_fields(args: argparse.Namespace) -> dict:
    from bot.settings.tables import SUBSCRIBER_OPTIONS

    fields = {key: getattr(args, key, None) for key in SUBSCRIBER_OPTIONS}
    if fields["sources"] is not None:
        fields["sources"] = [name for name in fields["sources"] if name]  # `--source ''`: all
    if getattr(args, "all_sources", False):
        fields["sources"] = []
    return fields


def _config_file(args: argparse.Namespace) -> Path:
    from bot.settings.load import config_path

    return config_path(args.config, os.environ)


def subscriber_json(s, stop=None) -> dict:
    """Every key of a subscriber, as the settings file holds it after defaults, and the stop on
    it in the ledger (an opt-out by the recipient, a suspension), if any."""
    return {
        "email": s.email,
        "name": s.name,
        "keywords": list(s.keywords),
        "cadence": s.cadence,
        "send_at": s.send_at.strftime("%H:%M"),
        "day": s.day,
        "timezone": s.timezone,
        "sources": None if s.sources is None else list(s.sources),
        "abstract": s.abstract,
        "paused": s.paused,
        "stopped": stop_json(stop),
    }


def _subscribers_list(args: argparse.Namespace) -> int:
    from bot.settings.load import load_settings

    settings = load_settings(_config_file(args))
    stops = read_stops(settings)
    if getattr(args, "json", False):
        rows = [subscriber_json(s, stops.get(s.email.lower())) for s in settings.subscribers]
        print(json.dumps(rows, indent=2))
        return 0
    for s in settings.subscribers:
        name = f" ({s.name})" if s.name else ""
        when = "" if s.cadence == "instant" else f" at {s.send_at.strftime('%H:%M')}"
        day = f" on {s.day}" if s.cadence == "weekly" else ""
        sources = "every source" if s.sources is None else "sources " + ", ".join(s.sources)
        paused = "; PAUSED" if s.paused else ""
        if s.email.lower() in stops:
            paused += f"; {stop_words(stops[s.email.lower()])}"
        print(
            f"{s.email}{name}: {s.cadence}{day}{when} {s.timezone}; {sources}{paused}\n"
            + "".join(f"    {k}\n" for k in s.keywords),
            end="",
        )
    print(plural(len(settings.subscribers), "subscriber"))
    return 0


def _stored(settings, email: str) -> str:
    """The address as the settings file holds it (the one typed may differ in case)."""
    wanted = email.lower()
    return next((s.email for s in settings.subscribers if s.email.lower() == wanted), email)


def _subscribers_add(args: argparse.Namespace) -> int:
    from bot.settings.edit import add_subscriber

    settings = add_subscriber(_config_file(args), args.email, args.keywords, **_person_fields(args))
    print(f"added {_stored(settings, args.email)}")
    return 0


def _subscribers_remove(args: argparse.Namespace) -> int:
    from bot.settings.edit import remove_subscriber
    from bot.settings.load import load_settings

    path = _config_file(args)
    stored = _stored(load_settings(path), args.email)
    remove_subscriber(path, args.email)
    print(f"removed {stored}")
    return 0


def _subscribers_set(args: argparse.Namespace) -> int:
    from bot.settings.edit import set_subscriber

    fields = _person_fields(args)
    if (
        args.keywords is None
        and not args.add_keyword
        and not args.remove_keyword
        and all(value is None for value in fields.values())
    ):
        raise ConfigError(
            "bot subscribers set: nothing to change (give --keyword, --add-keyword, "
            "--remove-keyword, --name, --cadence, --send-at, --day, --timezone, --source or "
            "--all-sources; see 'bot subscribers set --help')"
        )
    settings = set_subscriber(
        _config_file(args),
        args.email,
        keywords=args.keywords,
        add_keywords=args.add_keyword,
        remove_keywords=args.remove_keyword,
        **fields,
    )
    print(f"changed {_stored(settings, args.email)}")
    return 0


def _subscribers_pause(args: argparse.Namespace) -> int:
    return _pause(args, True)


def _subscribers_resume(args: argparse.Namespace) -> int:
    return _pause(args, False)


def _pause(args: argparse.Namespace, paused: bool) -> int:
    from bot.settings.edit import set_subscriber

    settings = set_subscriber(_config_file(args), args.email, paused=paused)
    stored = _stored(settings, args.email)
    if paused:
        print(f"paused {stored}: nothing is sent; matching papers are kept for later")
        return 0
    cleared = _clear_stop(settings, args.email)
    if cleared is None:
        print(f"resumed {stored}: what was kept goes out with the next email")
    else:
        print(
            f"resumed {stored}: cleared {stop_words(cleared)}; what was dropped stays dropped,"
            " the next matching papers go out with the next email"
        )
    return 0


def _clear_stop(settings, email: str):
    """End a stop on `email` in the ledger (bot.ledger.recipients): the stop, or None."""
    from bot.ledger import Ledger

    if not read_stops(settings).get(email.lower()):
        return None
    with Ledger.open(settings.database) as ledger:
        return ledger.recipients.resume(email)
