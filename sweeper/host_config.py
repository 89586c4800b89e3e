"""The host's knobs, read once at start from the environment and ``$INBOX_HOME/.env`` (see docs/configuration.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from inbox.config import Settings
from inbox.errors import InvalidInput
from inbox.schedules import parse_duration
from inbox.store.claims import BACKOFF, DEFAULT_LEASE

RUNTIMES = ("docker", "process")


@dataclass(frozen=True)
class HostConfig:
    interval_s: float = 60.0  # INBOX_SWEEP_INTERVAL: the safety-net pass
    grace: timedelta = timedelta(seconds=60)  # INBOX_MISFIRE_GRACE: how late a slot may start and still be on time
    lease: timedelta = DEFAULT_LEASE  # INBOX_LEASE_SECONDS: a runner silent this long is presumed dead
    backoff: tuple[timedelta, ...] = BACKOFF  # INBOX_RETRY_BACKOFF: waits before the 2nd, 3rd, 4th attempt
    runner_idle_s: float = 600.0  # INBOX_RUNNER_IDLE: a runner with no work this long stops
    allow_unsandboxed: bool = False  # INBOX_ALLOW_UNSANDBOXED=1: run agent-written scripts without a sandbox
    runtime: str | None = None  # INBOX_RUNTIME: docker | process; None = choose at start
    shutdown_grace_s: float = 30.0  # INBOX_SHUTDOWN_GRACE: how long running work may finish after SIGTERM
    runner_log_level: str = "INFO"  # WARNING in cron mode, whose output is mailed

    @classmethod
    def from_settings(cls, settings: Settings) -> HostConfig:
        runtime = settings.get("INBOX_RUNTIME")
        if runtime is not None and runtime not in RUNTIMES:
            raise InvalidInput("INBOX_RUNTIME", f"{runtime!r} is not one of: {', '.join(RUNTIMES)}")
        raw_backoff = settings.get("INBOX_RETRY_BACKOFF")
        backoff: tuple[timedelta, ...] = BACKOFF
        if raw_backoff:
            backoff = tuple(parse_duration(part, field="INBOX_RETRY_BACKOFF") for part in raw_backoff.split(","))
        return cls(
            interval_s=settings.number("INBOX_SWEEP_INTERVAL", 60.0),
            grace=timedelta(seconds=settings.number("INBOX_MISFIRE_GRACE", 60.0)),
            lease=timedelta(seconds=settings.number("INBOX_LEASE_SECONDS", DEFAULT_LEASE.total_seconds())),
            backoff=backoff,
            runner_idle_s=settings.number("INBOX_RUNNER_IDLE", 600.0),
            allow_unsandboxed=settings.get("INBOX_ALLOW_UNSANDBOXED", "0") in ("1", "true", "yes"),
            runtime=runtime,
            shutdown_grace_s=settings.number("INBOX_SHUTDOWN_GRACE", 30.0),
        )
