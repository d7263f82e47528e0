"""The seams of ARCHITECTURE: pure stages load no I/O library (issue 12).

Each module is imported in a fresh interpreter, and the I/O libraries it pulled in are named:
a pure module that imports the ledger (SQLAlchemy), the fetcher (httpx), the SMTP code or the
scheduler carries those along into every test and every tool that uses it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

IO_LIBRARIES = ("sqlalchemy", "httpx", "aiosmtplib", "apscheduler")
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
    "bot.mail.periods",
    "bot.settings.load",
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
