"""The one exception tree: callers catch by meaning; the CLI turns each into one line and an exit
code."""

__all__ = [
    "BotError",
    "ConfigError",
    "QueryError",
    "FetchError",
    "ParseError",
    "StoreError",
    "SendError",
    "TemporarySendError",
    "PermanentSendError",
    "MessageTooBigError",
    "RecipientRefusedError",
]


class BotError(Exception):
    """An expected failure: its message is one line naming what, where and how to fix."""

    exit_code = 1


class ConfigError(BotError):
    """The settings file or the command-line arguments are wrong; every problem is in `problems`."""

    exit_code = 2

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class QueryError(BotError):
    """A keyword query cannot be parsed; `column` is 1-based."""

    exit_code = 2

    def __init__(self, query: str, column: int, expected: str):
        self.query = query
        self.column = column
        self.expected = expected
        super().__init__(f"query {query!r}, column {column}: {expected}")


class FetchError(BotError):
    """A source could not be fetched (network, HTTP status, size or time limit)."""


class ParseError(BotError):
    """A fetched body is not a listing of the source's type."""


class StoreError(BotError):
    """The database cannot be opened or written."""


class SendError(BotError):
    """A message could not be handed to the mail server or written to the Maildir."""


class TemporarySendError(SendError):
    """Try again later: connection refused, timeout, 4xx, a drop before the final reply."""


class PermanentSendError(SendError):
    """The server refused for good (5xx); `reply` holds what it said."""

    def __init__(self, message: str, reply: str = ""):
        self.reply = reply or message
        super().__init__(message)


class MessageTooBigError(PermanentSendError):
    """Refused for its size (552, 5.3.4): not the papers' fault, a smaller email may pass."""


class RecipientRefusedError(PermanentSendError):
    """The server refused the recipient's address for good (5xx at RCPT): after a few emails in a
    row the address is suspended (bot.ledger.recipients)."""
