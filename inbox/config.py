"""Configuration: environment variables, also read from ``$INBOX_HOME/.env`` (the real environment wins)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from inbox.errors import InvalidInput
from inbox.schedules.zones import read_dotenv


@dataclass(frozen=True)
class Settings:
    home: Path
    env: Mapping[str, str]  # the process environment
    dotenv: Mapping[str, str] = field(default_factory=dict)  # $INBOX_HOME/.env

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self.env.get(key)
        if value is None or value == "":
            value = self.dotenv.get(key)
        return value if value not in (None, "") else default

    @property
    def database_url(self) -> str:
        url = self.get("INBOX_DATABASE_URL")
        if url:
            return normalize_url(url)
        return f"sqlite:///{self.home / 'inbox.db'}"

    def number(self, key: str, default: float) -> float:
        raw = self.get(key)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise InvalidInput(key, f"{raw!r} is not a number") from None
        if value <= 0:
            raise InvalidInput(key, f"{raw!r} must be greater than zero")
        return value


def normalize_url(url: str) -> str:
    """Plain ``postgresql://`` URLs use psycopg 3, the driver the project ships with."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    environ = dict(os.environ if env is None else env)
    home = Path(environ.get("INBOX_HOME") or Path.home() / ".inbox").expanduser()
    return Settings(home=home, env=environ, dotenv=read_dotenv(str(home / ".env")))
