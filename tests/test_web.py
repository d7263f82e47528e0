"""Issue 15 without the HTTP server: the signed links, the headers and footer of a real email, the
recipients' stops in the ledger (SQLite and PostgreSQL), the suspension after 3 refusals at RCPT,
and what `bot check`, `bot status`, `bot subscribers list/resume` say, word for word.

The CLI runs in-process with BOT_NOW as its clock (as tests/test_cli_ops.py does)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ledger_sql import _rows
from support import Fault, Inbox, maildir_messages, smtp_server
from support.sending import owe, run, settings_for, states

from bot.ledger import Ledger
from bot.mail.render import Renderer
from bot.web.tokens import address_of, mask, token_for
from tests.test_cli_ops import _feed, write_settings
from tests.test_cli_ops import run as run_cli

SECRET = "s3cret-for-tests-0123456789abcdef-xyz"
T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
ANN, BOB = "ann@example.org", "bob@example.org"
PEOPLE = (
    f'[[subscribers]]\nemail = "{ANN}"\nkeywords = ["sparse"]\ncadence = "instant"\n'
    f'[[subscribers]]\nemail = "{BOB}"\nkeywords = ["sparse"]\ncadence = "instant"\n'
)
WEB = '[web]\nlisten = "127.0.0.1:8080"\nbase_url = "https://digest.example.org/bot/"\n'


def _expected_token(secret: str, email: str) -> str:
    """The token as the module docstring of bot.web.tokens defines it, built here by hand."""
    address = email.lower().encode()
    mac = hmac.new(secret.encode(), b"bot-page-v1\x00" + address, hashlib.sha256).digest()[:16]

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(address)}.{b64(mac)}"


def _config(folder: Path, mail: str, extra: str = "", people: str = PEOPLE) -> Path:
    return write_settings(folder, f"{mail}\n{extra}", people)


_cli = run_cli


def _papers(folder: Path, *titles: str) -> None:
    (folder / "feed.xml").write_text(_feed(list(titles)), encoding="utf-8")


# --- the token ------------------------------------------------------------------------------


def test_a_token_names_one_address_in_any_case_and_is_the_documented_hmac():
    secret = SECRET.encode()
    assert token_for(secret, "Ann@Example.org") == _expected_token(SECRET, ANN)
    assert address_of(secret, token_for(secret, "Ann@Example.org")) == ANN
    assert address_of(secret, token_for(secret, BOB)) == BOB


def test_forged_truncated_and_foreign_tokens_name_nobody():
    secret = SECRET.encode()
    good = token_for(secret, ANN)
    head, tail = good.split(".")
    bob_head = token_for(secret, BOB).split(".")[0]
    forged = [
        f"{bob_head}.{tail}",  # Bob's address under Ann's signature
        token_for(b"another secret of the same length.....", ANN),
        good + "A",
        good.replace(".", ""),
        f"{head}.",
        f".{tail}",
        f"{head}.{tail}.{tail}",
        good.upper(),
    ]
    forged += [good[:cut] for cut in range(len(good))]  # every truncation
    assert [t for t in forged if address_of(secret, t) is not None] == []


@given(st.text(max_size=300))
def test_any_text_as_a_token_names_nobody_and_never_raises(text: str):
    assert address_of(SECRET.encode(), text) is None


def test_the_address_is_shown_partly_masked():
    assert mask("alice@example.org") == "a•••e@example.org"
    assert mask("al@example.org") == "a•••@example.org"
    assert mask("x@example.org") == "x•••@example.org"


# --- the email ------------------------------------------------------------------------------


def test_with_web_each_email_links_the_recipients_page_in_headers_and_footer(
    tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.setenv("BOT_WEB_SECRET", SECRET)
    config = _config(tmp_path, 'maildir = "outbox"', WEB)
    _papers(tmp_path, "Sparse attention")
    assert _cli(monkeypatch, capsys, config, T0, "once")[0] == 0
    mails = {m["To"]: m for m in maildir_messages(tmp_path / "outbox")}
    for email in (ANN, BOB):
        page = f"https://digest.example.org/bot/u/{_expected_token(SECRET, email)}"
        message = mails[email]
        assert message["List-Unsubscribe"] == f"<{page}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert f"Unsubscribe: {page}" in text
        assert f'<a href="{page}">' in html
    raw = next((tmp_path / "outbox" / "new").iterdir()).read_bytes()
    [line] = [x for x in raw.splitlines() if x.startswith(b"List-Unsubscribe:")]
    assert len(line) > 78  # one line: a folded URL would become unreadable encoded-words


def test_without_web_the_mailto_unsubscribe_stays(tmp_path: Path, monkeypatch, capsys):
    config = _config(tmp_path, 'maildir = "outbox"')
    _papers(tmp_path, "Sparse attention")
    assert _cli(monkeypatch, capsys, config, T0, "once")[0] == 0
    message = maildir_messages(tmp_path / "outbox")[0]
    assert message["List-Unsubscribe"] == "<mailto:digest@example.org?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] is None


# --- bot check --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("web", "env", "errors"),
    [
        (
            '[web]\nlisten = "8080"\nbase_url = "http://digest.example.org"\nsecret_env = "a b"\n',
            {},
            [
                'web.listen: "8080" is not host:port (write listen = "127.0.0.1:8080", the'
                " address your reverse proxy forwards to)",
                'web.base_url: "http://digest.example.org" is not https (mail clients'
                " unsubscribe in one click only over https; write base_url ="
                ' "https://digest.example.org", the address your HTTPS reverse proxy answers on)',
                'web.secret_env: "a b" is not an environment variable name (it names the'
                " variable that holds the secret, not the secret: write secret_env ="
                ' "BOT_WEB_SECRET")',
            ],
        ),
        (
            '[web]\nlisten = "127.0.0.1:99999"\n',
            {},
            [
                'web.base_url: missing required key (add base_url = "https://digest.example.org")',
                'web.listen: port 99999 is not a TCP port (write listen = "127.0.0.1:8080")',
            ],
        ),
        (
            '[web]\nlisten = "[::1]:8080"\nbase_url = "https://x.org/?a=1"\nport = 1\n',
            {},
            [
                "web.port: unknown key (remove it; the keys here are: listen, base_url,"
                " secret_env)",
                'web.base_url: "https://x.org/?a=1" has a query, fragment or login (write'
                ' base_url = "https://digest.example.org", the address your HTTPS reverse proxy'
                " answers on, or one with a path prefix)",
            ],
        ),
        (
            WEB,
            {},
            [
                "web.secret_env: the environment variable BOT_WEB_SECRET is not set (export"
                " BOT_WEB_SECRET with a random secret of at least 32 characters, e.g. the output"
                " of: openssl rand -base64 32)",
            ],
        ),
        (
            WEB,
            {"BOT_WEB_SECRET": "short"},
            [
                "web.secret_env: BOT_WEB_SECRET holds 5 characters; the signing secret needs at"
                " least 32 (export a longer one, e.g. the output of: openssl rand -base64 32)",
            ],
        ),
    ],
)
def test_bot_check_refuses_a_bad_web_section_in_one_line_per_problem(
    tmp_path: Path, monkeypatch, capsys, web: str, env: dict[str, str], errors: list[str]
):
    monkeypatch.delenv("BOT_WEB_SECRET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = _config(tmp_path, 'maildir = "outbox"', web)
    code, out, err = _cli(monkeypatch, capsys, config, T0, "check")
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: {config}: {line}" for line in errors]


def test_bot_check_says_where_the_page_is_served_and_linked(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("BOT_WEB_SECRET", SECRET)
    config = _config(tmp_path, 'maildir = "outbox"', WEB)
    code, out, err = _cli(monkeypatch, capsys, config, T0, "check")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{config}: OK: 1 source, 2 subscribers, 2 queries",
        "recipients' page: bot run serves it on 127.0.0.1:8080;"
        " emails link to https://digest.example.org/bot/u/…",
    ]


# --- stops in the ledger (SQLite and PostgreSQL) -----------------------------------------------


@pytest.fixture
def store(database_url: str):
    with Ledger.open(database_url) as opened:
        yield opened


def _outbox_states(store: Ledger, email: str) -> list[str]:
    sql = "SELECT state FROM outbox WHERE email = :email ORDER BY id"
    return [r[0] for r in _rows(store, sql, email=email)]


def test_an_opt_out_drops_what_waits_marks_it_and_deletes_nothing(store: Ledger):
    owe(store, [ANN, BOB], each=3)
    ids = [p for _, p in _rows(store, "SELECT email, paper_id FROM deliveries")]
    canon = dict(_rows(store, "SELECT id, canonical FROM papers"))
    ann = sorted(
        canon[i] for e, i in _rows(store, "SELECT email, paper_id FROM deliveries") if e == ANN
    )
    lease = timedelta(minutes=5)
    store.outbox.add_email(ANN, ann[:1], "<m1@example.org>", b"1", T0)
    [held] = store.outbox.claim_due("sender", T0, lease, 1)  # on the wire right now
    store.outbox.add_email(ANN, ann[1:2], "<m2@example.org>", b"2", T0)  # waiting
    assert store.recipients.unsubscribe(ANN.upper(), T0, "one-click") is True
    assert store.recipients.unsubscribe(ANN, T0, "page") is False  # once is enough
    assert _outbox_states(store, ANN) == ["sending", "dropped"]
    assert states(store)[ANN] == {"pending": 1, "dropped": 2}  # the one on the wire, the rest
    assert states(store)[BOB] == {"pending": 3}
    assert len(ids) == 6  # nothing deleted
    store.outbox.emails_sent([held.id], T0)  # what was on the wire finishes as it went
    assert states(store)[ANN] == {"sent": 1, "dropped": 2}
    stop = store.recipients.state(ANN)
    assert (stop.state, stop.since, stop.how) == ("unsubscribed", T0, "one-click")


def test_an_email_made_after_the_stop_is_dropped_when_claimed_not_sent(store: Ledger):
    owe(store, [ANN, BOB], each=1)
    store.recipients.pause(ANN, T0, "page")
    rows = _rows(
        store, "SELECT d.email, p.canonical FROM deliveries d JOIN papers p ON p.id = d.paper_id"
    )
    paper = {e: c for e, c in rows}
    # A sender that composed before it saw the stop: its email reaches the outbox anyway.
    _rows_write(store, "UPDATE deliveries SET state = 'pending' WHERE email = :e", e=ANN)
    store.outbox.add_email(ANN, [paper[ANN]], "<late@example.org>", b"late", T0)
    store.outbox.add_email(BOB, [paper[BOB]], "<bob@example.org>", b"bob", T0)
    claimed = store.outbox.claim_due("sender", T0, timedelta(minutes=5), 8)
    assert [row.email for row in claimed] == [BOB]
    assert _outbox_states(store, ANN) == ["dropped"]
    assert states(store)[ANN] == {"dropped": 1}


def _rows_write(store: Ledger, sql: str, **params) -> None:
    from sqlalchemy import text

    with store.database.write() as conn:
        conn.execute(text(sql), params)


def test_pause_and_resume_by_the_recipient_and_the_operators_resume(store: Ledger):
    recipients = store.recipients
    assert recipients.resume_pause(ANN) is False  # not paused
    assert recipients.pause(ANN, T0, "page") is True
    assert recipients.pause(ANN, T0, "page") is False
    assert recipients.resume_pause(ANN) is True
    assert recipients.state(ANN) is None
    assert recipients.unsubscribe(ANN, T0, "page") is True
    assert recipients.pause(ANN, T0, "page") is False  # an unsubscribe is not made a pause
    assert recipients.resume_pause(ANN) is False  # nor undone by the recipient
    assert recipients.state(ANN).state == "unsubscribed"
    cleared = recipients.resume(ANN)
    assert (cleared.state, cleared.how) == ("unsubscribed", "page")
    assert recipients.state(ANN) is None and recipients.stopped() == {}
    assert recipients.resume(ANN) is None


def test_a_new_ledger_table_is_added_to_a_ledger_of_the_version_before(tmp_path: Path):
    from sqlalchemy import create_engine, inspect

    from bot.ledger.schema import metadata

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    tables = [t for name, t in metadata.tables.items() if name != "recipients"]
    metadata.create_all(old, tables=tables)  # the ledger as the version before wrote it
    assert "recipients" not in inspect(old).get_table_names()
    old.dispose()
    with Ledger.open(url) as ledger:
        assert ledger.recipients.pause(ANN, T0, "page") is True
        assert ledger.status().stopped[ANN].state == "paused"


# --- refusals at RCPT ----------------------------------------------------------------------


REPLY = "550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown"


def test_three_emails_in_a_row_refused_at_rcpt_suspend_the_address_and_bot_status_says_why(
    tmp_path: Path, monkeypatch, capsys
):
    inbox = Inbox([Fault("RCPT", REPLY, who=ANN, times=-1)])
    with smtp_server(inbox) as (_, port):
        smtp = f'transport = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"'
        config = _config(tmp_path, smtp)
        titles: list[str] = []
        for n in range(4):
            titles.append(f"Sparse paper {n}")
            _papers(tmp_path, *titles)
            code, out, err = _cli(monkeypatch, capsys, config, T0 + timedelta(minutes=n), "once")
            assert code == (1 if n < 3 else 0), (out, err)
        assert inbox.rcpts[ANN] == 3  # the fourth email was never tried
        assert inbox.counts()[BOB] == 4
        code, out, _ = _cli(monkeypatch, capsys, config, T0 + timedelta(minutes=5), "status")
    lines = out.splitlines()
    at = lines.index(f"subscriber {ANN}: 0 pending, 0 sent, 3 failed, 0 quarantined, 1 dropped")
    assert lines[at + 1] == (
        f"  suspended 2026-03-04 10:02 UTC: the mail server refused the address 3 times in a"
        f" row: {REPLY}: nothing is sent ('bot subscribers resume {ANN}')"
    )


def test_a_sent_email_between_refusals_starts_the_count_again(tmp_path: Path, renderer=None):
    inbox = Inbox([Fault("RCPT", REPLY, who=ANN, times=2)])
    renderer = Renderer()
    with smtp_server(inbox) as (_, port), Ledger.open(f"sqlite:///{tmp_path / 'b.db'}") as store:
        settings = settings_for(port, [ANN])
        for n in range(3):  # refused, refused, sent
            owe(store, [ANN], start=n)
            run(settings, store, renderer, T0 + timedelta(minutes=n))
        inbox.faults.append(Fault("RCPT", REPLY, who=ANN, times=2))
        for n in range(3, 5):  # refused, refused: two in a row, not three
            owe(store, [ANN], start=n)
            run(settings, store, renderer, T0 + timedelta(minutes=n))
        assert store.recipients.state(ANN) is None
        owe(store, [ANN], start=5)
        inbox.faults.append(Fault("RCPT", REPLY, who=ANN, times=1))
        run(settings, store, renderer, T0 + timedelta(minutes=5))  # the third in a row
        assert store.recipients.state(ANN).state == "suspended"
        assert inbox.rcpts[ANN] == 6


# --- bot status, bot subscribers list and resume ------------------------------------------------


def test_status_list_and_resume_show_and_end_an_opt_out_word_for_word(
    tmp_path: Path, monkeypatch, capsys
):
    config = _config(tmp_path, 'maildir = "outbox"')
    _papers(tmp_path, "Sparse one")
    assert _cli(monkeypatch, capsys, config, T0, "once")[0] == 0
    with Ledger.open(f"sqlite:///{tmp_path / 'bot.db'}") as ledger:
        ledger.recipients.unsubscribe(ANN, T0 + timedelta(minutes=1), "one-click")
    _papers(tmp_path, "Sparse one", "Sparse two")
    code, out, _ = _cli(monkeypatch, capsys, config, T0 + timedelta(minutes=2), "once")
    assert (code, out.splitlines()[-1]) == (0, "1 email sent with 1 paper")  # Bob's only

    code, out, _ = _cli(monkeypatch, capsys, config, T0 + timedelta(minutes=3), "status")
    lines = out.splitlines()
    at = lines.index(f"subscriber {ANN}: 0 pending, 1 sent, 0 failed, 0 quarantined, 1 dropped")
    assert lines[at + 1 : at + 2] == [
        "  unsubscribed by the recipient 2026-03-04 10:01 UTC (one-click): nothing is sent"
        f" ('bot subscribers resume {ANN}')"
    ]
    assert lines[at + 2] == f"subscriber {BOB}: 0 pending, 2 sent, 0 failed, 0 quarantined"
    page = tmp_path / "status.html"
    assert _cli(monkeypatch, capsys, config, T0, "status", "--html", str(page))[0] == 0
    assert (
        '<p class="failing-note stopped">unsubscribed by the recipient 2026-03-04 10:01 UTC'
        " (one-click): nothing is sent</p>"
    ) in page.read_text(encoding="utf-8")
    code, out, _ = _cli(monkeypatch, capsys, config, T0, "status", "--json")
    people = {p["email"]: p for p in json.loads(out)["subscribers"]}
    assert people[ANN]["stopped"] == {
        "state": "unsubscribed",
        "since": "2026-03-04T10:01:00+00:00",
        "how": "one-click",
    }
    assert people[ANN]["deliveries"]["dropped"] == 1 and people[BOB]["stopped"] is None

    code, out, _ = _cli(monkeypatch, capsys, config, T0, "subscribers", "list")
    assert out.splitlines() == [
        f"{ANN}: instant UTC; every source; unsubscribed by the recipient 2026-03-04 10:01 UTC"
        " (one-click)",
        "    sparse",
        f"{BOB}: instant UTC; every source",
        "    sparse",
        "2 subscribers",
    ]
    code, out, _ = _cli(monkeypatch, capsys, config, T0, "subscribers", "list", "--json")
    assert [p["stopped"] for p in json.loads(out)] == [
        {"state": "unsubscribed", "since": "2026-03-04T10:01:00+00:00", "how": "one-click"},
        None,
    ]

    code, out, err = _cli(monkeypatch, capsys, config, T0, "subscribers", "resume", ANN)
    assert (code, out, err) == (
        0,
        f"resumed {ANN}: cleared unsubscribed by the recipient 2026-03-04 10:01 UTC (one-click);"
        " what was dropped stays dropped, the next matching papers go out with the next email\n",
        "",
    )
    _papers(tmp_path, "Sparse one", "Sparse two", "Sparse three")
    code, out, _ = _cli(monkeypatch, capsys, config, T0 + timedelta(minutes=4), "once")
    assert out.splitlines()[-1] == "2 emails sent with 2 papers"
    last = [m for m in maildir_messages(tmp_path / "outbox") if m["To"] == ANN][-1]
    body = last.get_body(("plain",)).get_content()
    assert "three" in body and "two" not in body  # what was dropped stays dropped
    code, out, _ = _cli(monkeypatch, capsys, config, T0 + timedelta(minutes=5), "status")
    assert f"subscriber {ANN}: 0 pending, 2 sent, 0 failed, 0 quarantined, 1 dropped" in out
    assert "unsubscribed by" not in out
