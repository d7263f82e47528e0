"""The seams of ARCHITECTURE: pure stages load no I/O library (issue 12).

Each module is imported in a fresh interpreter, and the I/O libraries it pulled in are named:
a pure module that imports the ledger (SQLAlchemy), the fetcher (httpx), the SMTP code or the
scheduler carries those along into every test and every tool that uses it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

IO_LIBRARIES = ("sqlalchemy", "httpx", "aiosmtplib", "apscheduler", "aiohttp")
PURE = [
    "bot.models",
    "bot.text",
    "bot.identity",
    "bot.sources.health",
    "bot.sources",
    "bot.query.explain",
    "bot.query.matcher",
    "bot.mail.mime",
    "bot.mail.render",
    "bot.mail.pieces",
    "bot.mail.subject",
    "bot.mail.periods",
    "bot.settings.load",
    "bot.web.tokens",
    "bot.web.page",
    "bot.web.secret",
]


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_loads_no_io_library(module):
    probe = (
        f"import sys, {module}\nprint(' '.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == []


def test_every_package_folder_ships_in_the_wheel():
    """A package folder missing from pyproject's list installs without it: `pip install .` then
    `bot run` died with "No module named 'bot.daemon'" while the editable install worked."""
    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())
    listed = set(project["tool"]["setuptools"]["packages"])
    inits = (root / "bot").rglob("__init__.py")
    folders = {".".join(init.parent.relative_to(root).parts) for init in inits}
    assert folders - listed == set()
