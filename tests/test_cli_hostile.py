"""Operator mistakes and damaged files through the real CLI: one line and an exit code, never a
traceback, never a password (issue 11: items 6, 9, 11, 12, 13)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support import FIXTURES, http_site, run_bot

SOURCE = '[[sources]]\nname = "a"\ntype = "page"\nurl = "https://example.org/p"\n'
PAGE = FIXTURES / "pages" / "000_14d685580f9831a7.txt"


def _write(folder: Path, text: str) -> Path:
    path = folder / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _one_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The only stderr line of a command that failed with exit `code`, and no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    return line


# --- item 6: values a scheduler or a clock cannot hold -----------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            SOURCE + 'every = "2920000d"\n',
            'sources[0].every: "2920000d" is too long a duration (use at most "365d")',
        ),
        (
            "[bot]\nmax_items = 9223372036854775807\n" + SOURCE,
            "bot.max_items: 9223372036854775807 is more than 1000"
            " (write max_items = 50, or any number from 1 to 1000)",
        ),
        (
            "[mail]\nconcurrency = 100000000\n" + SOURCE,
            "mail.concurrency: 100000000 is more than 100"
            " (write concurrency = 4, or any number from 1 to 100)",
        ),
        (
            "[mail]\ntimeout = 1e300\n" + SOURCE,
            "mail.timeout: 1e+300 is more than 3600"
            " (write timeout = 30, or any number more than 0 and at most 3600)",
        ),
    ],
    ids=["every", "max-items", "concurrency", "timeout"],
)
@pytest.mark.parametrize("command", ["check", "run"])
def test_numbers_no_scheduler_or_sender_can_hold_are_refused_at_load(
    tmp_path: Path, text: str, problem: str, command: str
):
    _write(tmp_path, text)
    result = run_bot(command, cwd=tmp_path, timeout=30)
    assert _one_line(result, 2) == f"error: settings.toml: {problem}"


# --- item 9: database passwords ------------------------------------------------------------------

SECRET = "S3cretDB"
URLS = [
    f"mysql+pymysql://dbuser:{SECRET}@127.0.0.1:1/db",  # driver not installed
    f"postgresql+psycopg2://dbuser:{SECRET}@127.0.0.1:1/db",  # driver not installed
    f"postgresql+psycopg3://dbuser:{SECRET}@127.0.0.1:1/db",  # no such SQLAlchemy driver
    f"postgresql+psycopg://dbuser:{SECRET}@127.0.0.1:99999x/db",  # a port no parser reads
    f"postgresql+psycopg://dbuser:{SECRET}@127.0.0.1:1/db",  # nothing listens there
    f"dbuser:{SECRET}@db.example.org/db",  # the scheme forgotten
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("command", ["check", "run", "status", "search"])
def test_a_database_password_is_never_printed(tmp_path: Path, url: str, command: str):
    _write(tmp_path, f'[bot]\ndatabase = "{url}"\n' + SOURCE)
    args = [command, "x"] if command == "search" else [command]
    result = run_bot(*args, cwd=tmp_path, timeout=60)
    assert SECRET not in result.stdout + result.stderr
    if result.returncode != 0 or command != "check":  # check connects to nothing: may be OK
        line = _one_line(result, 1 if ":1/db" in url and "+psycopg:" in url else 2)
        assert "dbuser:***@" in line


# --- item 11: a driver missing or unknown, a read-only folder -----------------------------------


@pytest.mark.parametrize(
    ("driver", "line"),
    [
        (
            "postgresql+psycopg2",
            "error: database postgresql+psycopg2://u@127.0.0.1/db needs the Python package"
            " psycopg2, which is not installed (for PostgreSQL: pip install '.[postgres]')",
        ),
        (
            "postgresql+psycopg3",
            "error: database postgresql+psycopg3://u@127.0.0.1/db: unknown database type or"
            " driver 'postgresql+psycopg3' (write sqlite:///bot.db, or"
            " postgresql+psycopg://user@host/dbname for PostgreSQL)",
        ),
    ],
)
def test_run_with_a_driver_missing_or_unknown_is_one_line(tmp_path: Path, driver: str, line: str):
    _write(tmp_path, f'[bot]\ndatabase = "{driver}://u@127.0.0.1/db"\n' + SOURCE)
    assert _one_line(run_bot("run", cwd=tmp_path, timeout=30), 2) == line


@contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """`folder` immutable (chattr +i): nothing can be created in it, even by root. Skips the
    test where the file system or the user cannot do that."""
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make a read-only folder here (chattr +i: {done.stderr.strip()})")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def _fetched(tmp_path: Path, database: str = "sqlite:///db/bot.db") -> None:
    """80 papers of a fixture page recorded in the database by the real `bot fetch`."""
    with http_site() as site:
        url = site.put("/p", PAGE.read_bytes())
        _write(
            tmp_path,
            f'[bot]\ndatabase = "{database}"\n'
            f'[[sources]]\nname = "hf"\ntype = "page"\nurl = "{url}"\n'
            '[[subscribers]]\nemail = "a@example.org"\nkeywords = ["model"]\n',
        )
        fetched = run_bot("fetch", "--mark-seen", cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr


def test_read_only_commands_work_on_a_database_in_a_read_only_folder(tmp_path: Path):
    _fetched(tmp_path)
    folder = tmp_path / "db"
    assert sorted(p.name for p in folder.iterdir()) == ["bot.db"]  # no -wal: a clean stop
    with _read_only(folder):
        status = run_bot("status", cwd=tmp_path)
        search = run_bot("search", 'title:"mixture of experts"', cwd=tmp_path)
        preview = run_bot("preview", "a@example.org", cwd=tmp_path)
        run = run_bot("run", cwd=tmp_path, timeout=30)
        check = run_bot("check", cwd=tmp_path)
        assert sorted(p.name for p in folder.iterdir()) == ["bot.db"]
    assert (status.returncode, status.stderr) == (0, "")
    assert "papers seen: 80" in status.stdout
    assert (search.returncode, search.stderr) == (0, "")
    assert "A Survey on Mixture of Experts" in search.stdout
    assert (preview.returncode, preview.stderr) == (0, "")
    # --mark-seen queued none: the preview is a sample of the recent matching papers.
    assert "\nSAMPLE: nothing is pending for a@example.org; " in preview.stdout
    assert _one_line(run, 1) == (
        f"error: cannot create the lock file {folder / 'bot.db.lock'}: Operation not permitted"
        " (bot run writes beside its database: make that folder writable)"
    )
    assert _one_line(check, 2) == (
        f"error: {tmp_path / 'settings.toml'}: database sqlite:///{folder / 'bot.db'}:"
        f" folder {folder} is not writable (SQLite writes its -wal and -shm files beside the"
        " database: make the folder writable)"
    )


# --- item 12: nesting, damaged database files --------------------------------------------------


@pytest.mark.parametrize("where", ["top", "value"])
def test_a_toml_array_nested_2000_deep_is_one_line(tmp_path: Path, where: str):
    deep = "[" * 2000 + "]" * 2000
    text = f"x = {deep}\n{SOURCE}" if where == "top" else f"{SOURCE}every = {deep}\n"
    _write(tmp_path, text)
    assert _one_line(run_bot("check", cwd=tmp_path), 2) == (
        "error: settings.toml: arrays or tables nested too deeply (no setting needs more than"
        " two levels; fix the file where brackets open inside brackets)"
    )


FIX = "restore it from a backup, or move it away and bot starts a new, empty ledger"


def test_check_refuses_a_database_file_of_random_bytes(tmp_path: Path):
    _write(tmp_path, SOURCE)
    database = tmp_path / "bot.db"
    database.write_bytes(os.urandom(64 * 1024))
    shown = f"sqlite:///{database}"
    assert _one_line(run_bot("check", cwd=tmp_path), 2) == (
        f"error: {tmp_path / 'settings.toml'}: database {shown}: {database} is not a SQLite"
        f" database ({FIX})"
    )
    assert _one_line(run_bot("status", cwd=tmp_path), 1) == (
        f"error: cannot open database {shown}: file is not a database"
        " (the file is damaged: restore it from a backup; bot check says more)"
    )


def test_a_database_with_a_damaged_page_is_one_line(tmp_path: Path):
    _fetched(tmp_path, "sqlite:///bot.db")
    database = tmp_path / "bot.db"
    data = bytearray(database.read_bytes())
    page = 4096
    assert len(data) >= 8 * page  # 80 papers fill many pages; page 1 (the schema) stays intact
    data[3 * page : len(data) - page] = os.urandom(len(data) - 4 * page)
    database.write_bytes(bytes(data))
    shown = f"sqlite:///{database}"
    check = _one_line(run_bot("check", cwd=tmp_path), 2)
    assert check.startswith(f"error: {tmp_path / 'settings.toml'}: database {shown}: {database}")
    assert check.endswith(f"({FIX})")
    search = _one_line(run_bot("search", "model", cwd=tmp_path), 1)
    # Opening reads the schema and runs the migrations' checks: the damage shows then or at the
    # first query, whichever reads a damaged page first.
    assert search.startswith(
        (f"error: cannot open database {shown}: ", f"error: database {shown} failed: ")
    )
    assert search.endswith(
        ": database disk image is malformed"
        " (the file is damaged: restore it from a backup; bot check says more)"
    )


# --- item 13: a FIFO as the settings file ------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "status", "subscribers list"])
def test_a_fifo_as_config_is_refused_not_waited_on(tmp_path: Path, command: str):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    result = run_bot("--config", str(fifo), *command.split(), cwd=tmp_path, timeout=20)
    assert _one_line(result, 2) == (
        f"error: {fifo}: is not a regular file (a pipe, socket or device cannot be read as"
        " settings; pass --config with the path of the .toml file)"
    )
