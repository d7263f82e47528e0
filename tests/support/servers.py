"""Real servers on loopback: an HTTP server and a raw TCP one (SMTP: support.smtp).

Both are context managers that always stop what they started.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = tuple[int, dict[str, str], bytes]  # status, headers, body
Route = Reply | list[Reply] | Callable[[dict[str, str]], Reply]


@dataclass
class Site:
    """What the HTTP server answers, by path (with its query); changeable while it serves.

    A route is a reply (status, headers, body), a list of replies served in turn (the last one
    repeated), or a function of the request's headers (lower-case names) returning a reply.
    """

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)  # the paths asked, in order
    headers: list[dict[str, str]] = field(default_factory=list)  # each request's headers
    base: str = ""

    def put(
        self,
        path: str,
        body: bytes | str | Route,
        content_type: str = "text/plain; charset=utf-8",
        status: int = 200,
    ) -> str:
        """Serve `body` (bytes or text, as `content_type`) or a route at `path`; its URL."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if isinstance(body, bytes):
            body = (status, {"Content-Type": content_type}, body)
        self.routes[path] = body
        return self.base + path

    def reply(self, path: str, headers: dict[str, str]) -> Reply:
        route = self.routes.get(path, (404, {}, b"<html><body>Not Found</body></html>"))
        if callable(route):
            return route(headers)
        if isinstance(route, list):
            return route.pop(0) if len(route) > 1 else route[0]
        return route


def ok(body: bytes, content_type: str = "application/rss+xml", **headers: str) -> Reply:
    """A 200 reply with `body` as `content_type` and any extra headers."""
    return (200, {"Content-Type": content_type, **headers}, body)


@contextmanager
def http_site() -> Iterator[Site]:
    """A real HTTP server on 127.0.0.1 answering as its `Site` says; unknown paths are 404."""
    site = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            headers = {k.lower(): v for k, v in self.headers.items()}
            site.requests.append(self.path)
            site.headers.append(headers)
            status, extra, body = site.reply(self.path, headers)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
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


@contextmanager
def raw_server(reply: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A TCP server on loopback whose every connection is handled by `reply(conn, stop)`, for
    servers that misbehave below HTTP (hang, drip, cut); yields a URL ending in /feed."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                try:
                    reply(conn, stop)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/feed"
    finally:
        stop.set()
        thread.join(5)
        sock.close()
