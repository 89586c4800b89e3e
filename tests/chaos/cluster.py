"""Two ``inbox serve`` hosts on one store, and the monkey that kills them and their runners at random.

The hosts are the acceptance tests' (tests/acceptance/served.py): process runtime, a 2 s lease, 1 s retry
backoff, a 1 s safety-net pass. The monkey acts every few seconds: it kills a host with SIGKILL and starts a new
one in its place a moment later, or kills one runner process (a child ``agent_runner`` of a host) with SIGKILL.
Runners orphaned by a killed host stop by themselves; whatever is left at the end is killed by
:func:`kill_leftovers`, which finds every process working under the run's ``INBOX_HOME``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.acceptance.served import Served

HOST_COUNT = 2


@dataclass
class KillLog:
    host_kills: int = 0
    runner_kills: int = 0
    db_restarts: int = 0  # the database server stopped and started again (tests/chaos/db_restarts.py)
    events: list[str] = field(default_factory=list)  # "t=12.3s killed host 2 (pid 123)", for the report


class Cluster:
    """The hosts in their places: a killed host's place is filled by a new ``inbox serve``."""

    def __init__(self, served: Served, *, extra_env: dict[str, str] | None = None) -> None:
        self.served = served
        self.extra_env = extra_env or {}
        self.places: list[subprocess.Popen[str]] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self.places = [self.served.start_host(**self.extra_env) for _ in range(HOST_COUNT)]

    def replace(self, place: int) -> subprocess.Popen[str]:
        with self._lock:
            self.places[place] = self.served.start_host(**self.extra_env)
            return self.places[place]

    def alive(self) -> list[subprocess.Popen[str]]:
        with self._lock:
            return [host for host in self.places if host.poll() is None]

    def runners(self) -> list[int]:
        return [pid for host in self.alive() for pid in self.served.runner_pids(host)]

    def restart_dead(self) -> int:
        """Fill every place whose host is gone; returns how many were started."""
        dead = [index for index, host in enumerate(self.places) if host.poll() is not None]
        for index in dead:
            self.replace(index)
        return len(dead)


class Monkey(threading.Thread):
    """Every ``period`` seconds (uniform), a runner, or every ``host_every``-th time a host, is killed with SIGKILL."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        seed: int,
        period_s: tuple[float, float] = (2.0, 5.0),
        host_every: int = 3,
        down_s: tuple[float, float] = (0.5, 2.0),
    ) -> None:
        super().__init__(name="chaos-monkey", daemon=True)
        self.cluster = cluster
        self.rng = random.Random(seed)
        self.period_s = period_s
        self.host_every = host_every
        self.down_s = down_s
        self.kills = KillLog()
        self.stopping = threading.Event()
        self._started_at = time.monotonic()

    def _note(self, what: str) -> None:
        self.kills.events.append(f"t={time.monotonic() - self._started_at:.1f}s {what}")

    def run(self) -> None:
        self._started_at = time.monotonic()
        actions = 0
        while not self.stopping.wait(self.rng.uniform(*self.period_s)):
            actions += 1
            runners = self.cluster.runners()
            # Every third action kills a host, so a short run has its share of both kinds whatever the draws.
            if runners and actions % self.host_every:
                self._kill_runner(self.rng.choice(runners))
            else:
                self._kill_host()

    def _kill_runner(self, pid: int) -> None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return  # it had just stopped by itself
        self.kills.runner_kills += 1
        self._note(f"killed runner pid {pid}")

    def _kill_host(self) -> None:
        place = self.rng.randrange(HOST_COUNT)
        host = self.cluster.places[place]
        if host.poll() is not None:
            return
        host.kill()
        host.wait(timeout=10)
        self.kills.host_kills += 1
        self._note(f"killed host {place} (pid {host.pid})")
        self.stopping.wait(self.rng.uniform(*self.down_s))  # down for a moment, even when the run is ending
        new = self.cluster.replace(place)
        self._note(f"started host {place} (pid {new.pid})")

    def stop(self) -> None:
        self.stopping.set()
        if self.ident is not None:  # started
            self.join(timeout=30)


def _working_under(pid: int, home: str) -> bool:
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return cwd == home or cwd.startswith(home + os.sep)


def kill_leftovers(home: Path) -> list[int]:
    """SIGKILL every process whose working directory is under ``home`` (runners, their pre-scripts)."""
    root = str(home.resolve())
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        if _working_under(pid, root):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
    return killed
