"""Site messages served where a plain-text listing was expected: error, maintenance, sign-in and
robot-check pages.

Pure. Such a page has the listing's shape (a heading line, then a paragraph of prose), so shape
alone would record it as a paper. The real listing pages (../shared/fixtures/pages/) give each
paper only a title and an abstract, no link or id to require; what tells a site message apart is
its heading ("503 Service Unavailable", "Down for maintenance", "Just a moment...", "Sign in")
or a paragraph that instructs the visitor ("Please try again later.", "Enable JavaScript and
cookies to continue."). None of the 233 titles and abstracts of the real pages reads so.
"""

from __future__ import annotations

import http
import re

__all__ = ["is_error_heading", "is_site_message"]

# Every 4xx/5xx reason phrase ("Service Unavailable", "Too Many Requests"), plus the common
# variants servers print that http.HTTPStatus does not know.
_PHRASES = {status.phrase.casefold() for status in http.HTTPStatus if status.value >= 400} | {
    "service temporarily unavailable",
    "temporarily unavailable",
    "access denied",
    "access forbidden",
    "request blocked",
    "site unavailable",
    "site offline",
}
_SEGMENT = re.compile(r"\s+[|\u2013\u2014-]\s+|:\s")  # "Service Unavailable | Example Papers"
_STATUS_CODE = re.compile(r"^(?:(?:http|error|status)\s*[:#]?\s*)?[45]\d\d\b(?![.,]\d)")
_SERVICE = re.compile(
    r"^(?:(?:we are|we're|the site is|site is|currently)\s+)?"
    r"(?:down for|under|undergoing|in|scheduled)\s+maintenance\b"
    r"|^maintenance(?:\s+mode|\s+in progress)?$"
    r"|^(?:we(?:'ll| will)|we\u2019ll) be (?:right )?back\b|^be right back$"
    r"|^just a moment\b|^attention required\b|^one more step$|^security check$"
    r"|^checking (?:your|the|if the site)\b|^(?:please )?verify(?:ing)? (?:that )?you are\b"
    r"|^are you a (?:robot|human)\b|^please wait\b|^ddos protection\b|^captcha\b"
    r"|^rate limit(?:ed| exceeded)?$",
    re.IGNORECASE,
)
_SIGN_IN = re.compile(
    r"^(?:please\s+)?(?:sign|log)\s*(?:in|on)\b|^login(?: required)?$|^authentication required$"
    r"|^session expired$|^you are not (?:signed|logged) in\b|^members only$",
    re.IGNORECASE,
)
# What a site message tells the visitor to do; paper abstracts describe work, they do not
# ask the reader to retry or to switch on cookies.
_INSTRUCTION = re.compile(
    r"\b(?:try again (?:later|in a (?:few|moment))|check back (?:later|soon)"
    r"|(?:enable|turn on) (?:javascript|cookies)|unable to service your request"
    r"|(?:sign|log) in to (?:continue|view|see|read|access)"
    r"|you (?:must|need to) (?:be )?(?:signed|logged|sign|log) in"
    r"|you have been blocked|complete the security check|(?:create|need) an account to)\b",
    re.IGNORECASE,
)


def is_error_heading(text: str) -> bool:
    """Whether a heading line names an HTTP error, a maintenance break or a robot check."""
    line = text.strip().strip(".!:").strip()
    if _STATUS_CODE.match(line.casefold()):
        return True  # "503 Service Unavailable", "Error 429", "HTTP 502 Bad Gateway"
    head = _SEGMENT.split(line, maxsplit=1)[0].strip(" .!")
    return head.casefold() in _PHRASES or bool(_SERVICE.search(head))


# A site message says its piece in a few lines; a paper titled "Sign In with Passkeys" or "512
# Experts Are Better Than One" comes with a real abstract (the real pages: 60 words and more).
_MESSAGE_WORDS = 30


def is_site_message(title: str, abstract: str) -> bool:
    """Whether a would-be paper is a site message: its text instructs the visitor, or its heading
    names an error, maintenance, robot check or sign-in over a few lines of text.
    """
    if _INSTRUCTION.search(abstract):
        return True
    if len(abstract.split()) >= _MESSAGE_WORDS:
        return False
    head = _SEGMENT.split(title.strip(), maxsplit=1)[0].strip(" .!")
    return is_error_heading(title) or bool(_SIGN_IN.search(head))
