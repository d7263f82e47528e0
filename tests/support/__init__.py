"""The tests' one support module: real servers on loopback, the CLI in a subprocess, reading
received mail, and the oracles that say what to expect. Every server stops on exit."""

from pathlib import Path

from support.cli import BotRun, bot_command, page_settings, run_bot
from support.mailbox import html_text, maildir_messages, parse, titles_in
from support.oracle import SUBSCRIBERS, has_phrase, has_word, page_papers, words
from support.servers import Reply, Site, http_site, ok, raw_server, serving
from support.smtp import Fault, Inbox, Passwords, free_port, smtp_server, start_smtp
from support.waits import until, wait_until

FIXTURES = Path(__file__).parent.parent / "fixtures"

__all__ = [
    "FIXTURES",
    "SUBSCRIBERS",
    "BotRun",
    "Fault",
    "Inbox",
    "Passwords",
    "Reply",
    "Site",
    "bot_command",
    "free_port",
    "has_phrase",
    "has_word",
    "html_text",
    "http_site",
    "maildir_messages",
    "ok",
    "page_papers",
    "page_settings",
    "parse",
    "raw_server",
    "run_bot",
    "serving",
    "smtp_server",
    "start_smtp",
    "titles_in",
    "until",
    "wait_until",
    "words",
]
