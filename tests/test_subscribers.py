"""`bot subscribers …` edits the settings file in place: comments kept, invalid edits refused."""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
from pathlib import Path

from support import bot_command, run_bot

from bot.settings.edit import add_subscriber, remove_subscriber
from bot.settings.load import load_settings

EXAMPLE = Path(__file__).parent.parent / "settings.example.toml"


def _copy(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "settings.toml"
    shutil.copy(EXAMPLE, path)
    return path, path.read_text(encoding="utf-8")


def test_add_set_remove_round_trip_keeps_the_file_byte_for_byte(tmp_path: Path):
    path, before = _copy(tmp_path)
    added = run_bot(
        "subscribers",
        "add",
        "dan@example.org",
        "-k",
        "title:judge*",
        "-k",
        "sparse -medical",
        "--cadence",
        "weekly",
        "--day",
        "fri",
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    changed = run_bot(
        "subscribers",
        "set",
        "dan@example.org",
        "--add-keyword",
        '"mixture of experts"',
        "--remove-keyword",
        "sparse -medical",
        "--timezone",
        "Europe/Berlin",
        cwd=tmp_path,
    )
    assert changed.returncode == 0, changed.stderr
    text = path.read_text(encoding="utf-8")
    assert text.startswith(before)  # every comment and line before stays as it was
    assert text[len(before) :] == (
        '[[subscribers]]\nemail = "dan@example.org"\n'
        'keywords = ["title:judge*", "\\"mixture of experts\\""]\n'
        'cadence = "weekly"\nday = "fri"\ntimezone = "Europe/Berlin"\n'
    )
    listed = run_bot("subscribers", "list", cwd=tmp_path)
    assert (
        "dan@example.org: weekly on fri at 08:00 Europe/Berlin; every source\n"
        '    title:judge*\n    "mixture of experts"\n'
    ) in listed.stdout
    removed = run_bot("subscribers", "remove", "dan@example.org", cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert path.read_text(encoding="utf-8") == before


def test_an_invalid_edit_leaves_the_file_unchanged_and_exits_2(tmp_path: Path):
    path, before = _copy(tmp_path)
    result = run_bot("subscribers", "add", "eve@example.org", "-k", "x AND", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        'error: settings.toml: subscribers[2].keywords[0]: bad query "x AND", column 6: '
        "expected a word, a phrase or '(' after AND "
        "(fix the query; bot explain QUERY shows how a query is read)"
    ]
    assert path.read_text(encoding="utf-8") == before
    duplicate = run_bot("subscribers", "add", "ALICE@example.org", "-k", "x", cwd=tmp_path)
    assert duplicate.returncode == 2
    assert duplicate.stderr.splitlines() == [
        "error: settings.toml: subscriber ALICE@example.org exists already "
        "(use bot subscribers set)"
    ]
    missing = run_bot("subscribers", "remove", "nobody@example.org", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [
        "error: settings.toml: no subscriber nobody@example.org (bot subscribers list shows them)"
    ]
    assert path.read_text(encoding="utf-8") == before


SMALL = (
    '[[sources]]\nname = "a"\ntype = "page"\nurl = "https://example.org/p"\n'
    '[[subscribers]]\nemail = "a@example.org"\nkeywords = ["x"]\n'
)


def test_edits_at_the_same_moment_all_land(tmp_path: Path):
    (tmp_path / "settings.toml").write_text(SMALL, encoding="utf-8")
    people = [f"u{i}@example.org" for i in range(8)]
    runs = [
        subprocess.Popen(
            [*bot_command(), "subscribers", "add", email, "-k", "y"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for email in people
    ]
    assert all(run.wait(60) == 0 for run in runs), [run.stderr.read() for run in runs]
    settings = load_settings(tmp_path / "settings.toml")
    assert {s.email for s in settings.subscribers} == {"a@example.org", *people}


def test_an_edit_keeps_the_symlink_the_mode_and_the_owner(tmp_path: Path):
    real = tmp_path / "real.toml"
    real.write_text(SMALL, encoding="utf-8")
    real.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(real, 65534, 65534)  # the daemon's user, while root edits
    link = tmp_path / "settings.toml"
    link.symlink_to(real)
    before = real.stat()
    add_subscriber(link, "b@example.org", ["y"])
    assert link.is_symlink() and link.resolve() == real
    after = real.stat()
    assert (after.st_mode, after.st_uid, after.st_gid) == (
        before.st_mode,
        before.st_uid,
        before.st_gid,
    )
    assert "b@example.org" in real.read_text(encoding="utf-8")


def test_removing_the_last_subscriber_then_adding_one_works(tmp_path: Path):
    path = tmp_path / "settings.toml"
    path.write_text(SMALL, encoding="utf-8")
    remove_subscriber(path, "a@example.org")
    assert "subscribers" not in path.read_text(encoding="utf-8")
    add_subscriber(path, "b@example.org", ["y"])
    assert [s.email for s in load_settings(path).subscribers] == ["b@example.org"]


def test_an_inline_subscribers_array_is_edited_too(tmp_path: Path):
    path = tmp_path / "settings.toml"
    path.write_text(
        'subscribers = [{email = "a@example.org", keywords = ["x"]}]\n'
        '[[sources]]\nname = "a"\ntype = "page"\nurl = "https://example.org/p"\n',
        encoding="utf-8",
    )
    add_subscriber(path, "b@example.org", ["y"])
    emails = [s.email for s in load_settings(path).subscribers]
    assert emails == ["a@example.org", "b@example.org"]


def test_a_bom_and_crlf_line_ends_are_kept(tmp_path: Path):
    path = tmp_path / "settings.toml"
    path.write_bytes(codecs.BOM_UTF8 + SMALL.replace("\n", "\r\n").encode("utf-8"))
    add_subscriber(path, "b@example.org", ["y"])
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8 + b"[[sources]]\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert [s.email for s in load_settings(path).subscribers] == ["a@example.org", "b@example.org"]
