"""Real servers on loopback for the end-to-end tests: an HTTP server and an SMTP server.

Both are context managers that always stop what they started.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller

FIXTURES = Path(__file__).parent / "fixtures"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Site:
    """What the HTTP server answers: path -> (status, content type, body); changeable."""

    pages: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    base: str = ""

    def put(
        self,
        path: str,
        body: bytes | str,
        content_type: str = "text/plain; charset=utf-8",
        status: int = 200,
    ) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.pages[path] = (status, content_type, data)
        return self.base + path


@contextmanager
def http_site() -> Iterator[Site]:
    """A real HTTP server on 127.0.0.1 serving `Site.pages`; unknown paths are 404."""
    site = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            site.requests.append(self.path)
            status, content_type, body = site.pages.get(
                self.path, (404, "text/html", b"<html><body>Not Found</body></html>")
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as base:
        site.base = base
        yield site


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 with `handler`; yields its base URL; stopped on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Inbox:
    """An aiosmtpd handler that records each accepted message with its envelope recipients."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        self.received.append(
            (list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        )
        return "250 OK queued"

    def messages(self) -> list[EmailMessage]:
        return [parse(raw) for _, raw in self.received]

    def clear(self) -> None:
        self.received.clear()


@contextmanager
def smtp_server(handler: Inbox | None = None) -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port; stopped on exit."""
    inbox = handler or Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def maildir_messages(folder: Path) -> list[EmailMessage]:
    """Every message in a Maildir's new/ folder, oldest first."""
    files = sorted((folder / "new").iterdir(), key=lambda p: p.stat().st_mtime_ns)
    return [parse(p.read_bytes()) for p in files]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(msg: EmailMessage) -> str:
    """The visible text of the HTML part, whitespace collapsed (tags such as <mark> removed)."""
    part = msg.get_body(preferencelist=("html",))
    parser = _Text()
    parser.feed(part.get_content())
    return " ".join(" ".join(parser.parts).split())


def titles_in(msg: EmailMessage, candidates: list[str]) -> set[str]:
    """Which of `candidates` appear (whitespace-normalized) in the email's HTML text."""
    text = html_text(msg)
    return {t for t in candidates if " ".join(t.split()) in text}


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


def page_papers(text: str) -> list[tuple[str, str]]:
    """(title, abstract) pairs of a fixture listing page, computed independently of the bot.

    These fixture pages (tests/fixtures/pages) have a five-line header, then alternating
    title and abstract blocks separated by blank lines.
    """
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    body = blocks[5:]
    return list(zip(body[0::2], body[1::2], strict=True))
