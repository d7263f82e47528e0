"""The signed link to a recipient's page: `<base_url>/u/<TOKEN>` (pure: values in, values out).

TOKEN = base64url(address) "." base64url(HMAC-SHA256(secret, "bot-page-v1" NUL address)[:16]),
without padding. It names one subscriber by address (lower case), so it survives any edit of the
settings file that keeps the address. 128 bits of MAC: a forger must guess them (RFC 2104; NIST
SP 800-107 allows truncation to 128 bits for this). Checked with hmac.compare_digest (constant
time); anything else (wrong, truncated, not base64, not UTF-8) is simply no address.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from bot.models import WebSettings

__all__ = ["token_for", "address_of", "page_url", "mask", "MAX_TOKEN"]

_CONTEXT = b"bot-page-v1\x00"  # a new link format gets a new context: old links then stop working
_MAC_BYTES = 16
MAX_TOKEN = 700  # characters: an address is at most 320 (RFC 5321), base64 makes ~430 of it


def token_for(secret: bytes, email: str) -> str:
    """The token naming `email` (any case) signed with `secret`."""
    address = email.lower().encode("utf-8")
    return f"{_b64(address)}.{_b64(_mac(secret, address))}"


def address_of(secret: bytes, token: str) -> str | None:
    """The address `token` names when its signature is right; else None."""
    if len(token) > MAX_TOKEN or token.count(".") != 1:
        return None
    head, _, tail = token.partition(".")
    address, mac = _unb64(head), _unb64(tail)
    if address is None or mac is None or not address:
        return None
    if not hmac.compare_digest(mac, _mac(secret, address)):
        return None
    try:
        text = address.decode("utf-8")
    except UnicodeDecodeError:  # signed by us, so never; but a wrong secret must not crash
        return None
    return text if text == text.lower() else None


def page_url(web: WebSettings, email: str) -> str:
    """The recipient's page for `email`. Raises ValueError when the secret was not read (a
    command that sends must call bot.web.secret.with_secret first)."""
    if not web.secret:
        raise ValueError(f"the secret of [web] ({web.secret_env}) was not read")
    return f"{web.base_url}/u/{token_for(web.secret, email)}"


def mask(email: str) -> str:
    """`alice@example.org` -> `a•••e@example.org`: recognisable to its owner, not to a bystander
    reading over their shoulder or a page cached somewhere."""
    local, at, domain = email.rpartition("@")
    if not at:
        local, domain = email, ""
    shown = local[0] + "•••" + local[-1] if len(local) > 2 else local[:1] + "•••"
    return f"{shown}@{domain}" if at else shown


def _mac(secret: bytes, address: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT + address, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    """Strict base64url without padding; None for anything else."""
    if not text or not text.isascii() or len(text) % 4 == 1:
        return None
    if text.strip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return data if _b64(data) == text else None  # one spelling per token (no stray bits)
