"""The docker runtime: each active session's runner in a sandboxed container of its own.

Sandbox, by default: a non-root user (10001), a read-only root filesystem with a small tmpfs ``/tmp``, no network
(``--network none``; sessions listed in ``INBOX_NETWORK_SESSIONS`` get the default bridge), memory, CPU and pids
limits, every capability dropped, no-new-privileges, no host environment and no credentials. The host API is
reached only through the host's unix socket, bind-mounted read-only at ``/run/inbox``. Each session keeps a named
volume at ``/workspace`` that outlives its containers.

Who may use the socket: its owner (the host's user) and one group, mode 0660 (its folder 0710), nobody else.
The group is the containers' own (10001) when the host runs as root, else the host user's primary group, which
the containers then join (``group_add``): the runner keeps its uid 10001, so its workspace volume stays its own.

At most ``pool`` containers run at once, shared by all sessions. When the pool is full and another session is
waiting, the container that has run longest is asked to stop once it has reported what it holds, so a busy
session cannot starve the others. Every container carries labels naming its host, so a host removes the orphans
of a dead host (same machine) when it starts.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeper.http.runner_auth import RunnerIdentity
from sweeper.runtimes.base import RunnerContext

log = logging.getLogger("inbox.runtime")
LABEL = "org.inbox.runner"
SOCKET_DIR_IN_CONTAINER = "/run/inbox"
CONTAINER_ID = 10001  # the runner's uid and gid in its container (dockerfiles/runner.Dockerfile)
USER = f"{CONTAINER_ID}:{CONTAINER_ID}"


@dataclass(frozen=True)
class Limits:
    memory: str = "512m"  # INBOX_CONTAINER_MEMORY
    cpus: float = 1.0  # INBOX_CONTAINER_CPUS
    pids: int = 256  # INBOX_CONTAINER_PIDS
    tmp_size: str = "64m"
    pool: int = 5  # INBOX_CONTAINER_POOL: containers running at once, all sessions together
    network_sessions: frozenset[str] = field(default_factory=frozenset)  # INBOX_NETWORK_SESSIONS=a,b


@dataclass
class _Running:
    session: str
    owner: str
    container: Any
    started: float
    draining: bool = False


def _safe(session: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in session)[:40]
    return f"{cleaned}-{hashlib.sha256(session.encode()).hexdigest()[:8]}"


class DockerRuntime:
    name = "docker"
    sandboxed = True

    def __init__(self, context: RunnerContext, *, client: Any, image: str, limits: Limits) -> None:
        self.context = context
        self.client = client
        self.image = image
        self.limits = limits
        self._running: dict[str, _Running] = {}
        self._waiting: dict[str, None] = {}  # sessions waiting for a place in the pool, oldest first
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._install = hashlib.sha256(str(context.home.resolve()).encode()).hexdigest()[:10]
        self.socket_group = share_socket(context.socket_path)

    # -- orphans ----------------------------------------------------------------------------------------
    def remove_orphans(self) -> int:
        """Remove containers left by hosts of this machine that are no longer running."""
        removed = 0
        for container in self.client.containers.list(all=True, filters={"label": LABEL}):
            host = container.labels.get("org.inbox.host", "")
            machine, _, pid = host.rpartition("-")
            if machine == socket.gethostname()[:40] and pid.isdigit() and not _alive(int(pid)):
                container.remove(force=True)
                removed += 1
        if removed:
            log.info("removed %d runner containers left by hosts that are gone", removed)
        return removed

    # -- waking -----------------------------------------------------------------------------------------
    def wake(self, session: str) -> None:
        with self._lock:
            if session not in self._running:
                if len(self._running) >= self.limits.pool:
                    self._waiting.setdefault(session)
                    self._make_room()
                    return
                self._waiting.pop(session, None)
                self._running[session] = self._start(session)
        self.context.doorbells.ring(session)

    def _make_room(self) -> None:
        """Pool full, someone waiting: ask the longest-running container to finish and stop."""
        if any(r.draining for r in self._running.values()):
            return  # one is already on its way out
        oldest = min(self._running.values(), key=lambda r: r.started)
        oldest.draining = True
        log.info(
            "pool full (%d): asking session %s's runner to stop for a waiting session", self.limits.pool, oldest.session
        )
        try:
            oldest.container.kill(signal="SIGTERM")
        except Exception as exc:  # it may have just exited; its watcher frees the place
            log.warning("could not signal %s: %s", oldest.owner, exc)

    def _start(self, session: str) -> _Running:
        owner = f"{self.context.host_id}/d{next(self._numbers)}"
        token = self.context.tokens.issue(RunnerIdentity(session=session, owner=owner))
        network = "bridge" if session in self.limits.network_sessions else "none"
        container = self.client.containers.run(
            self.image,
            detach=True,
            name=f"inbox-{self._install}-{_safe(session)}-{owner.rsplit('/', 1)[1]}-{os.getpid()}",
            user=USER,
            group_add=[] if self.socket_group == CONTAINER_ID else [str(self.socket_group)],
            read_only=True,
            tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={self.limits.tmp_size}"},  # scripts run from /tmp
            network_mode=network,
            mem_limit=self.limits.memory,
            memswap_limit=self.limits.memory,  # no swap: the limit is the limit
            nano_cpus=int(self.limits.cpus * 1e9),
            pids_limit=self.limits.pids,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            environment={
                "INBOX_RUNNER_SOCKET": f"{SOCKET_DIR_IN_CONTAINER}/{self.context.socket_path.name}",
                "INBOX_RUNNER_TOKEN": token,
                "INBOX_RUNNER_SESSION": session,
                "INBOX_RUNNER_IDLE": f"{self.context.idle_s:g}",
                "INBOX_RUNNER_LOG_LEVEL": self.context.log_level,
                "INBOX_RUNNER_LOG_FORMAT": self.context.log_format,
                "INBOX_RUNNER_SANDBOX": "container",
                "INBOX_RUNNER_WORKSPACE": "/workspace",
                "INBOX_RUNNER_MEMORY": self.limits.memory,
            },
            volumes={
                str(self.context.socket_path.parent): {"bind": SOCKET_DIR_IN_CONTAINER, "mode": "ro"},
                f"inbox-ws-{self._install}-{_safe(session)}": {"bind": "/workspace", "mode": "rw"},
            },
            labels={
                LABEL: "1",
                "org.inbox.host": self.context.host_id,
                "org.inbox.session": session[:200],
                "org.inbox.owner": owner,
            },
        )
        running = _Running(session=session, owner=owner, container=container, started=time.monotonic())
        threading.Thread(target=self._watch, args=(running,), name=f"watch-{owner}", daemon=True).start()
        log.info("started container %s for session %s (%s)", container.short_id, session, owner)
        return running

    def _watch(self, running: _Running) -> None:
        cause: str | None = "vanished"
        try:
            code = int(running.container.wait().get("StatusCode", -1))
            running.container.reload()
            oom = bool(running.container.attrs.get("State", {}).get("OOMKilled"))
            cause = "oom" if oom else (None if code == 0 else f"exited {code}")
            if cause is not None:  # the container and its logs go away below: keep the end of them
                tail = running.container.logs(tail=20).decode(errors="replace").rstrip()
                log.warning(
                    "container %s (%s) ended: %s; its last lines:\n%s", running.owner, running.session, cause, tail
                )
            running.container.remove(force=True)
        except Exception as exc:  # the engine went away or the container was removed under us
            log.warning("lost track of container %s: %s", running.owner, exc)
        self.context.tokens.revoke_owner(running.owner)
        with self._lock:
            if self._running.get(running.session) is running:
                del self._running[running.session]
            next_up = next(iter(self._waiting), None)
        log.info("container %s for session %s ended: %s", running.owner, running.session, cause or "exited 0")
        self.context.on_exit(running.session, running.owner, cause)
        if next_up is not None:
            self.wake(next_up)

    def active(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def discard(self, owner: str) -> None:
        with self._lock:
            found = [r for r in self._running.values() if r.owner == owner]
        for running in found:
            log.warning("container %s stopped renewing its leases (no heartbeat): killing it", owner)
            try:
                running.container.reload()
                if running.container.status == "paused":
                    running.container.unpause()  # the engine refuses to kill a frozen container
                running.container.kill()
            except Exception as exc:
                log.warning("could not kill %s: %s", owner, exc)

    def shutdown(self, grace_s: float) -> None:
        with self._lock:
            running = list(self._running.values())

        def stop(item: _Running) -> None:
            try:
                item.container.stop(timeout=max(1, round(grace_s)))  # SIGTERM, then SIGKILL after the grace
            except Exception as exc:
                log.warning("could not stop %s: %s", item.owner, exc)

        # All at once: one grace for the whole pool, not one per container.
        stoppers = [threading.Thread(target=stop, args=(item,), name=f"stop-{item.owner}") for item in running]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()


def share_socket(path: Path) -> int:
    """Let the containers' user reach the host's socket, and no other user of this machine; returns its group.

    Connecting needs write permission on the socket and search permission on its folder. Root can hand both to
    the containers' own group; another user can hand them only to a group of its own, which the containers join.
    A runner token is still needed for any request.
    """
    group = CONTAINER_ID if os.geteuid() == 0 else os.getegid()
    for target, mode in ((path.parent, 0o710), (path, 0o660)):
        os.chown(target, -1, group)
        os.chmod(target, mode)
    return group


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
