"""Waiting for something a test can observe, never for a time to pass."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Whether `predicate` came true within `timeout` seconds (looked at every 0.1 s)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


async def until(predicate: Callable[[], bool], timeout: float) -> bool:
    """`wait_until` inside an event loop: the loop keeps running meanwhile."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()
