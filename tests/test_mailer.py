"""bot.mail.transports against a real aiosmtpd server on loopback and a real Maildir folder."""

from __future__ import annotations

import asyncio
import mailbox
import shutil
import socket
import ssl
import subprocess
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from support import Fault, Inbox, Passwords, free_port, start_smtp

from bot.errors import ConfigError, PermanentSendError, TemporarySendError
from bot.mail.transports import MaildirTransport, SmtpTransport, make_transport, open_transports
from bot.models import MailSettings

SENDER = "digest@example.org"
RCPT = "alice@example.org"
MESSAGE = (
    b"From: Paper Digest <digest@example.org>\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: 1 new paper: judge*\r\n"
    b"Message-ID: <digest.1@example.org>\r\n"
    b"\r\n"
    b"Hello Alice\r\n"
)


@pytest.fixture
def server():
    handler = Inbox()
    controller = start_smtp(handler)
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def settings(port: int, **kw) -> MailSettings:
    base = {"transport": "smtp", "host": "127.0.0.1", "port": port, "security": "none"}
    return MailSettings(**{**base, "timeout": 5.0, **kw})


async def send_all(transport, *messages: bytes, recipient: str = RCPT) -> None:
    try:
        for data in messages:
            await transport.send(SENDER, recipient, data)
    finally:
        await transport.close()


def test_smtp_delivers_and_reuses_one_connection(server):
    handler, port = server
    transport = SmtpTransport(settings(port), None)
    asyncio.run(send_all(transport, MESSAGE, MESSAGE + b"again\r\n"))
    assert [(m[0], m[1]) for m in handler.envelopes] == [(SENDER, [RCPT])] * 2
    assert handler.envelopes[0][2] == MESSAGE
    assert handler.ehlos == 1


def test_open_transports_quits_every_worker_even_when_the_block_fails(server):
    handler, port = server

    async def scenario():
        async with open_transports(settings(port, concurrency=3), {}) as transports:
            for transport in transports:
                await transport.send(SENDER, RCPT, MESSAGE)
            raise RuntimeError("the sender failed half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        asyncio.run(scenario())
    assert len(handler.envelopes) == 3
    assert handler.quits == 3


def test_smtp_reconnects_after_the_server_hangs_up(server):
    handler, port = server
    handler.close_after = 0.05
    transport = SmtpTransport(settings(port), None)

    async def scenario():
        try:
            await transport.send(SENDER, RCPT, MESSAGE)
            await asyncio.sleep(0.3)
            await transport.send(SENDER, RCPT, MESSAGE)
        finally:
            await transport.close()

    asyncio.run(scenario())
    assert len(handler.envelopes) == 2
    assert handler.ehlos == 2


@pytest.mark.parametrize(
    ("command", "answer", "error", "text"),
    [
        ("RCPT", "451 4.3.0 try again later", TemporarySendError, "refused recipient {rcpt}: "),
        ("RCPT", "550 5.1.1 no such user", PermanentSendError, "refused recipient {rcpt}: "),
        ("DATA", "452 4.3.1 out of storage", TemporarySendError, "refused the message: "),
        ("DATA", "554 5.7.1 content rejected", PermanentSendError, "refused the message: "),
        ("MAIL", "552 5.3.4 message too big", PermanentSendError, "refused the message: "),
        ("MAIL", "553 5.7.1 not yours", TemporarySendError, "refused the sender {sender} ("),
    ],
    ids=["rcpt-451", "rcpt-550", "data-452", "data-554", "mail-552", "mail-553"],
)
def test_smtp_refusals_map_to_temporary_or_permanent(server, command, answer, error, text):
    handler, port = server
    handler.faults.append(Fault(command, answer, times=-1))
    transport = SmtpTransport(settings(port), None)
    with pytest.raises(error) as caught:
        asyncio.run(send_all(transport, MESSAGE))
    expected = f"mail server 127.0.0.1:{port} " + text.format(rcpt=RCPT, sender=SENDER) + answer
    if command == "MAIL" and error is TemporarySendError:
        expected += "); check mail.from"
    assert str(caught.value) == expected
    if error is PermanentSendError:
        assert caught.value.reply == answer
    assert handler.envelopes == []


def test_smtp_recovers_on_the_same_transport_after_a_refusal(server):
    handler, port = server
    transport = SmtpTransport(settings(port), None)

    async def scenario():
        try:
            handler.faults.append(Fault("RCPT", "550 5.1.1 no such user", times=-1))
            with pytest.raises(PermanentSendError):
                await transport.send(SENDER, "nobody@example.org", MESSAGE)
            handler.faults.clear()
            await transport.send(SENDER, RCPT, MESSAGE)
        finally:
            await transport.close()

    asyncio.run(scenario())
    assert [m[1] for m in handler.envelopes] == [[RCPT]]


def test_smtp_server_down_is_temporary():
    port = free_port()
    transport = SmtpTransport(settings(port), None)
    with pytest.raises(TemporarySendError) as caught:
        asyncio.run(send_all(transport, MESSAGE))
    assert str(caught.value).startswith(f"cannot connect to mail server 127.0.0.1:{port}: ")


def test_smtp_drop_before_final_reply_is_temporary(server):
    handler, port = server
    handler.faults.append(Fault("DATA", "drop", times=-1))
    transport = SmtpTransport(settings(port), None)
    with pytest.raises(TemporarySendError) as caught:
        asyncio.run(send_all(transport, MESSAGE))
    assert str(caught.value).startswith(f"mail server 127.0.0.1:{port} closed the connection")
    # The server did queue it: a retry will duplicate it, which SPEC section 4 accepts.
    assert len(handler.envelopes) == 1


def test_smtp_silent_server_times_out_as_temporary():
    # A listener that accepts but never greets (like plain SMTP against a port-465 TLS server).
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        transport = SmtpTransport(settings(port, timeout=0.5), None)
        with pytest.raises(TemporarySendError) as caught:
            asyncio.run(send_all(transport, MESSAGE))
    assert str(caught.value) == f"mail server 127.0.0.1:{port} did not answer within 0.5 s"


@pytest.fixture
def auth_server():
    handler, passwords = Inbox(), Passwords()
    # Loopback test relay without TLS; the transport itself allows cleartext only to loopback.
    controller = start_smtp(handler, authenticator=passwords, auth_require_tls=False)
    try:
        yield handler, passwords, controller.port
    finally:
        controller.stop()


def test_smtp_logs_in_with_the_password_from_the_environment(auth_server):
    handler, passwords, port = auth_server
    mail = settings(port, username="digest", password_env="BOT_SMTP_PASSWORD")
    transport = make_transport(mail, {"BOT_SMTP_PASSWORD": "hunter2"})
    assert "hunter2" not in repr(transport)
    asyncio.run(send_all(transport, MESSAGE))
    assert passwords.tried == ["digest"]
    assert len(handler.envelopes) == 1


def test_smtp_wrong_password_is_temporary_and_not_shown(auth_server):
    handler, passwords, port = auth_server
    mail = settings(port, username="digest", password_env="BOT_SMTP_PASSWORD")
    transport = make_transport(mail, {"BOT_SMTP_PASSWORD": "wrong-secret"})
    with pytest.raises(TemporarySendError) as caught:
        asyncio.run(send_all(transport, MESSAGE))
    text = str(caught.value)
    assert text.startswith(f"mail server 127.0.0.1:{port} refused the login as 'digest' (535")
    assert "wrong-secret" not in text
    assert handler.envelopes == []


def test_starttls_required_but_not_offered_refuses_to_log_in(auth_server):
    # RELIABILITY S10: aiosmtplib's default start_tls=None would go on in clear and send AUTH.
    handler, passwords, port = auth_server
    mail = settings(port, security="starttls", username="digest", password_env="PW")
    transport = make_transport(mail, {"PW": "hunter2"})
    with pytest.raises(TemporarySendError) as caught:
        asyncio.run(send_all(transport, MESSAGE))
    assert "STARTTLS" in str(caught.value)
    assert passwords.tried == []
    assert handler.envelopes == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:TRUE"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_untrusted_certificate_fails_closed(certificate, security):
    # RELIABILITY S11: nothing is sent to a server whose certificate we cannot verify.
    handler = Inbox()
    context = server_context(certificate)
    if security == "tls":
        controller = start_smtp(handler, ssl_context=context)
    else:
        controller = start_smtp(handler, tls_context=context, require_starttls=True)
    try:
        transport = SmtpTransport(settings(controller.port, security=security), None)
        with pytest.raises(TemporarySendError) as caught:
            asyncio.run(send_all(transport, MESSAGE))
    finally:
        controller.stop()
    assert str(caught.value) == (
        f"cannot verify the TLS certificate of mail server 127.0.0.1:{controller.port}: "
        "self-signed certificate; set mail.host to the name on the certificate or install its CA "
        "on this machine"
    )
    assert handler.envelopes == []


def test_starttls_with_a_trusted_certificate_delivers(certificate, monkeypatch):
    # OpenSSL reads SSL_CERT_FILE when aiosmtplib builds its default, verifying context.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    handler = Inbox()
    controller = start_smtp(handler, tls_context=server_context(certificate), require_starttls=True)
    try:
        transport = SmtpTransport(settings(controller.port, security="starttls"), None)
        asyncio.run(send_all(transport, MESSAGE))
    finally:
        controller.stop()
    assert [m[2] for m in handler.envelopes] == [MESSAGE]


def test_make_transport_names_a_missing_password_variable():
    mail = MailSettings(transport="smtp", username="digest", password_env="BOT_SMTP_PASSWORD")
    with pytest.raises(ConfigError) as caught:
        make_transport(mail, {})
    assert str(caught.value) == (
        "mail.password_env names the environment variable BOT_SMTP_PASSWORD, which is not set: "
        "export BOT_SMTP_PASSWORD=… before starting bot"
    )


def test_make_transport_refuses_a_cleartext_password_to_a_remote_host():
    mail = MailSettings(
        transport="smtp", host="smtp.example.org", security="none", username="digest"
    )
    with pytest.raises(ConfigError) as caught:
        make_transport(mail, {})
    assert str(caught.value) == (
        'mail.security = "none" would send the SMTP password in clear to smtp.example.org: '
        'use security = "starttls" or "tls"'
    )


@pytest.mark.parametrize(("security", "port"), [("none", 25), ("starttls", 587), ("tls", 465)])
def test_default_port_follows_security(security, port):
    transport = make_transport(MailSettings(transport="smtp", security=security), {})
    assert isinstance(transport, SmtpTransport)
    assert transport.port == port


def test_maildir_writes_one_file_in_new_that_parses_back(tmp_path: Path):
    folder = tmp_path / "outbox"
    transport = make_transport(MailSettings(transport="maildir", maildir=folder), {})
    assert isinstance(transport, MaildirTransport)
    asyncio.run(send_all(transport, MESSAGE))
    files = list((folder / "new").iterdir())
    assert len(files) == 1
    assert list((folder / "tmp").iterdir()) == []
    parsed = BytesParser(policy=policy.default).parsebytes(files[0].read_bytes())
    assert parsed["Subject"] == "1 new paper: judge*"
    assert parsed["Message-ID"] == "<digest.1@example.org>"
    assert parsed.get_content() == "Hello Alice\n"
    assert len(mailbox.Maildir(folder, create=False)) == 1


def test_maildir_unwritable_is_temporary(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    transport = MaildirTransport(blocker / "outbox")
    with pytest.raises(TemporarySendError) as caught:
        asyncio.run(send_all(transport, MESSAGE))
    assert str(caught.value).startswith(f"cannot write to the Maildir {blocker / 'outbox'}: ")
