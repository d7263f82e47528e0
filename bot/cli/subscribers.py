"""`bot subscribers list/add/remove/set`: the command-line side of bot.settings.edit.

Every command's parser registers these actions, so the settings code (tomlkit, the query parser)
is imported only when a subscribers action runs, as bot.cli.main does for its commands.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from bot.models import CADENCES, WEEKDAYS

__all__ = ["add_subscriber_commands"]


def add_subscriber_commands(command, common: argparse.ArgumentParser) -> None:
    """Register `subscribers` and its actions through the CLI's `command(name, func, help)`."""
    people = command(
        "subscribers",
        _subscribers_list,
        "list or edit the subscribers in the settings file, keeping its comments",
    )
    actions = people.add_subparsers(title="actions", metavar="ACTION", parser_class=type(common))
    listing = actions.add_parser(
        "list", help="every subscriber and their keywords", parents=[common]
    )
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(command=_subscribers_list)
    add = actions.add_parser("add", help="add a subscriber", parents=[common])
    add.add_argument("email")
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
    add.set_defaults(command=_subscribers_add)
    remove = actions.add_parser("remove", help="remove a subscriber", parents=[common])
    remove.add_argument("email")
    remove.set_defaults(command=_subscribers_remove)
    change = actions.add_parser("set", help="change a subscriber", parents=[common])
    change.add_argument("email")
    change.add_argument(
        "--keyword",
        "-k",
        dest="keywords",
        action="append",
        metavar="QUERY",
        help="replace the keywords (repeat for several)",
    )
    change.add_argument("--add-keyword", action="append", default=[], metavar="QUERY")
    change.add_argument("--remove-keyword", action="append", default=[], metavar="QUERY")
    _person_options(change)
    change.set_defaults(command=_subscribers_set)


def _person_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name")
    parser.add_argument("--cadence", choices=CADENCES)
    parser.add_argument("--send-at", metavar="HH:MM")
    parser.add_argument("--day", choices=WEEKDAYS)
    parser.add_argument("--timezone", metavar="ZONE", help="e.g. Europe/Berlin")
    parser.add_argument(
        "--source",
        dest="sources",
        action="append",
        metavar="NAME",
        help="only papers from this source (repeat for several)",
    )
    parser.add_argument(
        "--abstract",
        choices=("snippet", "full"),
        help="what a card shows of each abstract (default: abstract in [bot])",
    )


def _person_fields(args: argparse.Namespace) -> dict:
    from bot.settings.tables import SUBSCRIBER_OPTIONS

    return {key: getattr(args, key) for key in SUBSCRIBER_OPTIONS}


def _config_file(args: argparse.Namespace) -> Path:
    from bot.settings.load import config_path

    return config_path(args.config, os.environ)


def _subscribers_list(args: argparse.Namespace) -> int:
    from bot.settings.load import load_settings

    settings = load_settings(_config_file(args))
    if getattr(args, "json", False):
        print(
            json.dumps(
                [
                    {
                        "email": s.email,
                        "name": s.name,
                        "keywords": list(s.keywords),
                        "cadence": s.cadence,
                    }
                    for s in settings.subscribers
                ],
                indent=2,
            )
        )
        return 0
    for s in settings.subscribers:
        name = f" ({s.name})" if s.name else ""
        print(f"{s.email}{name}: {s.cadence}; " + "; ".join(s.keywords))
    print(f"{len(settings.subscribers)} subscribers")
    return 0


def _subscribers_add(args: argparse.Namespace) -> int:
    from bot.settings.edit import add_subscriber

    add_subscriber(_config_file(args), args.email, args.keywords, **_person_fields(args))
    print(f"added {args.email}")
    return 0


def _subscribers_remove(args: argparse.Namespace) -> int:
    from bot.settings.edit import remove_subscriber

    remove_subscriber(_config_file(args), args.email)
    print(f"removed {args.email}")
    return 0


def _subscribers_set(args: argparse.Namespace) -> int:
    from bot.settings.edit import set_subscriber

    set_subscriber(
        _config_file(args),
        args.email,
        keywords=args.keywords,
        add_keywords=args.add_keyword,
        remove_keywords=args.remove_keyword,
        **_person_fields(args),
    )
    print(f"changed {args.email}")
    return 0
