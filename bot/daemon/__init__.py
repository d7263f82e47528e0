"""`bot run`, the daemon: what is due and when (run), APScheduler's wiring (jobs), the settings
file followed while running (watch)."""

from bot.daemon.jobs import STOP_GRACE
from bot.daemon.run import Daemon

__all__ = ["Daemon", "STOP_GRACE"]
