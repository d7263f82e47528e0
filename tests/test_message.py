"""bot.mail.mime: the bytes parse back to the headers and parts we meant, whatever the text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.mail.mime import build_message, message_id, sender_domain
from bot.text import one_line

HEADERS = {
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
}
MID = "<digest.0123456789abcdef@example.org>"


def build(**overrides) -> bytes:
    args = {
        "from_addr": "Paper Digest <digest@example.org>",
        "to_addr": "alice@example.org",
        "to_name": "Alice",
        "subject": "2 new papers: judge*",
        "text": "Hello Alice,\n\n1. A paper\n",
        "html": "<p>Hello Alice,</p>",
        "message_id": MID,
        "date": datetime(2024, 5, 2, 8, 0, tzinfo=UTC),
        "list_id": "Paper Digest <digest.example.org>",
        "unsubscribe": "https://digest.example.org/u/abc123",
    }
    return build_message(**{**args, **overrides})


def parse(data: bytes):
    return BytesParser(policy=policy.default).parsebytes(data)


def decoded(data: bytes, name: str) -> str:
    """A header as an RFC 2047 reader shows it (the stdlib's policy.default address parser adds a
    space between adjacent encoded-words in a display name, which RFC 2047 section 6.2 forbids)."""
    raw = BytesParser(policy=policy.compat32).parsebytes(data)[name]
    return str(make_header(decode_header(raw)))


def content(part) -> str:
    """A decoded body with the wire's CRLF line breaks as "\\n" again."""
    return part.get_content().replace("\r\n", "\n")


def test_message_parses_back_with_every_header_and_both_parts():
    msg = parse(build())
    assert set(msg.keys()) == HEADERS
    assert msg["From"] == "Paper Digest <digest@example.org>"
    assert msg["To"] == "Alice <alice@example.org>"
    assert msg["Subject"] == "2 new papers: judge*"
    assert msg["Date"] == "Thu, 02 May 2024 08:00:00 +0000"
    assert msg["Message-ID"] == MID
    assert msg["List-Id"] == "Paper Digest <digest.example.org>"
    assert msg["List-Unsubscribe"] == "<https://digest.example.org/u/abc123>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert text.get_content_charset() == "utf-8"
    assert content(text) == "Hello Alice,\n\n1. A paper\n"
    assert html.get_content_type() == "text/html"
    assert content(html) == "<p>Hello Alice,</p>\n"


def test_every_line_ends_with_crlf_and_the_message_is_7bit():
    data = build(text="Grüße\nan alle " + "ü" * 200 + "\n", html="<p>naïve</p>")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert data.isascii()
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    text, html = parse(data).iter_parts()
    assert content(text) == "Grüße\nan alle " + "ü" * 200 + "\n"
    assert content(html) == "<p>naïve</p>\n"


def test_non_ascii_subject_and_name_are_rfc2047_encoded():
    data = build(subject="1 new paper: Übersetzung, 语言模型", to_name="Zoë Ålund")
    assert b"=?utf-8?" in data
    msg = parse(data)
    assert msg["Subject"] == "1 new paper: Übersetzung, 语言模型"
    assert msg["To"] == "Zoë Ålund <alice@example.org>"


@pytest.mark.parametrize(
    "words",
    [
        "00¡¡¡¡¡¡¡¡𐀀𐀀𐀀𐀀𐀀𐀀 ¡ ¡",
        "aéé ééa中中中é中ü é中é中üü éa aé aa üüü é中中é 中中aéüé é ü éé é ü中",
        " ".join(["Übersetzung", "große", "Sprachmodelle", "语言 模型", "évaluation"] * 4),
    ],
)
def test_long_non_ascii_subject_and_name_keep_every_space(words):
    # CPython 3.11's own folding loses the space in the first two (found by hypothesis).
    data = build(subject=words, to_name=words)
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert parse(data)["Subject"] == one_line(words, 200)
    assert decoded(data, "To") == f"{one_line(words, 200)} <alice@example.org>"


def test_mailto_unsubscribe_has_no_one_click_post():
    msg = parse(build(unsubscribe="mailto:digest-admin@example.org?subject=unsubscribe"))
    assert msg["List-Unsubscribe"] == "<mailto:digest-admin@example.org?subject=unsubscribe>"
    assert "List-Unsubscribe-Post" not in msg


def test_no_unsubscribe_means_no_unsubscribe_headers():
    msg = parse(build(unsubscribe=None))
    assert set(msg.keys()) == HEADERS - {"List-Unsubscribe", "List-Unsubscribe-Post"}


def test_the_same_digest_gives_the_same_bytes():
    assert build() == build()


def test_naive_and_offset_dates_are_written_in_rfc5322_form():
    assert parse(build(date=datetime(2024, 5, 2, 8, 0)))["Date"] == (
        "Thu, 02 May 2024 08:00:00 +0000"
    )
    berlin = timezone(timedelta(hours=2))
    assert parse(build(date=datetime(2024, 5, 2, 10, 0, tzinfo=berlin)))["Date"] == (
        "Thu, 02 May 2024 10:00:00 +0200"
    )


def test_text_that_looks_encoded_stays_literal():
    data = build(subject="=?utf-8?b?QmNjOiB4?= =??B??=", to_name="=?utf-8?q?Eve?=")
    assert parse(data)["Subject"] == "=?utf-8?b?QmNjOiB4?= =??B??="
    assert decoded(data, "To") == "=?utf-8?q?Eve?= <alice@example.org>"


INJECTIONS = [
    "Title\r\nBcc: victim@example.com",
    "Title\rBcc: victim@example.com",
    "Title\nBcc: victim@example.com",
    "Title\u2028Bcc: victim@example.com",
    "Title\x85Bcc: victim@example.com",
    "Title\x00\r\n\r\nBcc: victim@example.com",
    "Title\r\n Bcc: victim@example.com",
]


@pytest.mark.parametrize(
    "hostile", INJECTIONS, ids=["crlf", "cr", "lf", "u2028", "nel", "nul", "fold"]
)
def test_cr_lf_in_text_cannot_create_a_header(hostile):
    data = build(subject=hostile, to_name=hostile, list_id=hostile + " <digest.example.org>")
    msg = parse(data)
    assert set(msg.keys()) == HEADERS
    assert "Bcc" not in msg
    assert msg["Subject"] == "Title Bcc: victim@example.com"
    assert msg["To"].addresses[0].addr_spec == "alice@example.org"
    assert not re.search(rb"^Bcc:", data, re.MULTILINE | re.IGNORECASE)


@settings(max_examples=300, deadline=None)
@given(title=st.text(), name=st.text(max_size=80))
def test_any_text_in_subject_or_name_never_breaks_the_message(title, name):
    data = build(subject=title, to_name=name)
    msg = parse(data)
    assert set(msg.keys()) == HEADERS
    assert msg["Subject"] == one_line(title, 200)
    assert msg["To"].addresses[0].addr_spec == "alice@example.org"
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    if not one_line(name).isascii() or "=?" in name:
        assert decoded(data, "To") == f"{one_line(name, 200)} <alice@example.org>"


def test_header_url_loses_whitespace_and_angle_brackets():
    msg = parse(build(unsubscribe="https://x.example.org/u/a b>\r\nBcc: v@example.com"))
    assert msg["List-Unsubscribe"] == "<https://x.example.org/u/a%20b%3E%20Bcc:%20v@example.com>"
    assert "Bcc" not in msg


def test_message_id_is_stable_per_recipient_and_paper_set():
    first = message_id("alice@example.org", ["arxiv:2401.00001", "doi:10.1/x"], "example.org")
    assert re.fullmatch(r"<digest\.[0-9a-f]{32}@example\.org>", first)
    assert first == message_id(
        "Alice@Example.org", ["doi:10.1/x", "arxiv:2401.00001"], "example.org"
    )
    assert first != message_id("bob@example.org", ["arxiv:2401.00001", "doi:10.1/x"], "example.org")
    assert first != message_id("alice@example.org", ["arxiv:2401.00001"], "example.org")


@pytest.mark.parametrize(
    ("from_addr", "domain"),
    [
        ("Paper Digest <digest@Example.ORG>", "example.org"),
        ("digest@lab.example.net", "lab.example.net"),
        ("no address here", "localhost"),
    ],
)
def test_sender_domain(from_addr, domain):
    assert sender_domain(from_addr) == domain


@pytest.mark.parametrize(
    ("text", "limit", "line"),
    [
        ("a\r\nb\tc\u2028d", None, "a b c d"),
        ("  x\x00y\u202ez  ", None, "xyz"),
        ("language model cascades, judge*", 20, "language model…"),
        ("short", 20, "short"),
        ("x" * 30, 10, "x" * 9 + "…"),
    ],
)
def test_one_line(text, limit, line):
    assert one_line(text, limit) == line
    assert limit is None or len(one_line(text, limit)) <= limit


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=400),
    html=st.text(st.characters(blacklist_categories=("Cs",)), max_size=400),
)
def test_any_body_survives_the_hand_written_quoted_printable(text, html):
    # The bytes are written by hand (not EmailMessage): the stdlib parser is the judge.
    data = build(text=text, html=html)
    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    plain, rich = parse(data).iter_parts()

    def expected(body: str) -> str:
        body = body.replace("\r\n", "\n").replace("\r", "\n")
        return body if body.endswith("\n") else body + "\n"

    assert content(plain) == expected(text)
    assert content(rich) == expected(html)


def test_a_20_kb_digest_is_built_in_about_a_millisecond():
    import time

    text = ("A line of an abstract about language models, = signs and ü. " * 3 + "\n") * 110
    html = "<p>" + text.replace("\n", "</p>\n<p>") + "</p>"
    assert len(text) + len(html) > 20_000
    build(text=text, html=html)
    runs = []
    for _ in range(30):
        start = time.perf_counter()
        build(text=text, html=html)
        runs.append(time.perf_counter() - start)
    # Target 1 ms (ISSUE 4); 3 ms here leaves room for a busy test machine.
    assert sorted(runs)[len(runs) // 2] < 0.003
