"""Stopping on SIGTERM/SIGINT without cutting the message in flight (issue 11 item 2).

A message whose final dot is sent may already be queued by the server: cancelling the wait for
its reply leaves it pending, and it is sent again (a duplicate). So a signal only asks the work to
stop starting new messages; the one in flight gets up to STOP_SEND_GRACE to finish and be
recorded, well under the 90 s systemd gives a service by default. A second signal cuts at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["STOP_SEND_GRACE", "SIGNALS", "until_stopped"]

T = TypeVar("T")

STOP_SEND_GRACE = 60.0
SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def until_stopped(
    work: Callable[[asyncio.Event], Awaitable[T]], grace: float = STOP_SEND_GRACE
) -> tuple[T | None, bool]:
    """Run `work(stop)`; SIGTERM/SIGINT set `stop`, after which `work` has `grace` seconds to end.

    Returns (its result, whether a signal came), or (None, True) when it had to be cancelled.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    task = asyncio.ensure_future(work(stop))

    def on_signal() -> None:
        if stop.is_set():
            task.cancel()  # asked twice: stop now
        stop.set()

    for sig in SIGNALS:
        loop.add_signal_handler(sig, on_signal)
    try:
        waiter = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                await asyncio.wait({task}, timeout=grace)
        finally:
            waiter.cancel()
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if task.cancelled():
            return None, True
        return task.result(), stop.is_set()
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
