"""Shared fixtures: `database_url` runs a test on a fresh SQLite file and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.schemas import fresh_schema

PG_ENV = "BOT_TEST_DATABASE_URL"
PG_SKIP = f"{PG_ENV} is not set; set it to a PostgreSQL URL to run the store tests there"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty ledger: a new SQLite file, or a fresh schema in $BOT_TEST_DATABASE_URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    yield from _pg_schema()


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """A fresh schema in $BOT_TEST_DATABASE_URL (the test is skipped when it is not set)."""
    yield from _pg_schema()


def _pg_schema() -> Iterator[str]:
    """Each test gets its own schema, dropped with everything in it afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP)
    with fresh_schema(base, "bot_test") as url:
        yield url
