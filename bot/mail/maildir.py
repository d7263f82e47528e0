"""Writing finished messages into a Maildir folder (tmp/, then new/), fsynced (the only such code).

`send` answers None once the file is in new/ and fsynced, TemporarySendError when the folder
cannot be written (SPEC section 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import mailbox
import os
from collections.abc import Awaitable
from pathlib import Path

from bot.errors import TemporarySendError

__all__ = ["MaildirTransport"]


class MaildirTransport:
    """Writes each message as one file into a Maildir (tmp/, then new/), created if missing."""

    def __init__(self, path: Path):
        self.path = Path(path)

    async def send(
        self, sender: str, recipient: str, data: bytes, ready: Awaitable[object] | None = None
    ) -> None:
        """Deliver `data` to the Maildir; the envelope is not kept (the headers name both ends).
        `ready` is awaited first (see bot.mail.transports)."""
        if ready is not None:
            await ready
        await asyncio.to_thread(self._write, data)

    def _write(self, data: bytes) -> None:
        box = None
        try:
            box = _Maildir(self.path, create=True)
            # Maildir files use the local convention, LF; CRLF is only for the wire.
            key = box.add(data.replace(b"\r\n", b"\n"))
            # mailbox never fsyncs; the file must survive a power cut once we call it sent.
            _fsync_file(self.path / "new" / key)
            _fsync_file(self.path / "new")
        except OSError as exc:
            if box is not None:
                box.discard_partial()
            hint = (
                "free some space on that disk"
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
                else "check that the folder is writable"
            )
            raise TemporarySendError(
                f"cannot write to the Maildir {self.path}: {exc.strerror or exc}; {hint}"
            ) from None

    async def probe(self) -> None:
        """Raise TemporarySendError unless the Maildir exists (it is created) and is writable."""
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        try:
            mailbox.Maildir(self.path, create=True)
        except OSError as exc:
            raise TemporarySendError(
                f"cannot create the Maildir {self.path}: {exc.strerror or exc}"
            ) from None
        if not os.access(self.path / "tmp", os.W_OK) or not os.access(self.path / "new", os.W_OK):
            raise TemporarySendError(f"the Maildir {self.path} is not writable")

    async def close(self) -> None:
        """Nothing to release."""


class _Maildir(mailbox.Maildir):
    """mailbox.Maildir that can remove the file in tmp/ of an `add` that failed.

    CPython's Maildir.add removes its tmp/ file when writing fails, but not when the final flush
    fails (a full disk with the last bytes still buffered): that partial file stayed forever, and
    open (issue 11 item 13). `_create_tmp` is mailbox's own hook for the tmp/ file.
    """

    _partial = None  # the tmp/ file of the last `add`

    def _create_tmp(self):  # type: ignore[no-untyped-def]
        self._partial = super()._create_tmp()
        return self._partial

    def discard_partial(self) -> None:
        """Close and remove the tmp/ file of the last `add` if it is still there; never raises."""
        handle, self._partial = self._partial, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            handle.close()  # closes the file even when its buffered bytes cannot be written
        with contextlib.suppress(OSError):
            os.remove(handle.name)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
