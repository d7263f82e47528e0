"""Progress on long interactive work (SPEC section 7, issue 13), with `rich`.

On a terminal (stderr is a tty): each source's line as soon as it finishes, with a spinner naming
those still being fetched, and a progress bar while emails go out. Anywhere else (cron, a log, a
pipe) nothing here prints: the command's plain lines come as before, line by line.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["interactive", "poll_progress", "send_progress", "Counted"]


def interactive() -> bool:
    """Whether progress is shown: stderr is a terminal (and not TERM=dumb)."""
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


@contextmanager
def poll_progress(names: list[str]) -> Iterator[Callable[[str, str], None]]:
    """A spinner over the sources still being fetched; yields `done(name, line)`, which prints
    the source's line above it at once."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False)
    waiting = list(names)
    started = time.monotonic()

    def label() -> str:
        shown = ", ".join(waiting[:3]) + (
            f" and {len(waiting) - 3} more" if len(waiting) > 3 else ""
        )
        return f"polling {shown}" if waiting else "recording"

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(label(), total=len(names))

        def done(name: str, line: str) -> None:
            if name in waiting:
                waiting.remove(name)
            seconds = time.monotonic() - started
            progress.console.print(f"{line}  [dim]({seconds:.1f} s)[/dim]", markup=True)
            progress.update(task, advance=1, description=label())

        yield done


@contextmanager
def send_progress(total: int) -> Iterator[Callable[[], None]]:
    """A progress bar over `total` emails; yields `advance()`, called per email accepted."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        # Emails are composed first (no email goes before): said, so the bar at 0 is not a hang.
        task = progress.add_task("composing", total=total or None)

        def advance() -> None:
            progress.update(task, advance=1, description="sending")

        yield advance


class Counted:
    """A transport that calls `advance()` after each email the server accepted (the bar's tick);
    everything else is the wrapped transport's."""

    def __init__(self, inner, advance: Callable[[], None]) -> None:
        self._inner, self._advance = inner, advance

    async def send(self, *args, **kwargs):
        result = await self._inner.send(*args, **kwargs)
        self._advance()
        return result

    def __getattr__(self, name: str):
        return getattr(self._inner, name)
