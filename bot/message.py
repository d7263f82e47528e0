"""The digest email as bytes: one multipart/alternative UTF-8 message with CRLF line endings (pure).

Header safety (RELIABILITY section 3.3): every header value built from data passes `one_line` first,
so CR/LF, U+2028 and friends become a space *before* the stdlib sees them; a ValueError from
`email` can then only mean a bug here, never a hostile paper title.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import urlsplit

__all__ = ["one_line", "sender_domain", "message_id", "build_message"]

# C0/C1 controls that are not whitespace, DEL, lone surrogates (cannot be encoded as UTF-8) and the
# bidi overrides that can make a title read backwards (RELIABILITY 3.2, "Control characters").
_CONTROLS = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# `\s` on str covers \t \n \v \f \r, \x1c-\x1f, \x85, U+2028, U+2029 and the other Unicode spaces.
_SPACES = re.compile(r"\s+")

# Header values longer than this are cut: nobody reads them and folding stays cheap.
_MAX_HEADER = 200


def one_line(text: str, limit: int | None = None) -> str:
    """`text` as one safe line: controls dropped, each whitespace run (CR/LF too) one space.

    With `limit`, a longer result is cut at a word boundary and ends with "…" (<= `limit` chars).
    """
    line = _SPACES.sub(" ", _CONTROLS.sub("", text)).strip()
    if limit is not None and len(line) > limit:
        cut = line[: limit - 1]
        if " " in cut and line[limit - 1] != " ":
            cut = cut.rsplit(" ", 1)[0]
        line = cut.rstrip(" ,;:") + "…"
    return line


def sender_domain(from_addr: str) -> str:
    """The domain of a From value like `Digest <digest@example.org>`; "localhost" if none."""
    _, addr = parseaddr(one_line(from_addr))
    local, at, domain = addr.rpartition("@")
    domain = domain.strip().lower()
    return domain if at and re.fullmatch(r"[a-z0-9.\-]+", domain) else "localhost"


def message_id(email: str, paper_ids: Sequence[str], domain: str) -> str:
    """A Message-ID, the same for the same recipient and set of papers (in any order).

    SPEC section 4: a digest resent after a crash between the server's 250 and our commit keeps its
    Message-ID, so receivers can recognise the duplicate.
    """
    key = "\n".join([email.strip().lower(), *sorted(set(paper_ids))])
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"<digest.{digest}@{sender_domain('x@' + domain)}>"


def build_message(
    *,
    from_addr: str,
    to_addr: str,
    to_name: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: datetime,
    list_id: str,
    unsubscribe: str | None,
) -> bytes:
    """The whole message as bytes, ready for SMTP DATA or a Maildir file.

    Bodies are quoted-printable, so the message is 7-bit clean and needs no 8BITMIME from the relay.
    `unsubscribe` is a mailto: or https: URL; https adds RFC 8058 `List-Unsubscribe-Post`.
    Raises ValueError only for an unusable `from_addr`/`to_addr` (the settings loader checks those).
    """
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = one_line(from_addr)
    to = Address(display_name=one_line(to_name, _MAX_HEADER), addr_spec=one_line(to_addr))
    if _is_plain(to.display_name):
        msg["To"] = to
    else:
        words = _encoded_words(to.display_name, len("To: "))
        msg.set_raw("To", f"{words}\n <{to.addr_spec}>")
    title = one_line(subject, _MAX_HEADER)
    if _is_plain(title):
        msg["Subject"] = title
    else:
        msg.set_raw("Subject", _encoded_words(title, len("Subject: ")))
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = one_line(message_id)
    msg["List-Id"] = one_line(list_id, _MAX_HEADER)
    link = _header_url(unsubscribe)
    if link:
        msg["List-Unsubscribe"] = f"<{link}>"
        if urlsplit(link).scheme.lower() == "https":
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # RFC 3834: tells vacation responders not to answer a digest.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for part in msg.iter_parts():
        del part["MIME-Version"]  # the stdlib repeats it on sub-parts; it belongs on the top only
    # A boundary derived from the Message-ID keeps a resent digest byte-identical. "=_" cannot occur
    # in a quoted-printable body (it would be "=3D_"), so the boundary never collides with content.
    tag = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    msg.set_boundary(f"=_digest_{tag}")
    # policy.SMTP serialises with CRLF, as SMTP DATA requires.
    return msg.as_bytes(policy=policy.SMTP)


def _is_plain(text: str) -> bool:
    """True when `text` can go into a header as it is: ASCII, and nothing a reader would decode."""
    return text.isascii() and "=?" not in text


def _encoded_words(text: str, first: int) -> str:
    """`text` as RFC 2047 base64 encoded-words, one per line, each line within 78 columns.

    Why not let the stdlib fold: CPython's folder (3.11) drops the space between two non-ASCII
    words when it breaks the line there (measured: ~10% of random mixed subjects lost a space).
    Spaces stay inside our words, because decoders ignore the whitespace between encoded-words
    (RFC 2047 section 6.2). `first` is the width already taken on the first line ("Subject: ").
    """
    words: list[str] = []
    room = 78 - first - len("=?utf-8?b??=")
    chunk = b""
    for char in text:
        data = char.encode("utf-8")
        if chunk and 4 * -(-(len(chunk) + len(data)) // 3) > room:
            words.append(f"=?utf-8?b?{base64.b64encode(chunk).decode('ascii')}?=")
            chunk, room = b"", 78 - 1 - len("=?utf-8?b??=")
        chunk += data
    words.append(f"=?utf-8?b?{base64.b64encode(chunk).decode('ascii')}?=")
    # The policy writes these lines joined by CRLF; the leading space makes each a continuation.
    return "\n ".join(words)


def _header_url(url: str | None) -> str | None:
    """`url` fit for `<…>` in a header: no whitespace, controls or angle brackets; None if empty."""
    if not url:
        return None
    link = _CONTROLS.sub("", url).strip()
    link = _SPACES.sub("%20", link).replace("<", "%3C").replace(">", "%3E")
    return link or None
