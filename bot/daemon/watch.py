"""The settings file followed while `bot run` runs: reloaded when it changes, an invalid edit
reported once and ignored (the last good settings stay), and said when it is good again."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from bot.errors import ConfigError
from bot.models import Settings
from bot.settings.load import parse_settings, read_settings_file

__all__ = ["SettingsWatcher"]

log = logging.getLogger(__name__)


class SettingsWatcher:
    """Looks at one settings file; catches in-place writes and atomic renames alike (the inode
    changes on a rename).

    An empty or broken file keeps the last good settings: an editor truncating the file while
    saving must not unsubscribe everyone (RELIABILITY.md finding 10).
    """

    def __init__(self, path: Path):
        self.path = path
        self._seen = self._fingerprint()
        self._content: str | None = None  # digest of the content last read
        self._reported: str | None = None  # digest of the content reported invalid, if any

    def _fingerprint(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def changed(self, current: Settings) -> Settings | None:
        """The file's settings if the file changed to valid settings other than `current`."""
        seen = self._fingerprint()
        if seen is None or seen == self._seen:
            return None
        self._seen = seen
        try:
            data = read_settings_file(self.path)
        except ConfigError:
            return None  # mid-rename (the next look sees the new file), or not a file to read
        self._content = hashlib.sha256(data).hexdigest()
        try:
            settings = parse_settings(data, self.path)
        except ConfigError as exc:
            self.refuse(exc)
            return None
        if settings == current:
            self.accepted(settings)
            return None
        return settings

    def refuse(self, exc: ConfigError, *, look_again: bool = False) -> None:
        """Log why the file's settings are not used, once per file content; with `look_again`,
        read the same file again on the next look (a template it names may get fixed)."""
        if self._reported != self._content:
            self._reported = self._content
            for line in exc.problems:
                log.error("settings=invalid kept=last-good problem=%r", line)
        if look_again:
            self._seen = None

    def accepted(self, settings: Settings) -> None:
        """The file's settings are in use: after an invalid edit, say once that it is fixed."""
        if self._reported is not None:
            self._reported = None
            log.info(
                "settings=ok-again sources=%d subscribers=%d",
                len(settings.sources),
                len(settings.subscribers),
            )
