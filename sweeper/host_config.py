"""The host's knobs, read once at start from the environment and ``$INBOX_HOME/.env`` (see docs/configuration.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from inbox.config import RUNTIMES, Settings
from inbox.defaults import BACKOFF, DEFAULT_LEASE

__all__ = ["RUNTIMES", "HostConfig"]


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
    log_format: str = "text"  # INBOX_LOG_FORMAT: text | json, the host's and its runners' alike

    @classmethod
    def from_settings(cls, settings: Settings) -> HostConfig:
        return cls(
            interval_s=settings.sweep_interval,
            grace=settings.misfire_grace,
            lease=settings.lease,
            backoff=settings.retry_backoff,
            runner_idle_s=settings.runner_idle,
            allow_unsandboxed=settings.allow_unsandboxed,
            runtime=settings.runtime,
            shutdown_grace_s=settings.shutdown_grace,
            log_format=settings.log_format,
        )
