"""The recipients' page over HTTP, served by `bot run` in its own event loop (aiohttp.web).

aiohttp.web because its AppRunner/TCPSite start a server inside the loop that is already running
and leave signals alone (handle_signals=False is the default): SIGTERM stays bot.shutdown's and
the daemon's. uvicorn's Server.serve() installs its own SIGINT/SIGTERM handlers unless subclassed
around, and Starlette alone serves nothing.

Routes: GET (and HEAD) /u/TOKEN shows the page and never changes anything (mail scanners fetch
every link); POST /u/TOKEN with `List-Unsubscribe=One-Click` (RFC 8058, what mail clients send)
or a button's `action` changes the recipient's state in the ledger. A token that is wrong,
forged, truncated or another secret's gets the very 404 of a path that does not exist. Bodies
are capped; the token never reaches a log (it is the recipient's key): no access log.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.errors import BotError, ConfigError
from bot.ledger import Recipients
from bot.models import Settings
from bot.text import one_line
from bot.web.page import Page, render_page, subject_of
from bot.web.tokens import MAX_TOKEN, address_of

__all__ = ["PageServer", "MAX_BODY"]

log = logging.getLogger(__name__)

MAX_BODY = 8 * 1024  # bytes of a POST: a one-click body is 26, a button's 20
_SHUTDOWN = 2.0  # seconds a request in flight gets at stop
_HEADERS = {
    # The page holds a personal address and a key in its URL: no caching, no referrer, no frames.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}
_ACTIONS = ("unsubscribe", "pause", "resume")
_EMAILS_SHOWN = 5


class PageServer:
    """The page's HTTP server; `start()` in the running loop, `stop()` at shutdown.

    `settings()` gives the daemon's current settings (reloaded ones included): the subscriber's
    queries and the secret are read per request.
    """

    def __init__(
        self,
        settings: Callable[[], Settings],
        recipients: Recipients,
        clock: Callable[[], datetime],
    ):
        self._settings = settings
        self._recipients = recipients
        self._now = clock
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[_headers])
        app.router.add_get("/u/{token}", self._show)
        app.router.add_post("/u/{token}", self._change)
        return app

    async def start(self, host: str, port: int, where: str = "web.listen") -> None:
        """Listen on host:port; ConfigError (one line, at `where`) when that address cannot be
        taken."""
        if not any(isinstance(f, _OneLine) for f in logging.getLogger("aiohttp.server").filters):
            logging.getLogger("aiohttp.server").addFilter(_OneLine())
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=_SHUTDOWN)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ConfigError(
                f"{where}: cannot listen on {shown}: {reason} (stop what"
                " listens there, or choose another listen address)"
            ) from None
        self._runner = runner
        log.info("web=listening address=%s:%d", host, port)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # handlers ------------------------------------------------------------------------------

    def _address(self, request: web.Request) -> tuple[str, Settings]:
        """The address the request's token names; else the router's very 404."""
        settings = self._settings()
        token = request.match_info.get("token", "")
        web_settings = settings.web
        if web_settings is None or not web_settings.secret or len(token) > MAX_TOKEN:
            raise web.HTTPNotFound()
        email = address_of(web_settings.secret, token)
        if email is None:
            raise web.HTTPNotFound()
        return email, settings

    async def _show(self, request: web.Request) -> web.Response:
        email, settings = self._address(request)
        return await self._page(email, settings)

    async def _change(self, request: web.Request) -> web.Response:
        email, settings = self._address(request)
        action, how = await _action(request)
        if action is None:
            return _plain(400, "400: Bad Request (send List-Unsubscribe=One-Click or an action)")
        now = self._now()
        if action == "unsubscribe":
            done = await _off_loop(self._recipients.unsubscribe, email, now, how)
        elif action == "pause":
            done = await _off_loop(self._recipients.pause, email, now, how)
        else:
            done = await _off_loop(self._recipients.resume_pause, email)
        if done:
            log.info("web=%s subscriber=%s how=%s", action, email, how)
        if how == "one-click":  # a mail client: it shows nothing of the answer
            return _plain(200, "unsubscribed\n")
        return await self._page(email, settings, done=action if done else None)

    async def _page(self, email: str, settings: Settings, done: str | None = None) -> web.Response:
        stop = await _off_loop(self._recipients.state, email)
        sent = await _off_loop(self._recipients.sent_emails, email, _EMAILS_SHOWN)
        subscriber = next((s for s in settings.subscribers if s.email.lower() == email), None)
        page = Page(
            email=email,
            subscriber=subscriber,
            stop=stop.state if stop else "",
            since=stop.since if stop else None,
            emails=tuple((e.sent_at, subject_of(e.head)) for e in sent),
            done=done,
        )
        return web.Response(text=render_page(page), content_type="text/html", charset="utf-8")


async def _action(request: web.Request) -> tuple[str | None, str]:
    """(action, how) of a POST: RFC 8058's one-click body (form-urlencoded or multipart, as
    section 3.1 allows), or a button's `action`; (None, "") for anything else."""
    fields: dict[str, Any] = {}
    content_type = request.content_type
    if content_type == "multipart/form-data":
        try:
            form = await request.post()
        except (ValueError, AssertionError, web.HTTPException):
            return None, ""
        fields = {k: [str(v)] for k, v in form.items() if isinstance(v, str)}
    else:  # urlencoded, or a client that names no type: the body is read as urlencoded
        body = await request.read()
        text = body.decode("utf-8", "replace")
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=10)
    if fields.get("List-Unsubscribe") == ["One-Click"]:
        return "unsubscribe", "one-click"
    action = (fields.get("action") or [""])[0]
    return (action, "page") if action in _ACTIONS else (None, "")


async def _off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """A ledger call on a worker thread: a slow commit stalls neither the page nor the sender."""
    return await asyncio.get_running_loop().run_in_executor(None, partial(fn, *args))


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain", charset="utf-8")


@web.middleware
async def _headers(request: web.Request, handler) -> web.StreamResponse:
    """Every answer gets _HEADERS; a ledger outage is a plain 503, never a traceback."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(_HEADERS)
        raise
    except ValueError:  # parse_qs over max_num_fields, a body that is not a form
        response = _plain(400, "400: Bad Request")
    except BotError as exc:
        log.error("web=failed error=%r", str(exc))
        response = _plain(503, "503: Service Unavailable (try again in a few minutes)")
    response.headers.update(_HEADERS)
    return response


class _OneLine(logging.Filter):
    """A request that is not HTTP (a TLS hello, a 70 KB request line) is the client's fault:
    aiohttp answers 400 and logs it with a traceback; here it becomes one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg, record.args = (
                "web=bad_request status=%s reason=%r",
                (
                    error.code,
                    one_line(str(error.message), 120),
                ),
            )
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
