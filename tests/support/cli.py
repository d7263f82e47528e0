"""The real CLI in a subprocess: one command run to its end, or `bot run` kept running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from support.oracle import SUBSCRIBERS


def bot_command() -> list[str]:
    """The installed `bot` console script beside this Python, else `python -m bot`."""
    script = Path(sys.executable).parent / "bot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


def run_bot(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess; stdout/stderr captured as text."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("BOT_CONFIG", None)
    return subprocess.run(
        [*bot_command(), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class BotRun:
    """`bot run` in a subprocess, its stderr (the log) kept in `folder`/daemon.log; always
    stopped (SIGKILL as a last resort) on exit."""

    def __init__(self, folder: Path, config: Path, *args: str):
        env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
        self.err = open(folder / "daemon.log", "w+", encoding="utf-8")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*bot_command(), "--config", str(config), *args, "run"],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.err,
            text=True,
        )

    def log(self) -> str:
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def __enter__(self) -> BotRun:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.err.close()


def page_settings(folder: Path, url: str, port: int, people: list[str], every: str = "1s") -> Path:
    """settings.toml in `folder` for `bot run`: one page source at `url` polled every `every`,
    mail to the SMTP server on `port`, and `people` (of SUBSCRIBERS) as instant subscribers."""
    lines = [
        '[bot]\ndatabase = "sqlite:///bot.db"\n',
        f'[mail]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n',
        f'[[sources]]\nname = "hf"\ntype = "page"\nurl = "{url}"\nevery = "{every}"\n',
    ]
    for email in people:
        query = SUBSCRIBERS[email][0]
        lines.append(
            f'[[subscribers]]\nemail = "{email}"\nkeywords = [{query!r}]\ncadence = "instant"\n'
        )
    path = folder / "settings.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
