"""The settings loader (SPEC section 2): defaults, paths, and every problem word for word."""

from __future__ import annotations

import os
from datetime import time, timedelta
from pathlib import Path

import pytest

from bot.errors import ConfigError, QueryError
from bot.models import MailSettings, Paper, Source, Subscriber
from bot.query.matcher import matches
from bot.settings.load import KNOWN_KEYS, config_path, load_settings, parse_duration, parse_settings

REPO = Path(__file__).parent.parent
SOURCE = '[[sources]]\nname = "hf"\ntype = "hf-daily"\nurl = "https://example.org/api"\n'
SUBSCRIBER = '[[subscribers]]\nemail = "alice@example.org"\nkeywords = ["diffusion"]\n'
MINIMAL = SOURCE + SUBSCRIBER


def problems_in(text: str | bytes, **options) -> list[str]:
    """The problem lines of a file named settings.toml holding `text`; fails when it loads."""
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, Path("settings.toml"), **options)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def mail(lines: str) -> str:
    return f"[mail]\n{lines}\n" + SOURCE


def subscriber(lines: str) -> str:
    return SOURCE + f'[[subscribers]]\nemail = "alice@example.org"\n{lines}\n'


# --- defaults and paths -------------------------------------------------------------------------


def test_a_minimal_file_gets_every_default(tmp_path: Path) -> None:
    file = tmp_path / "settings.toml"
    file.write_text(MINIMAL)
    settings = load_settings(file)
    assert settings.path == file
    assert settings.database == f"sqlite:///{tmp_path.as_posix()}/bot.db"
    assert (settings.timezone, settings.max_items, settings.templates) == ("UTC", 50, None)
    assert settings.mail == MailSettings(maildir=tmp_path / "outbox")
    assert settings.mail.transport == "maildir" and settings.mail.port is None
    assert settings.sources == (
        Source("hf", "hf-daily", "https://example.org/api", timedelta(hours=1), False),
    )
    assert settings.subscribers == (
        Subscriber(
            "alice@example.org", "", ("diffusion",), "daily", time(8, 0), "mon", "UTC", None
        ),
    )


def test_smtp_defaults_to_starttls_and_lets_the_transport_pick_the_port() -> None:
    settings = parse_settings(mail('transport = "smtp"').encode(), Path("settings.toml"))
    assert (settings.mail.transport, settings.mail.security) == ("smtp", "starttls")
    assert (settings.mail.host, settings.mail.port, settings.mail.username) == (
        "localhost",
        None,
        None,
    )


def test_subscribers_take_the_bot_timezone_unless_they_name_their_own() -> None:
    text = '[bot]\ntimezone = "Asia/Tokyo"\n' + subscriber('keywords = ["a"]')
    text += '[[subscribers]]\nemail = "bob@example.org"\nkeywords = ["b"]\ntimezone = "UTC"\n'
    settings = parse_settings(text.encode(), Path("settings.toml"))
    assert [s.timezone for s in settings.subscribers] == ["Asia/Tokyo", "UTC"]


def test_every_key_is_read_into_the_records(tmp_path: Path) -> None:
    (tmp_path / "tpl").mkdir()
    text = f"""
[bot]
database = "postgresql+psycopg://bot@db/bot"
timezone = "Europe/Berlin"
max_items = 7
templates = "tpl"
[mail]
transport = "smtp"
maildir = "/var/mail/bot"
from = "Digest <digest@example.org>"
host = "smtp.example.org"
port = 465
security = "tls"
username = "digest"
password_env = "SMTP_PW"
concurrency = 2
timeout = 12.5
unsubscribe = "https://example.org/unsubscribe"
{SOURCE}every = "90s"
include_revisions = true
[[subscribers]]
email = "bob@example.org"
name = "Bob"
keywords = ["a", "title:b*"]
cadence = "weekly"
send_at = 18:30:00
day = "fri"
timezone = "Asia/Tokyo"
sources = ["hf"]
"""
    file = tmp_path / "settings.toml"
    file.write_text(text)
    settings = load_settings(file)
    assert settings.database == "postgresql+psycopg://bot@db/bot"
    assert (settings.timezone, settings.max_items, settings.templates) == (
        "Europe/Berlin",
        7,
        tmp_path / "tpl",
    )
    assert settings.mail == MailSettings(
        "smtp", Path("/var/mail/bot"), "Digest <digest@example.org>", "smtp.example.org", 465,
        "tls", "digest", "SMTP_PW", 2, 12.5, "https://example.org/unsubscribe",
    )  # fmt: skip
    assert settings.sources[0].every == timedelta(seconds=90)
    assert settings.sources[0].include_revisions is True
    assert settings.subscribers == (
        Subscriber(
            "bob@example.org", "Bob", ("a", "title:b*"), "weekly", time(18, 30), "fri",
            "Asia/Tokyo", ("hf",),
        ),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        ("sqlite:///bot.db", "sqlite:///{folder}/bot.db"),
        ("sqlite:///data/bot.db?timeout=10", "sqlite:///{folder}/data/bot.db?timeout=10"),
        ("sqlite+pysqlite:///bot.db", "sqlite+pysqlite:///{folder}/bot.db"),
        ("sqlite:////srv/bot.db", "sqlite:////srv/bot.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql+psycopg://bot@db/bot", "postgresql+psycopg://bot@db/bot"),
    ],
    ids=["relative", "query-kept", "driver", "absolute", "memory", "memory-named", "postgres"],
)
def test_database_paths_are_taken_from_the_file_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str, expected: str
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "settings.toml").write_text(f'[bot]\ndatabase = "{database}"\n' + SOURCE)
    monkeypatch.chdir(tmp_path)
    settings = load_settings("conf/settings.toml")
    assert settings.database == expected.format(folder=(tmp_path / "conf").as_posix())
    assert settings.path == tmp_path / "conf" / "settings.toml"


def test_maildir_and_templates_are_taken_from_the_file_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf" / "my-templates").mkdir(parents=True)
    text = '[bot]\ntemplates = "my-templates"\n[mail]\nmaildir = "spool/outbox"\n' + SOURCE
    (tmp_path / "conf" / "settings.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("conf/settings.toml"))
    assert settings.templates == tmp_path / "conf" / "my-templates"
    assert settings.mail.maildir == tmp_path / "conf" / "spool" / "outbox"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:pages/list.txt", "file://{folder}/pages/list.txt"),
        ("file:../samples/a%20b.xml", "file://{parent}/samples/a%20b.xml"),
        ("file:///srv/list.txt", "file:///srv/list.txt"),
        ("file:/srv/list.txt", "file:/srv/list.txt"),
        ("https://example.org/feed?x=1", "https://example.org/feed?x=1"),
    ],
    ids=["relative", "parent-and-space", "absolute", "absolute-short", "https"],
)
def test_relative_file_urls_are_taken_from_the_file_folder(
    tmp_path: Path, url: str, expected: str
) -> None:
    file = tmp_path / "conf" / "settings.toml"
    file.parent.mkdir()
    file.write_text(SOURCE.replace("https://example.org/api", url))
    folders = {"folder": (tmp_path / "conf").as_posix(), "parent": tmp_path.as_posix()}
    assert load_settings(file).sources[0].url == expected.format(**folders)


def test_no_subscribers_is_allowed_so_the_bot_still_records_papers() -> None:
    assert parse_settings(SOURCE.encode(), Path("settings.toml")).subscribers == ()


def test_a_byte_order_mark_is_accepted() -> None:
    settings = parse_settings(b"\xef\xbb\xbf" + MINIMAL.encode(), Path("settings.toml"))
    assert settings.sources[0].name == "hf"


def test_the_query_checker_is_injectable() -> None:
    def refuse_x(text: str) -> None:
        if "x" in text:
            raise QueryError(text, text.index("x") + 1, "no x here")

    assert problems_in(subscriber('keywords = ["ok", "box"]'), check_query=refuse_x) == [
        'settings.toml: subscribers[0].keywords[1]: bad query "box", column 3: no x here'
        " (fix the query; bot explain QUERY shows how a query is read)"
    ]


def test_the_example_file_loads_and_shows_every_key() -> None:
    example = REPO / "settings.example.toml"
    settings = load_settings(example)
    assert len(settings.sources) >= 2 and len(settings.subscribers) >= 2
    assert settings.mail.transport == "maildir"
    assert settings.database == f"sqlite:///{REPO.as_posix()}/bot.db"
    text = example.read_text()
    undocumented = [
        f"{table}.{key}"
        for table, keys in KNOWN_KEYS.items()
        for key in keys
        if f"\n{key} = " not in text and f"\n# {key} = " not in text
    ]
    assert undocumented == []


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (REPO / "examples").glob("*.toml")) or ["(none)"]
)
def test_the_shipped_example_files_load(name: str) -> None:
    if name == "(none)":
        pytest.skip("no examples/*.toml in this checkout")
    assert load_settings(REPO / "examples" / name).sources


# --- the file as a whole -----------------------------------------------------------------------


def test_a_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.problems == [
        f"{path}: settings file not found (run 'bot init' to write a commented example there"
        " and edit it, or pass --config PATH or set BOT_CONFIG)"
    ]


def test_a_folder_is_not_a_settings_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert caught.value.problems == [
        f"{tmp_path}: is a folder, not a settings file"
        " (pass --config with the path of the .toml file)"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_says_so(tmp_path: Path) -> None:
    file = tmp_path / "settings.toml"
    file.write_text(MINIMAL)
    file.chmod(0)
    with pytest.raises(ConfigError) as caught:
        load_settings(file)
    assert caught.value.problems == [
        f"{file}: cannot read the settings file: permission denied"
        " (make it readable by the user that runs bot)"
    ]


EMPTY = (
    "settings.toml: the settings file is empty (refusing to run with no sources and no"
    " subscribers; restore it from your backup or from settings.example.toml)"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [EMPTY]),
        ("\n  \n", [EMPTY]),
        ("# only a comment\n", [EMPTY]),
        (
            "a = 1\nb c\n",
            [
                "settings.toml:2:3: TOML syntax error: Expected '=' after a key in a key/value"
                " pair (fix the file at line 2, column 3)"
            ],
        ),
        (
            '[bot]\ntimezone = "UTC\n',
            [
                "settings.toml:2:16: TOML syntax error: Illegal character '\\n'"
                " (fix the file at line 2, column 16)"
            ],
        ),
        (
            "[bot]\nmax_items = [1,\n\n",
            [
                "settings.toml:2: TOML syntax error: Invalid value at the end of the file"
                " (fix the file at or before line 2)"
            ],
        ),
        (
            b'[bot]\ntimezone = "Z\xfcrich"\n',
            [
                "settings.toml:2:14: not valid UTF-8: byte 0xfc cannot be read"
                " (save the file as UTF-8, fixing line 2, column 14)"
            ],
        ),
        (
            SUBSCRIBER,
            [
                "settings.toml: sources: no [[sources]] table (add at least one: a [[sources]]"
                " line with name, type and url below it, as in settings.example.toml)"
            ],
        ),
        (
            "sources = []\n" + SUBSCRIBER,
            [
                "settings.toml: sources: no [[sources]] table (add at least one: a [[sources]]"
                " line with name, type and url below it, as in settings.example.toml)"
            ],
        ),
    ],
    ids=[
        "empty",
        "blank",
        "comments-only",
        "syntax",
        "syntax-unterminated",
        "syntax-at-end",
        "not-utf8",
        "no-sources",
        "sources-empty-array",
    ],
)
def test_whole_file_problems_are_one_line(text: str | bytes, expected: list[str]) -> None:
    assert problems_in(text) == expected


# --- one problem per case ----------------------------------------------------------------------

S = "settings.toml: "
CASES = [
    # unknown keys, in every table, with "did you mean" or the list of keys
    (
        "unknown-top",
        "[[subscriber]]\nemail = 'x@example.org'\n" + SOURCE,
        [S + 'subscriber: unknown table (did you mean "subscribers"?)'],
    ),
    (
        "unknown-top-belongs-in-bot",
        'database = "sqlite:///x.db"\n' + SOURCE,
        [S + "database: unknown key (this key belongs in [bot]; move it below the [bot] line)"],
    ),
    (
        "unknown-bot",
        "[bot]\nmax_item = 3\n" + SOURCE,
        [S + 'bot.max_item: unknown key (did you mean "max_items"?)'],
    ),
    (
        "unknown-mail-no-match",
        mail("colour = 1"),
        [
            S + "mail.colour: unknown key (remove it; the keys here are: transport, maildir,"
            " from, host, port, security, username, password_env, concurrency, timeout,"
            " unsubscribe)"
        ],
    ),
    (
        "unknown-source",
        SOURCE + 'evry = "1h"\n',
        [S + 'sources[0].evry: unknown key (did you mean "every"?)'],
    ),
    (
        "unknown-subscriber",
        subscriber('keywords = ["a"]\ncadance = "daily"'),
        [S + 'subscribers[0].cadance: unknown key (did you mean "cadence"?)'],
    ),
    (
        "mail-key-after-subscribers",
        subscriber('keywords = ["a"]\ntransport = "smtp"'),
        [
            S + "subscribers[0].transport: unknown key (this key belongs in [mail];"
            " move it below the [mail] line)"
        ],
    ),
    (
        "quoted-key",
        subscriber('keywords = ["a"]\n"my key" = 1'),
        [
            S + 'subscribers[0]."my key": unknown key (remove it; the keys here are: email,'
            " name, keywords, cadence, send_at, day, timezone, sources, abstract, paused)"
        ],
    ),
    (
        "password-in-file",
        mail('password = "hunter2"'),
        [
            S + "mail.password: passwords do not go in the settings file (remove it, write"
            ' password_env = "BOT_SMTP_PASSWORD" and export BOT_SMTP_PASSWORD with the password)'
        ],
    ),
    # wrong types
    (
        "bot-not-a-table",
        "bot = 5\n" + SOURCE,
        [
            S + "bot: expected a table, got the integer 5"
            " (write [bot] on a line of its own, its keys below)"
        ],
    ),
    (
        "sources-a-table",
        '[sources]\nname = "hf"\n',
        [
            S + "sources: expected an array of tables, got a table"
            " (write each source as a [[sources]] table, with two brackets)"
        ],
    ),
    (
        "source-not-a-table",
        'sources = ["hf"]\n',
        [
            S + 'sources[0]: expected a table, got the string "hf"'
            " (write each source as a [[sources]] table, with two brackets)"
        ],
    ),
    (
        "every-integer",
        SOURCE + "every = 30\n",
        [S + 'sources[0].every: expected a string, got the integer 30 (write every = "30m")'],
    ),
    (
        "max-items-string",
        '[bot]\nmax_items = "50"\n' + SOURCE,
        [S + 'bot.max_items: expected an integer, got the string "50" (write max_items = 50)'],
    ),
    (
        "max-items-bool",
        "[bot]\nmax_items = true\n" + SOURCE,
        [S + "bot.max_items: expected an integer, got the boolean true (write max_items = 50)"],
    ),
    (
        "include-revisions-string",
        SOURCE + 'include_revisions = "yes"\n',
        [
            S + "sources[0].include_revisions: expected a boolean (true or false), got the"
            ' string "yes" (write include_revisions = true)'
        ],
    ),
    (
        "keywords-string",
        subscriber('keywords = "diffusion"'),
        [
            S + 'subscribers[0].keywords: expected an array, got the string "diffusion"'
            ' (write keywords = ["diffusion model", "title:judge*"])'
        ],
    ),
    (
        "keyword-integer",
        subscriber('keywords = ["a", 3]'),
        [
            S + "subscribers[0].keywords[1]: expected a string, got the integer 3 (write each"
            ' item in quotes, e.g. keywords = ["diffusion model", "title:judge*"])'
        ],
    ),
    (
        "timeout-inf",
        mail("timeout = inf"),
        [S + "mail.timeout: inf is not a finite number (write timeout = 30)"],
    ),
    # missing required keys
    (
        "source-missing-all",
        "[[sources]]\nevery = '1h'\n",
        [
            S + 'sources[0].name: missing required key (add name = "hf-daily")',
            S + 'sources[0].type: missing required key (add type = "feed")',
            S
            + 'sources[0].url: missing required key (add url = "https://rss.arxiv.org/rss/cs.CL")',
        ],
    ),
    (
        "subscriber-missing-email-and-keywords",
        SOURCE + '[[subscribers]]\nname = "Alice"\n',
        [
            S + 'subscribers[0].email: missing required key (add email = "alice@example.org")',
            S + "subscribers[0].keywords: missing required key"
            ' (add keywords = ["diffusion model", "title:judge*"])',
        ],
    ),
    (
        "keywords-empty",
        subscriber("keywords = []"),
        [
            S + "subscribers[0].keywords: is empty, so this subscriber would never get an email"
            ' (write keywords = ["diffusion model", "title:judge*"])'
        ],
    ),
    # durations
    *[
        (
            f"every-{label}",
            SOURCE + f'every = "{every}"\n',
            [S + f"sources[0].every: {message}"],
        )
        for label, every, message in [
            (
                "unit",
                "1x",
                '"1x" is not a duration (write a whole number and a unit s, m, h or d,'
                ' e.g. "90s", "30m", "1h" or "2d")',
            ),
            (
                "fraction",
                "1.5h",
                '"1.5h" is not a duration (write a whole number and a unit s, m, h or d,'
                ' e.g. "90s", "30m", "1h" or "2d")',
            ),
            ("zero", "0m", '"0m" is not a positive duration (use at least "1m")'),
            (
                "huge",
                "99999999999d",
                '"99999999999d" is too long a duration (use at most "365d")',
            ),
            ("past-a-year", "366d", '"366d" is too long a duration (use at most "365d")'),
            ("hours-past-a-year", "8761h", '"8761h" is too long a duration (use at most "365d")'),
        ]
    ],
    # enums
    (
        "type-alias",
        SOURCE.replace('"hf-daily"', '"rss"'),
        [
            S + 'sources[0].type: "rss" is not a known source type'
            ' (did you mean "feed"? use one of: "feed", "hf-daily", "page")'
        ],
    ),
    (
        "type-typo",
        SOURCE.replace('"hf-daily"', '"hf_daily"'),
        [
            S + 'sources[0].type: "hf_daily" is not a known source type'
            ' (did you mean "hf-daily"? use one of: "feed", "hf-daily", "page")'
        ],
    ),
    (
        "transport",
        mail('transport = "smpt"'),
        [
            S + 'mail.transport: "smpt" is not a known transport'
            ' (did you mean "smtp"? use one of: "maildir", "smtp")'
        ],
    ),
    (
        "security-no-match",
        mail('transport = "smtp"\nsecurity = "ssl3"'),
        [
            S + 'mail.security: "ssl3" is not a known security'
            ' (use one of: "none", "starttls", "tls")'
        ],
    ),
    (
        "cadence-case",
        subscriber('keywords = ["a"]\ncadence = "Weekly"'),
        [
            S + 'subscribers[0].cadence: "Weekly" is not a known cadence'
            ' (did you mean "weekly"? use one of: "instant", "daily", "weekly")'
        ],
    ),
    (
        "day-full-name",
        subscriber('keywords = ["a"]\ncadence = "weekly"\nday = "thursday"'),
        [
            S + 'subscribers[0].day: "thursday" is not a known day (did you mean "thu"?'
            ' use one of: "mon", "tue", "wed", "thu", "fri", "sat", "sun")'
        ],
    ),
    # send_at
    *[
        (
            f"send-at-{label}",
            subscriber(f'keywords = ["a"]\nsend_at = {value}'),
            [S + f"subscribers[0].send_at: {message}"],
        )
        for label, value, message in [
            (
                "hour",
                '"24:00"',
                '"24:00" is not a time of day (write "HH:MM" on the 24-hour clock,'
                ' e.g. "08:00" or "18:30")',
            ),
            (
                "ampm",
                '"8pm"',
                '"8pm" is not a time of day (write "HH:MM" on the 24-hour clock,'
                ' e.g. "08:00" or "18:30")',
            ),
            (
                "seconds",
                "08:00:30",
                '"08:00:30" is not a time of day (write "HH:MM" on the 24-hour clock,'
                ' e.g. "08:00" or "18:30")',
            ),
            ("integer", "8", 'expected a string, got the integer 8 (write send_at = "08:00")'),
        ]
    ],
    # time zones
    (
        "timezone-city",
        '[bot]\ntimezone = "Berlin"\n' + SOURCE,
        [S + 'bot.timezone: unknown time zone "Berlin" (did you mean "Europe/Berlin"?)'],
    ),
    (
        "timezone-case",
        subscriber('keywords = ["a"]\ntimezone = "america/new_york"'),
        [
            S + 'subscribers[0].timezone: unknown time zone "america/new_york"'
            ' (did you mean "America/New_York"?)'
        ],
    ),
    (
        "timezone-nothing-close",
        subscriber('keywords = ["a"]\ntimezone = "Mars/Olympus"'),
        [
            S + 'subscribers[0].timezone: unknown time zone "Mars/Olympus"'
            ' (use an IANA name such as "Europe/Berlin" or "UTC")'
        ],
    ),
    # queries, through the real bot.query.syntax.parse_query
    (
        "query-unclosed-group",
        subscriber("keywords = ['diffusion', 'title:(judge']"),
        [
            S + "subscribers[0].keywords[1]: bad query \"title:(judge\", column 13: expected ')'"
            " to close the '(' at column 7 (fix the query; bot explain QUERY shows how a query"
            " is read)"
        ],
    ),
    (
        "query-unknown-field",
        subscriber("keywords = ['foo:bar']"),
        [
            S + 'subscribers[0].keywords[0]: bad query "foo:bar", column 1: unknown field'
            " 'foo:'; expected one of title:, abstract:, author:, category:, source: or the"
            " text in quotes (fix the query; bot explain QUERY shows how a query is read)"
        ],
    ),
    # sources of a subscriber
    (
        "subscriber-source-unknown",
        subscriber('keywords = ["a"]\nsources = ["hf", "hff", "arxiv"]'),
        [
            S + 'subscribers[0].sources[1]: unknown source "hff"'
            ' (did you mean "hf"? the sources are: "hf")',
            S + 'subscribers[0].sources[2]: unknown source "arxiv" (the sources are: "hf")',
        ],
    ),
    (
        "subscriber-sources-empty",
        subscriber('keywords = ["a"]\nsources = []'),
        [
            S + "subscribers[0].sources: is empty, so this subscriber would never get an email"
            " (name at least one source, or remove sources to get every source)"
        ],
    ),
    # duplicates
    (
        "duplicate-source",
        SOURCE + SOURCE,
        [
            S + 'sources[1].name: duplicate source name "hf"'
            " (sources[0] has it too; give each source its own name)"
        ],
    ),
    (
        "duplicate-subscriber",
        subscriber('keywords = ["a"]')
        + '[[subscribers]]\nemail = "Alice@Example.ORG"\nkeywords = ["b"]\n',
        [
            S + 'subscribers[1].email: duplicate subscriber "Alice@Example.ORG" (subscribers[0]'
            " has the same address; merge the two into one [[subscribers]] table)"
        ],
    ),
    # names
    (
        "source-name-space",
        SOURCE.replace('name = "hf"', 'name = "hf daily"'),
        [
            S + 'sources[0].name: "hf daily" is not a valid source name (use letters, digits,'
            " '.', '_' and '-' only, e.g. name = \"arxiv-cs-cl\")"
        ],
    ),
    (
        "subscriber-name-newline",
        subscriber('keywords = ["a"]\nname = "Alice\\nBcc: eve@example.org"'),
        [
            S + "subscribers[0].name: contains a line break or a control character"
            " (write it on one line)"
        ],
    ),
    # source URLs
    (
        "url-no-scheme",
        SOURCE.replace("https://example.org/api", "example.org/api"),
        [
            S + 'sources[0].url: "example.org/api" is not a source URL:'
            " it is not an http://, https:// or file: URL"
        ],
    ),
    (
        "url-file-with-host",
        SOURCE.replace("https://example.org/api", "file://pages/list.txt"),
        [
            S + 'sources[0].url: "file://pages/list.txt" is not a source URL: "pages" would be'
            " read as a host name (write file:///srv/pages/list.txt for an absolute path,"
            " or file:pages/list.txt for a path relative to the settings file)"
        ],
    ),
    (
        "url-ftp",
        SOURCE.replace("https://example.org/api", "ftp://example.org/list.txt"),
        [
            S + 'sources[0].url: "ftp://example.org/list.txt" is not a source URL:'
            " it is not an http://, https:// or file: URL"
        ],
    ),
    (
        "url-bad-ipv6-host",
        SOURCE.replace("https://example.org/api", "http://[oops/x"),
        [
            S + 'sources[0].url: "http://[oops/x" is not a source URL:'
            " it is not a valid URL (Invalid IPv6 URL)"
        ],
    ),
    (
        "url-port-out-of-range",
        SOURCE.replace("https://example.org/api", "http://127.0.0.1:99999/"),
        [
            S + 'sources[0].url: "http://127.0.0.1:99999/" is not a source URL:'
            " it is not a valid URL (Port out of range 0-65535)"
        ],
    ),
    # [bot] values
    (
        "database-a-path",
        '[bot]\ndatabase = "bot.db"\n' + SOURCE,
        [
            S + 'bot.database: "bot.db" is not a database URL'
            ' (write database = "sqlite:///bot.db", or any SQLAlchemy URL)'
        ],
    ),
    (
        "max-items-zero",
        "[bot]\nmax_items = 0\n" + SOURCE,
        [
            S + "bot.max_items: 0 is less than 1 (write max_items = 50, or any number from 1 to"
            " 1000)"
        ],
    ),
    (
        "max-items-huge",
        "[bot]\nmax_items = 1001\n" + SOURCE,
        [
            S + "bot.max_items: 1001 is more than 1000 (write max_items = 50, or any number from"
            " 1 to 1000)"
        ],
    ),
    # [mail] values
    (
        "smtp-username-without-password-env",
        mail('transport = "smtp"\nusername = "digest"'),
        [
            S + "mail.password_env: missing (username is set, so the password must come from"
            ' an environment variable: add password_env = "BOT_SMTP_PASSWORD" and export'
            " BOT_SMTP_PASSWORD)"
        ],
    ),
    (
        "smtp-password-env-without-username",
        mail('transport = "smtp"\npassword_env = "PW"'),
        [
            S + "mail.username: missing (password_env is set, so the server needs a login name:"
            ' add username = "digest", or remove password_env)'
        ],
    ),
    (
        "smtp-credentials-in-clear",
        mail('transport = "smtp"\nsecurity = "none"\nusername = "digest"\npassword_env = "PW"'),
        [
            S + 'mail.security: "none" would send the username and password in clear text'
            ' (use security = "starttls" or "tls", or remove username and password_env)'
        ],
    ),
    (
        "password-env-holds-the-secret",
        mail('password_env = "s3cret pass"'),
        [
            S + 'mail.password_env: "s3cret pass" is not an environment variable name (it names'
            " the variable that holds the password, not the password: write password_env ="
            ' "BOT_SMTP_PASSWORD")'
        ],
    ),
    (
        "concurrency-zero",
        mail("concurrency = 0"),
        [
            S + "mail.concurrency: 0 is less than 1 (write concurrency = 4, or any number from 1"
            " to 100)"
        ],
    ),
    (
        "concurrency-huge",
        mail("concurrency = 101"),
        [
            S + "mail.concurrency: 101 is more than 100 (write concurrency = 4, or any number"
            " from 1 to 100)"
        ],
    ),
    (
        "timeout-zero",
        mail("timeout = 0"),
        [
            S + "mail.timeout: 0 is not more than 0 (write timeout = 30, or any number more than"
            " 0 and at most 3600)"
        ],
    ),
    (
        "timeout-huge",
        mail("timeout = 3600.5"),
        [
            S + "mail.timeout: 3600.5 is more than 3600 (write timeout = 30, or any number more"
            " than 0 and at most 3600)"
        ],
    ),
    (
        "port-range",
        mail("port = 0"),
        [S + "mail.port: 0 is not a TCP port (write port = 587, or 1 to 65535)"],
    ),
    (
        "from-invalid",
        mail('from = "Paper Digest <digest@localhost>"'),
        [
            S + 'mail.from: "Paper Digest <digest@localhost>" is not a valid sender address:'
            " the part after @ is not a domain such as example.org"
            ' (write from = "Paper Digest <digest@example.org>" or a bare address)'
        ],
    ),
    (
        "from-header-injection",
        mail('from = "digest@example.org\\r\\nBcc: eve@example.org"'),
        [
            S + 'mail.from: "digest@example.org\\r\\nBcc: eve@example.org" is not a valid sender'
            " address: it contains a line break or a control character"
            ' (write from = "Paper Digest <digest@example.org>" or a bare address)'
        ],
    ),
    (
        "unsubscribe-http",
        mail('unsubscribe = "http://example.org/u"'),
        [
            S + 'mail.unsubscribe: "http://example.org/u" is not usable: it is neither a mailto:'
            ' address nor an https: URL (write unsubscribe = "mailto:digest-admin@example.org'
            '?subject=unsubscribe", or an https:// URL)'
        ],
    ),
    (
        "unsubscribe-bad-mailto",
        mail('unsubscribe = "mailto:nobody"'),
        [
            S + 'mail.unsubscribe: "mailto:nobody" is not usable: its mailto: address is not'
            ' valid (write unsubscribe = "mailto:digest-admin@example.org?subject=unsubscribe",'
            " or an https:// URL)"
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem_is_one_line_naming_file_key_and_fix(text: str, expected: list[str]) -> None:
    assert problems_in(text) == expected


# --- source: names in queries (SPEC sections 2 and 5: never a silent non-match) ----------------

TWO_SOURCES = (
    '[[sources]]\nname = "hf-daily"\ntype = "hf-daily"\nurl = "https://example.org/api"\n'
    '[[sources]]\nname = "arxiv-cs-cl"\ntype = "feed"\nurl = "https://example.org/rss"\n'
)
KNOWN = 'the sources are: "arxiv-cs-cl", "hf-daily")'
K1 = S + "subscribers[0].keywords[1]: "


def keywords(*queries: str) -> str:
    """A file with two sources and one subscriber whose keywords are "diffusion" and `queries`."""
    listed = ", ".join(f"'{q}'" for q in ("diffusion", *queries))
    return TWO_SOURCES + f'[[subscribers]]\nemail = "alice@example.org"\nkeywords = [{listed}]\n'


SOURCE_QUERY_CASES = [
    (
        "underscore-for-hyphen",
        keywords("source:hf_daily"),
        [
            K1
            + 'unknown source "hf_daily" in query "source:hf_daily" (did you mean "hf-daily"? '
            + KNOWN
        ],
    ),
    (
        "shown-folded-as-the-matcher-reads-it",
        keywords("source:HF_Daily"),
        [
            K1
            + 'unknown source "hf_daily" in query "source:HF_Daily" (did you mean "hf-daily"? '
            + KNOWN
        ],
    ),
    (
        "nothing-close",
        keywords("source:pubmed"),
        [K1 + 'unknown source "pubmed" in query "source:pubmed" (' + KNOWN],
    ),
    (
        "group-one-valid-one-invalid",
        keywords("source:(hf-daily OR arxiv)"),
        [
            K1 + 'unknown source "arxiv" in query "source:(hf-daily OR arxiv)"'
            ' (did you mean "arxiv-cs-cl"? ' + KNOWN
        ],
    ),
    (
        "group-misspelled",
        keywords("source:(arxiv-cs-cl OR hf-dialy)"),
        [
            K1 + 'unknown source "hf-dialy" in query "source:(arxiv-cs-cl OR hf-dialy)"'
            ' (did you mean "hf-daily"? ' + KNOWN
        ],
    ),
    (
        "prefix-matching-nothing",
        keywords("source:arxiv_*"),
        [
            K1 + 'no source name starts with "arxiv_" in query "source:arxiv_*"'
            ' (did you mean "arxiv-*"? ' + KNOWN
        ],
    ),
    (
        "prefix-nothing-close",
        keywords("source:zz*"),
        [K1 + 'no source name starts with "zz" in query "source:zz*" (' + KNOWN],
    ),
    (
        "phrase-with-a-space",
        keywords('source:"hf daily"'),
        [
            K1 + 'unknown source "hf daily" in query \'source:"hf daily"\''
            ' (did you mean "hf-daily"? ' + KNOWN
        ],
    ),
    (
        "negated-still-a-mistake",
        keywords("diffusion -source:hf"),
        [K1 + 'unknown source "hf" in query "diffusion -source:hf" (' + KNOWN],
    ),
    (
        "each-unknown-name-once",
        keywords("source:a OR (title:x source:b) OR source:a"),
        [
            K1
            + 'unknown source "a" in query "source:a OR (title:x source:b) OR source:a" ('
            + KNOWN,
            K1
            + 'unknown source "b" in query "source:a OR (title:x source:b) OR source:a" ('
            + KNOWN,
        ],
    ),
    (
        "with-no-sources-table",
        '[[subscribers]]\nemail = "alice@example.org"\nkeywords = ["source:hf"]\n',
        [
            S + "sources: no [[sources]] table (add at least one: a [[sources]] line with name,"
            " type and url below it, as in settings.example.toml)",
            S + 'subscribers[0].keywords[0]: unknown source "hf" in query "source:hf"'
            " (the sources are: none)",
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [c[1:] for c in SOURCE_QUERY_CASES],
    ids=[c[0] for c in SOURCE_QUERY_CASES],
)
def test_a_source_name_in_a_query_must_name_a_source(text: str, expected: list[str]) -> None:
    assert problems_in(text) == expected


def test_a_source_name_outside_the_subscribers_own_sources_is_refused() -> None:
    text = keywords("source:arxiv-cs-cl", "source:hf*") + 'sources = ["hf-daily"]\n'
    assert problems_in(text) == [
        K1 + 'source "arxiv-cs-cl" in query "source:arxiv-cs-cl" is not among this subscriber\'s'
        ' sources ("hf-daily"), so it never matches (add it to sources, or drop it from the'
        " query)"
    ]


ACCEPTED_SOURCE_QUERIES = [
    "source:hf-daily",
    "source:HF-Daily",  # the matcher folds case
    'source:"hf-daily"',
    "source:hf*",
    "source:ARXIV*",
    "source:arxiv-cs-cl*",
    "source:(hf-daily OR arxiv-cs-cl)",
    "diffusion -source:arxiv-cs-cl",
    "category:zz",  # categories are open-ended: any category may appear
    "title:source",
    '"source hf_daily"',
]


@pytest.mark.parametrize("query", ACCEPTED_SOURCE_QUERIES)
def test_a_source_name_the_matcher_can_meet_is_accepted(query: str) -> None:
    settings = parse_settings(keywords(query).encode(), Path("settings.toml"))
    assert settings.subscribers[0].keywords == ("diffusion", query)


@pytest.mark.parametrize(
    "query",
    [
        *ACCEPTED_SOURCE_QUERIES[:6],
        "source:hf_daily",
        "source:HF_Daily",
        "source:hf-dialy",
        "source:arxiv",
        "source:arxiv_*",
        "source:hf-daily-x*",
        'source:"hf daily"',
    ],
)
def test_the_check_agrees_with_the_matcher(query: str) -> None:
    """A one-name query is refused exactly when no paper from a configured source matches it."""
    names = ("hf-daily", "arxiv-cs-cl")
    met = any(matches(query, Paper(title="t", sources=(name,))) for name in names)
    try:
        parse_settings(keywords(query).encode(), Path("settings.toml"))
    except ConfigError:
        assert not met
    else:
        assert met


# --- email addresses ---------------------------------------------------------------------------

BAD_EMAILS = [
    ("bob@example", "the part after @ is not a domain such as example.org"),
    ("bob.example.org", "it has no @"),
    ("bob@@example.org", "it has more than one @"),
    ("bob smith@example.org", "it contains a space or a line break"),
    ("bob@example.org\\r\\nBcc: eve@example.org", "it contains a space or a line break"),
    ("bob..smith@example.org", "the part before @ is not valid"),
    ("@example.org", "the part before @ is not valid"),
    ("bob@-example.org", "the part after @ is not a domain such as example.org"),
    ("jörg@example.org", "it contains non-ASCII characters, which many mail servers refuse"),
]


@pytest.mark.parametrize(("email", "reason"), BAD_EMAILS, ids=[e for e, _ in BAD_EMAILS])
def test_invalid_subscriber_addresses_are_refused(email: str, reason: str) -> None:
    assert problems_in(SOURCE + f'[[subscribers]]\nemail = "{email}"\nkeywords = ["a"]\n') == [
        f'{S}subscribers[0].email: "{email}" is not a valid email address: {reason}'
        ' (write it as name@domain.tld, e.g. "alice@example.org")'
    ]


def test_a_display_name_in_email_says_where_the_name_goes() -> None:
    text = SOURCE + '[[subscribers]]\nemail = "Alice <alice@example.org>"\nkeywords = ["a"]\n'
    assert problems_in(text) == [
        S + 'subscribers[0].email: "Alice <alice@example.org>" is not a bare email address'
        ' (write email = "alice@example.org" and name = "Alice")'
    ]


@pytest.mark.parametrize(
    "email", ["a@example.org", "first.last+tag@mail.example.co.uk", "x_y@xn--bcher-kva.example"]
)
def test_ordinary_addresses_are_accepted(email: str) -> None:
    text = SOURCE + f'[[subscribers]]\nemail = "{email}"\nkeywords = ["a"]\n'
    assert parse_settings(text.encode(), Path("s.toml")).subscribers[0].email == email


# --- many problems at once ---------------------------------------------------------------------


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    file = tmp_path / "settings.toml"
    file.write_text(
        """
[bot]
timezone = "Europe/Berln"
[mail]
transport = "smtp"
username = "digest"
[[sources]]
name = "arxiv"
type = "feed"
url = "https://rss.arxiv.org/rss/cs.CL"
every = "often"
[[subscribers]]
email = "alice@example"
keywords = ['"language model', 'judge*']
[[subscribers]]
email = "bob@example.org"
keywords = ["x"]
sources = ["arxive"]
cadence = "hourly"
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(file)
    f = f"{file}: "
    assert caught.value.problems == [
        f + 'bot.timezone: unknown time zone "Europe/Berln" (did you mean "Europe/Berlin"?)',
        f + "mail.password_env: missing (username is set, so the password must come from an"
        ' environment variable: add password_env = "BOT_SMTP_PASSWORD" and export'
        " BOT_SMTP_PASSWORD)",
        f + 'sources[0].every: "often" is not a duration (write a whole number and a unit s,'
        ' m, h or d, e.g. "90s", "30m", "1h" or "2d")',
        f + 'subscribers[0].email: "alice@example" is not a valid email address: the part'
        " after @ is not a domain such as example.org (write it as name@domain.tld,"
        ' e.g. "alice@example.org")',
        f + "subscribers[0].keywords[0]: bad query '\"language model', column 1: unclosed"
        " quote: expected a '\"' to end the phrase (fix the query; bot explain QUERY shows"
        " how a query is read)",
        f + 'subscribers[1].cadence: "hourly" is not a known cadence (use one of: "instant",'
        ' "daily", "weekly")',
        f + 'subscribers[1].sources[0]: unknown source "arxive" (did you mean "arxiv"?'
        ' the sources are: "arxiv")',
    ]


# --- config_path and parse_duration ------------------------------------------------------------


@pytest.mark.parametrize(
    ("cli", "environ", "expected"),
    [
        ("a.toml", {"BOT_CONFIG": "b.toml"}, Path("a.toml")),
        (None, {"BOT_CONFIG": "/etc/bot/b.toml"}, Path("/etc/bot/b.toml")),
        (None, {}, Path("settings.toml")),
        (None, {"BOT_CONFIG": ""}, Path("settings.toml")),
        (None, {"BOT_CONFIG": "~/bot.toml"}, Path("~/bot.toml").expanduser()),
    ],
    ids=["cli-wins", "environment", "default", "empty-environment", "home"],
)
def test_config_path_prefers_the_option_then_the_environment(
    cli: str | None, environ: dict[str, str], expected: Path
) -> None:
    assert config_path(cli, environ) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
        (" 5m ", timedelta(minutes=5)),
        ("365d", timedelta(days=365)),
        ("8760h", timedelta(days=365)),
    ],
)
def test_parse_duration_reads_each_unit(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", '"" is not a duration'),
        ("1", '"1" is not a duration'),
        ("h", '"h" is not a duration'),
        ("-1h", '"-1h" is not a duration'),
        ("1H", '"1H" is not a duration'),
        ("1h30m", '"1h30m" is not a duration'),
        ("0s", '"0s" is not a positive duration (use at least "1s")'),
    ],
)
def test_parse_duration_refuses_other_forms(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value).startswith(message)
