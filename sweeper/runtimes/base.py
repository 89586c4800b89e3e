"""The runtime interface: how the host gets a session's runner going.

A runtime owns the runners it started. ``wake`` is called by the sweeper for every session with due work: it
starts the session's runner if none is alive, and otherwise rings the session's doorbell so the warm runner's
waiting claim looks again at once. Runners stop by themselves when idle; ``shutdown`` stops the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sweeper.http.doorbells import Doorbells
from sweeper.http.runner_auth import RunnerTokens


@dataclass(frozen=True)
class RunnerContext:
    """What every runtime needs from the host to start a runner that can reach it."""

    host_id: str
    socket_path: Path  # the host's unix socket (mounted into containers)
    home: Path  # $INBOX_HOME: workspaces live under it
    tokens: RunnerTokens
    doorbells: Doorbells
    idle_s: float
    allow_unsandboxed: bool
    log_level: str  # what the runner writes to standard error: INFO, or WARNING for a quiet cron pass
    log_format: str  # text | json, as the host's own lines
    # Called when a runner ends: (session, lease owner, cause). ``cause`` is None for a clean exit, else what
    # killed it ("exited 137", "oom", "killed by SIGKILL"): the host hands its unfinished rows back at once.
    on_exit: Callable[[str, str, str | None], None]


class Runtime(Protocol):
    name: str
    sandboxed: bool

    def wake(self, session: str) -> None:
        """Make sure ``session`` has a runner looking for its due work now."""
        ...

    def active(self) -> list[str]:
        """Sessions whose runner is alive."""
        ...

    def discard(self, owner: str) -> None:
        """Stop the runner ``owner`` at once: its leases expired, so it is hung (or already gone)."""
        ...

    def shutdown(self, grace_s: float) -> None:
        """Stop every runner: ask, wait up to ``grace_s`` for held work to be reported, then kill."""
        ...


def workspace_dir(home: Path, session: str) -> Path:
    """A session's own folder; session names are limited to safe characters (inbox.validation)."""
    return home / "sessions" / session.replace(":", "_").replace("@", "_") / "workspace"
