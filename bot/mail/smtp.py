"""The SMTP relay transport: the only code that speaks SMTP (aiosmtplib), and how its failures
become TemporarySendError or PermanentSendError (SPEC section 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Awaitable
from typing import TypeVar

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings

from bot.errors import (
    ConfigError,
    MessageTooBigError,
    PermanentSendError,
    RecipientRefusedError,
    TemporarySendError,
)
from bot.models import MailSettings
from bot.text import one_line

__all__ = ["SmtpTransport", "default_port", "DATA_TIMEOUT"]

log = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseException)

_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
# Polite QUIT must not hold up shutdown.
_QUIT_TIMEOUT = 5.0
# RFC 5321 section 4.5.3.2.6: a client waits 10 minutes for the reply to the final dot, since the
# server may be queueing (or scanning) the message; giving up sooner makes duplicates.
DATA_TIMEOUT = 600.0
# RFC 3463 5.3.4 "message too big for system"; RFC 1870 / 5321: 552 "exceeded storage allocation".
_TOO_BIG_CODE = 552
_TOO_BIG_STATUS = "5.3.4"


def default_port(security: str) -> int:
    """The usual port for `security`: 25 for none, 587 for starttls, 465 for tls."""
    return _DEFAULT_PORTS[security]


class SmtpTransport:
    """One SMTP connection, opened on first use, reused across sends and reopened after an error.

    Sends are serialised on the connection; for parallel sending create one transport per worker.
    Security maps to aiosmtplib explicitly: "starttls" is start_tls=True (never the opportunistic
    None, which sent AUTH in clear when STARTTLS was not offered: RELIABILITY finding 7), "tls" is
    use_tls=True, "none" is plain. Certificates are always validated.
    """

    def __init__(self, mail: MailSettings, password: str | None):
        if mail.security not in _DEFAULT_PORTS:
            raise ConfigError(
                f'mail.security = "{mail.security}" is not one of "none", "starttls", "tls"'
            )
        self.host = mail.host
        self.port = mail.port or default_port(mail.security)
        self.security = mail.security
        self.username = mail.username
        self.timeout = mail.timeout
        self._password = password
        self._smtp: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:  # never show the password
        return f"SmtpTransport(host={self.host!r}, port={self.port}, security={self.security!r})"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    async def send(
        self, sender: str, recipient: str, data: bytes, ready: Awaitable[object] | None = None
    ) -> None:
        """Hand `data` to the server for `recipient`; raises Temporary/PermanentSendError.

        `ready` is awaited after RCPT, before DATA (see bot.mail.transports); what it raises is
        raised as it is, the connection dropped.
        """
        async with self._lock:
            try:
                smtp = await self._connection()
                await self._transfer(smtp, sender, recipient, data, ready)
            except BaseException as exc:
                # Whatever happened (even cancellation), the session state is unknown: start afresh.
                self._drop()
                error = self._translate(exc) if isinstance(exc, Exception) else None
                if error is None:
                    raise
                raise error from exc

    async def _transfer(
        self,
        smtp: aiosmtplib.SMTP,
        sender: str,
        recipient: str,
        data: bytes,
        ready: Awaitable[object] | None,
    ) -> None:
        """MAIL, RCPT, DATA: aiosmtplib's `sendmail`, except that the wait for the reply to DATA
        is DATA_TIMEOUT, not the command timeout (`sendmail` has one timeout for every command).

        A refused recipient raises (RELIABILITY finding 6: `sendmail` returned normally when only
        some recipients were refused; here there is one recipient and its refusal is an error).
        """
        if smtp.is_ehlo_or_helo_needed:
            await smtp.ehlo()
        options = []
        if smtp.supports_extension("size"):  # RFC 1870: a server refuses a too-big message early
            options.append(f"SIZE={_wire_size(data)}")
        try:
            await smtp.mail(sender, options=options)
            try:
                await smtp.rcpt(recipient)
            except aiosmtplib.SMTPRecipientRefused as exc:
                raise aiosmtplib.SMTPRecipientsRefused([exc]) from None
            if ready is not None:
                await ready
            await smtp.data(data, timeout=max(self.timeout, DATA_TIMEOUT))
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            # Reset the envelope so the connection can carry the next message (as sendmail does).
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await smtp.rset()
            raise

    async def probe(self) -> None:
        """Connect (with STARTTLS/TLS and login as configured); raise a SendError if that fails."""
        async with self._lock:
            try:
                await self._connection()
            except Exception as exc:
                self._drop()
                error = self._translate(exc)
                if error is None:
                    raise
                raise error from exc

    async def _connection(self) -> aiosmtplib.SMTP:
        # A server that closed an idle connection shows up as not connected: open a fresh one.
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        self._drop()
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self._password if self.username else None,
            timeout=self.timeout,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            validate_certs=True,
        )
        await smtp.connect()
        self._smtp = smtp
        log.debug("smtp connected host=%s port=%s security=%s", self.host, self.port, self.security)
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def _translate(self, exc: Exception) -> TemporarySendError | PermanentSendError | None:
        """The project's error for an aiosmtplib/OS failure, in one printable line: a server's
        text is untrusted (an escape sequence in a reply must not reach the operator's terminal).
        """
        error = self._explain(exc)
        if error is None:
            return None
        if isinstance(error, PermanentSendError):
            return type(error)(one_line(str(error)), one_line(error.reply))
        return TemporarySendError(one_line(str(error)))

    def _explain(self, exc: Exception) -> TemporarySendError | PermanentSendError | None:
        """The project's error for an aiosmtplib/OS failure (naming server and cause).

        Only refusals of this message or this recipient are permanent; a refused session, login
        or sender is the operator's to fix, so the deliveries stay pending (temporary).
        """
        where = self.where
        bad_cert = _find_cause(exc, ssl.SSLCertVerificationError)
        if bad_cert is not None:
            return TemporarySendError(
                f"cannot verify the TLS certificate of mail server {where}: "
                f"{bad_cert.verify_message or bad_cert}; "
                "set mail.host to the name on the certificate or install its CA on this machine"
            )
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            first = exc.recipients[0]
            what = f"mail server {where} refused recipient {first.recipient}"
            error = _by_code(first.code, what, _reply(first.code, first.message))
            if isinstance(error, PermanentSendError):  # the address itself: counts to suspend it
                return RecipientRefusedError(str(error), error.reply)
            return error
        if isinstance(exc, aiosmtplib.SMTPDataError):
            what = f"mail server {where} refused the message"
            if _too_big(exc.code, exc.message):
                reply = _reply(exc.code, exc.message)
                return MessageTooBigError(f"{what}: {reply}", reply)
            return _by_code(exc.code, what, _reply(exc.code, exc.message))
        if isinstance(exc, aiosmtplib.SMTPSenderRefused):
            reply = _reply(exc.code, exc.message)
            if _too_big(exc.code, exc.message):  # RFC 1870: beyond the server's size limit
                return MessageTooBigError(
                    f"mail server {where} refused the message: {reply}", reply
                )
            return TemporarySendError(
                f"mail server {where} refused the sender {exc.sender} ({reply}); check mail.from"
            )
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            return TemporarySendError(
                f"mail server {where} refused the login as {self.username!r} "
                f"({_reply(exc.code, exc.message)}); check mail.username and the password variable"
            )
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            # Greeting, EHLO, STARTTLS, RSET: says nothing about this message.
            return TemporarySendError(
                f"mail server {where} refused the session: {_reply(exc.code, exc.message)}"
            )
        if isinstance(exc, aiosmtplib.SMTPTimeoutError | asyncio.TimeoutError):
            hint = '; port 465 needs security = "tls"' if self._looks_like_tls_port() else ""
            return TemporarySendError(
                f"mail server {where} did not answer within {self.timeout:g} s{hint}"
            )
        if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
            return TemporarySendError(f"mail server {where} closed the connection: {exc.message}")
        if isinstance(exc, aiosmtplib.SMTPConnectError):
            # aiosmtplib's text repeats the host, the port and the OS error's own words ("Error
            # connecting to … [Errno 111] Connect call failed (…)"); the errno says it once.
            cause = exc.__cause__
            detail = (
                os.strerror(cause.errno)
                if isinstance(cause, OSError) and cause.errno
                else exc.message
            )
            return TemporarySendError(f"cannot connect to mail server {where}: {detail}")
        if isinstance(exc, aiosmtplib.SMTPException):
            # e.g. "starttls" set but the server offers no STARTTLS: refuse to go on in clear.
            return TemporarySendError(f"mail server {where}: {exc.message}")
        if isinstance(exc, OSError):
            detail = exc.strerror or str(exc) or exc.__class__.__name__
            return TemporarySendError(f"cannot talk to mail server {where}: {detail}")
        if isinstance(exc, ValueError):
            # aiosmtplib refuses an address it cannot send safely (e.g. non-ASCII without SMTPUTF8).
            return PermanentSendError(f"cannot send through {where}: {exc}", str(exc))
        return None

    def _looks_like_tls_port(self) -> bool:
        return self.port == 465 and self.security != "tls"

    async def close(self) -> None:
        """Say QUIT if connected, then drop the connection; never raises."""
        async with self._lock:
            smtp, self._smtp = self._smtp, None
            if smtp is None:
                return
            try:
                if smtp.is_connected:
                    await smtp.quit(timeout=min(self.timeout, _QUIT_TIMEOUT))
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                pass
            finally:
                smtp.close()


def _find_cause(exc: BaseException, kind: type[E]) -> E | None:
    """`exc` or the first exception in its cause/context chain that is a `kind`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _too_big(code: int, message: str) -> bool:
    """A refusal for size: 552, or the enhanced status 5.3.4 (RFC 3463) with another 5xx code."""
    return code == _TOO_BIG_CODE or (
        500 <= code < 600 and message.lstrip().startswith(_TOO_BIG_STATUS)
    )


def _wire_size(data: bytes) -> int:
    """The size of `data` with CRLF line endings, as aiosmtplib will send it (RFC 1870 SIZE).

    Our messages are built with CRLF already (bot.mail.mime): then it is their length, counted
    in C, not a regex pass over every line as normalizing a copy takes."""
    crlf = data.count(b"\r\n")
    if data.count(b"\n") == crlf == data.count(b"\r") and data.endswith(b"\r\n"):
        return len(data)
    return len(normalize_message_line_endings(data))


def _reply(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}".strip()


def _by_code(code: int, what: str, reply: str) -> TemporarySendError | PermanentSendError:
    """5xx is permanent, everything else (4xx, odd codes) temporary: SPEC section 4."""
    if 500 <= code < 600:
        return PermanentSendError(f"{what}: {reply}", reply)
    return TemporarySendError(f"{what}: {reply}")
