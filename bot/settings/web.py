"""The [web] table (SPEC section 2): where `bot run` serves the recipients' page, the public
address links in emails point to, and the variable holding the signing secret.

The secret itself is an environment variable's (bot.web.secret reads it when a command needs it).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from bot.models import WebSettings
from bot.settings.problems import Problems
from bot.settings.values import quote

__all__ = ["WEB_KEYS", "read_web", "LOOPBACK_NAMES"]

WEB_KEYS = ("listen", "base_url", "secret_env")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")  # http is accepted only for these
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LISTEN = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")
_LISTEN_EXAMPLE = '"127.0.0.1:8080"'
_URL_EXAMPLE = '"https://digest.example.org"'


def read_web(raw: dict[str, Any], problems: Problems) -> WebSettings | None:
    """The [web] table as WebSettings; None (with problems recorded) when it cannot be read."""
    problems.unknown_keys(raw, WEB_KEYS, "web", {})
    listen = problems.take(raw, "web", "listen", "string", _LISTEN_EXAMPLE, required=True)
    base_url = problems.take(raw, "web", "base_url", "string", _URL_EXAMPLE, required=True)
    env = problems.take(raw, "web", "secret_env", "string", '"BOT_WEB_SECRET"')
    address = _listen(listen, problems) if listen is not None else None
    url = _base_url(base_url, problems) if base_url is not None else None
    if env is not None and not _ENV_NAME.fullmatch(env):
        problems.add(
            "web.secret_env",
            f"{quote(env)} is not an environment variable name (it names the variable that holds"
            ' the secret, not the secret: write secret_env = "BOT_WEB_SECRET")',
        )
        env = None
    if address is None or url is None or ("secret_env" in raw and env is None):
        return None
    host, port = address
    return WebSettings(host=host, port=port, base_url=url, secret_env=env or "BOT_WEB_SECRET")


def _listen(text: str, problems: Problems) -> tuple[str, int] | None:
    """("127.0.0.1", 8080) of "127.0.0.1:8080" ("[::1]:8080" for IPv6)."""
    match = _LISTEN.fullmatch(text)
    if match is None:
        problems.add(
            "web.listen",
            f"{quote(text)} is not host:port (write listen = {_LISTEN_EXAMPLE}, the address your"
            " reverse proxy forwards to)",
        )
        return None
    host, port = match[1].strip("[]"), int(match[2])
    if not 1 <= port <= 65535:
        problems.add(
            "web.listen", f"port {port} is not a TCP port (write listen = {_LISTEN_EXAMPLE})"
        )
        return None
    return host, port


def _base_url(text: str, problems: Problems) -> str | None:
    """The public address without a trailing slash: https (http only on loopback, for trying it
    out), a host, no query or fragment."""
    parts = urlsplit(text.strip())
    fix = f"write base_url = {_URL_EXAMPLE}, the address your HTTPS reverse proxy answers on"
    try:
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        host = ""
    if parts.scheme.lower() not in ("https", "http") or not host:
        problems.add("web.base_url", f"{quote(text)} is not an https:// URL ({fix})")
        return None
    if parts.scheme.lower() == "http" and not _is_loopback(host):
        problems.add(
            "web.base_url",
            f"{quote(text)} is not https (mail clients unsubscribe in one click only over https;"
            f" {fix})",
        )
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        problems.add(
            "web.base_url",
            f"{quote(text)} has a query, fragment or login ({fix}, or one with a path prefix)",
        )
        return None
    return text.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
