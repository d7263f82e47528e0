"""The [web] signing secret, read from the environment variable `secret_env` names (never from
the settings file, never logged), for the commands that write or check links."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bot.errors import ConfigError
from bot.models import Settings

__all__ = ["with_secret", "secret_problem", "MIN_SECRET"]

MIN_SECRET = 32  # characters; `openssl rand -base64 32` gives 44
_MAKE = "e.g. the output of: openssl rand -base64 32"


def secret_problem(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """One line when [web] is set and its secret is missing or too short; else None."""
    web = settings.web
    if web is None:
        return None
    value = environ.get(web.secret_env)
    where = f"{settings.path}: web.secret_env"
    if not value:
        return (
            f"{where}: the environment variable {web.secret_env} is not set (export"
            f" {web.secret_env} with a random secret of at least {MIN_SECRET} characters, {_MAKE})"
        )
    if len(value) < MIN_SECRET:
        return (
            f"{where}: {web.secret_env} holds {len(value)} characters; the signing secret needs"
            f" at least {MIN_SECRET} (export a longer one, {_MAKE})"
        )
    return None


def with_secret(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """`settings` with the [web] secret read (unchanged without [web]); ConfigError (exit 2)
    when it is missing or too short."""
    if settings.web is None:
        return settings
    problem = secret_problem(settings, environ)
    if problem:
        raise ConfigError(problem)
    secret = environ[settings.web.secret_env].encode("utf-8")
    return replace(settings, web=replace(settings.web, secret=secret))
