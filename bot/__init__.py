"""bot: the paper digest and alert daemon."""

__version__ = "0.1.0"
