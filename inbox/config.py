"""Configuration: every variable the host and the CLI read, parsed once into one typed :class:`Settings`.

Values come from the environment, then from ``$INBOX_HOME/.env`` (the environment wins; an empty value counts as
unset). A value that cannot be used raises :class:`InvalidInput` naming the variable, so every command refuses to
start on it with one line. docs/configuration.md lists every variable, its default and its meaning.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field, PrivateAttr, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from inbox.defaults import BACKOFF, DEFAULT_LEASE, DEFAULT_MISFIRE_GRACE, DELIVERY_BACKOFF, DELIVERY_TIMEOUT_S
from inbox.errors import InvalidInput
from inbox.schedules.durations import parse_duration
from inbox.schedules.zones import resolve_zone
from inbox.store_location import inbox_home

RUNTIMES = ("docker", "process")
LOG_FORMATS = ("text", "json")
PROVIDERS = ("anthropic", "openai")
DEFAULT_RUNNER_IMAGE = "inbox-runner:latest"
DEFAULT_KEEP_RUNS_DAYS = 90
DEFAULT_KEEP_OUTBOX_DAYS = 30
DEFAULT_KEEP_AUDIT_DAYS = 365  # the audit trail: a year of who changed what (docs/audit.md)
# The zone variables in order of precedence (after --tz).
_ZONE_VARIABLES = ("INBOX_TZ", "TZ")


class _Refused(ValueError):
    """A value a validator cannot use; its text is the whole reason (no type name in front)."""


def _number(raw: object, unit: str, *, whole: bool = False) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise _Refused(f"must be {unit}, got {raw!r}") from None
    if whole and not value.is_integer():
        raise _Refused(f"must be {unit}, got {raw!r}")
    if not value > 0:  # also refuses NaN
        raise _Refused(f"must be greater than zero, got {raw!r}")
    if not math.isfinite(value):
        raise _Refused(f"must be {unit}, got {raw!r}")
    return value


def _seconds(raw: object) -> float:
    return _number(raw, "a number of seconds")


def _span(unit: str) -> Any:
    """A number of ``unit`` (``seconds`` or ``days``) as a timedelta."""

    def parse(raw: object) -> timedelta:
        if isinstance(raw, timedelta):
            return raw
        try:
            return timedelta(**{unit: _number(raw, f"a number of {unit}")})
        except OverflowError:
            raise _Refused(f"is too large, got {raw!r}") from None

    return BeforeValidator(parse)


def _duration(raw: object) -> timedelta:
    if isinstance(raw, timedelta):
        return raw
    try:
        return parse_duration(str(raw))
    except InvalidInput as refused:
        raise _Refused(refused.reason) from None


def _durations(raw: object) -> tuple[timedelta, ...]:
    if isinstance(raw, tuple):
        return raw
    return tuple(_duration(part) for part in str(raw).split(","))


def _names(raw: object) -> frozenset[str]:
    if isinstance(raw, frozenset):
        return raw
    return frozenset(name.strip() for name in str(raw).split(",") if name.strip())


def _choice(options: tuple[str, ...]) -> Any:
    def parse(raw: object) -> str | None:
        if raw is None:
            return None
        value = str(raw).strip().lower()
        if value not in options:
            raise _Refused(f"must be one of {', '.join(options)}, got {raw!r}")
        return value

    return BeforeValidator(parse)


Seconds = Annotated[float, BeforeValidator(_seconds)]
SecondsSpan = Annotated[timedelta, _span("seconds")]
DaysSpan = Annotated[timedelta, _span("days")]
Count = Annotated[int, BeforeValidator(lambda raw: int(_number(raw, "a whole number", whole=True)))]
Cpus = Annotated[float, BeforeValidator(lambda raw: _number(raw, "a number of CPUs"))]
Duration = Annotated[timedelta, BeforeValidator(_duration)]
Names = Annotated[frozenset[str], NoDecode, BeforeValidator(_names)]

# The mapping one load_settings call reads: sources are chosen in a classmethod, so it cannot be an argument.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("inbox_environ", default=None)


class _EnvironSource(EnvSettingsSource):
    """The environment source, reading a given mapping instead of ``os.environ`` (the library API takes one)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class Settings(BaseSettings):
    """Every configuration variable, typed; build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(case_sensitive=True, env_ignore_empty=True, extra="ignore", frozen=True)

    home: Path = Field(default_factory=lambda: Path.home() / ".inbox", validation_alias="INBOX_HOME")
    database_url_setting: str | None = Field(default=None, validation_alias="INBOX_DATABASE_URL")
    inbox_tz: str | None = Field(default=None, validation_alias="INBOX_TZ")
    tz: str | None = Field(default=None, validation_alias="TZ")
    api_token: str | None = Field(default=None, validation_alias="INBOX_API_TOKEN")
    web_session: Duration = Field(default=timedelta(days=7), validation_alias="INBOX_WEB_SESSION")
    # Host
    sweep_interval: Seconds = Field(default=60.0, validation_alias="INBOX_SWEEP_INTERVAL")
    misfire_grace: SecondsSpan = Field(default=DEFAULT_MISFIRE_GRACE, validation_alias="INBOX_MISFIRE_GRACE")
    lease: SecondsSpan = Field(default=DEFAULT_LEASE, validation_alias="INBOX_LEASE_SECONDS")
    retry_backoff: Annotated[tuple[timedelta, ...], NoDecode, BeforeValidator(_durations)] = Field(
        default=BACKOFF, validation_alias="INBOX_RETRY_BACKOFF"
    )
    runner_idle: Seconds = Field(default=600.0, validation_alias="INBOX_RUNNER_IDLE")
    shutdown_grace: Seconds = Field(default=30.0, validation_alias="INBOX_SHUTDOWN_GRACE")
    allow_unsandboxed: bool = Field(default=False, validation_alias="INBOX_ALLOW_UNSANDBOXED")
    runtime: Annotated[Literal["docker", "process"] | None, _choice(RUNTIMES)] = Field(
        default=None, validation_alias="INBOX_RUNTIME"
    )
    runner_image: str = Field(default=DEFAULT_RUNNER_IMAGE, validation_alias="INBOX_RUNNER_IMAGE")
    log_format: Annotated[Literal["text", "json"], _choice(LOG_FORMATS)] = Field(
        default="text", validation_alias="INBOX_LOG_FORMAT"
    )
    keep_runs: DaysSpan = Field(default=timedelta(days=DEFAULT_KEEP_RUNS_DAYS), validation_alias="INBOX_KEEP_RUNS_DAYS")
    delivery_timeout: Seconds = Field(default=DELIVERY_TIMEOUT_S, validation_alias="INBOX_DELIVERY_TIMEOUT")
    delivery_backoff: Annotated[tuple[timedelta, ...], NoDecode, BeforeValidator(_durations)] = Field(
        default=DELIVERY_BACKOFF, validation_alias="INBOX_DELIVERY_BACKOFF"
    )
    keep_outbox: DaysSpan = Field(
        default=timedelta(days=DEFAULT_KEEP_OUTBOX_DAYS), validation_alias="INBOX_KEEP_OUTBOX_DAYS"
    )
    keep_audit: DaysSpan = Field(
        default=timedelta(days=DEFAULT_KEEP_AUDIT_DAYS), validation_alias="INBOX_KEEP_AUDIT_DAYS"
    )
    # Containers
    container_memory: str = Field(default="512m", validation_alias="INBOX_CONTAINER_MEMORY")
    container_cpus: Cpus = Field(default=1.0, validation_alias="INBOX_CONTAINER_CPUS")
    container_pids: Count = Field(default=256, validation_alias="INBOX_CONTAINER_PIDS")
    container_pool: Count = Field(default=5, validation_alias="INBOX_CONTAINER_POOL")
    network_sessions: Names = Field(default=frozenset(), validation_alias="INBOX_NETWORK_SESSIONS")
    # Agents and models
    provider: Annotated[Literal["anthropic", "openai"] | None, _choice(PROVIDERS)] = Field(
        default=None, validation_alias="INBOX_PROVIDER"
    )
    model: str | None = Field(default=None, validation_alias="INBOX_MODEL")
    model_timeout: Seconds = Field(default=120.0, validation_alias="INBOX_MODEL_TIMEOUT")
    anthropic_api_key: str | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    openai_api_key: str | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    agent_max_tasks: Count = Field(default=50, validation_alias="INBOX_AGENT_MAX_TASKS")
    agent_min_interval: Duration = Field(default=timedelta(minutes=5), validation_alias="INBOX_AGENT_MIN_INTERVAL")
    agent_unattended_recurring: Names = Field(default=frozenset(), validation_alias="INBOX_AGENT_UNATTENDED_RECURRING")
    series_daily_tokens: Count = Field(default=200_000, validation_alias="INBOX_SERIES_DAILY_TOKENS")
    history_tokens: Count = Field(default=8000, validation_alias="INBOX_HISTORY_TOKENS")

    _environ: Mapping[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ = _ENVIRON.get()
        env = env_settings if environ is None else _EnvironSource(settings_cls, environ)
        return init_settings, env, dotenv_settings

    @property
    def env(self) -> Mapping[str, str]:
        """The environment these settings were read from (handed on to an :class:`Inbox` opened alike)."""
        return self._environ

    @property
    def database_url(self) -> str:
        if self.database_url_setting:
            return normalize_url(self.database_url_setting)
        return f"sqlite:///{self.home / 'inbox.db'}"

    def api_key(self, provider: str) -> str | None:
        return self.anthropic_api_key if provider == "anthropic" else self.openai_api_key

    def base_url(self, provider: str) -> str | None:
        return self.anthropic_base_url if provider == "anthropic" else self.openai_base_url

    def zone(self, explicit: str | None = None) -> ZoneInfo:
        """``--tz``, else ``INBOX_TZ``, else ``TZ``, else the system zone; a named zone that does not exist is
        refused naming where it came from (``TZ in .env`` when only the file set it)."""
        named = [(self._where(name), getattr(self, name.lower())) for name in _ZONE_VARIABLES]
        return resolve_zone(explicit, named)

    def _where(self, variable: str) -> str:
        return variable if self._environ.get(variable) else f"{variable} in .env"


def _reason(error: Any) -> str:
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, _Refused):
        return str(cause)
    if error["type"] == "bool_parsing":
        return f"must be one of 1/0, true/false, yes/no, on/off, got {error['input']!r}"
    return f"{error['msg']}, got {error['input']!r}"


def normalize_url(url: str) -> str:
    """Plain ``postgresql://`` URLs use psycopg 3, the driver the project ships with."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@contextmanager
def _reading(environ: Mapping[str, str]) -> Iterator[None]:
    token = _ENVIRON.set(environ)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings from ``env`` (default: the process environment) and ``$INBOX_HOME/.env``.

    ``INBOX_HOME`` itself comes from the environment only: it says where the file is.
    """
    environ = dict(os.environ if env is None else env)
    home = inbox_home(environ)
    try:
        with _reading(environ):
            settings = Settings(_env_file=home / ".env", INBOX_HOME=home)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        raise InvalidInput(str(first["loc"][0]), _reason(first)) from None
    settings._environ = environ
    return settings
