"""`bot subscribers …` edits the settings file in place: comments kept, invalid edits refused."""

from __future__ import annotations

import shutil
from pathlib import Path

from support import run_bot

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
    assert 'dan@example.org: weekly; title:judge*; "mixture of experts"' in listed.stdout
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
