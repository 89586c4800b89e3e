"""Two ``inbox serve`` hosts on one store, and the monkey that kills them and their runners at random.

The hosts are the acceptance tests' (tests/acceptance/served.py): process runtime, a 2 s lease, 1 s retry
backoff, a 1 s safety-net pass. The monkey acts every few seconds: it kills a host with SIGKILL and starts a new
one in its place a moment later, or kills one runner process (a child ``agent_runner`` of a host) with SIGKILL.
Runners orphaned by a killed host stop by themselves; whatever is left at the end is killed by
:func:`kill_leftovers`, which finds every process working under the run's ``INBOX_HOME``.

With ``urls``, the hosts also serve HTTP (``--listen 127.0.0.1:0``: each takes a free port, a new host a new one),
and the file ``urls`` lists the addresses of the hosts in their places, one a line, for the webhook calls. A killed
host's address stays listed until its place is filled, as a caller would still try it.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.acceptance.served import Served

HOST_COUNT = 2
LISTENING = re.compile(r"listening on (http://\S+:\d+)")
LISTEN_WAIT_S = 60.0


@dataclass
class KillLog:
    host_kills: int = 0
    runner_kills: int = 0
    db_restarts: int = 0  # the database server stopped and started again (tests/chaos/db_restarts.py)
    events: list[str] = field(default_factory=list)  # "t=12.3s killed host 2 (pid 123)", for the report


class Cluster:
    """The hosts in their places: a killed host's place is filled by a new ``inbox serve``."""

    def __init__(self, served: Served, *, extra_env: dict[str, str] | None = None, urls: Path | None = None) -> None:
        self.served = served
        self.extra_env = extra_env or {}
        self.urls_file = urls
        self.places: list[subprocess.Popen[str]] = []
        self.urls: dict[int, str] = {}  # by place, once its host listens
        self._lock = threading.Lock()

    def _start(self) -> tuple[subprocess.Popen[str], Path]:
        if self.urls_file is None:
            return self.served.start_host(**self.extra_env), self.served.logs[-1]
        host = self.served.start_host("--listen", "127.0.0.1:0", PYTHONUNBUFFERED="1", **self.extra_env)
        return host, self.served.logs[-1]

    def start(self) -> None:
        with self._lock:
            started = [self._start() for _ in range(HOST_COUNT)]
            self.places = [host for host, _ in started]
        for place, (host, log) in enumerate(started):
            self._listening(place, host, log)

    def replace(self, place: int) -> subprocess.Popen[str]:
        with self._lock:
            self.urls.pop(place, None)
            self._write_urls()
            host, log = self._start()
            self.places[place] = host
        self._listening(place, host, log)
        return host

    def _listening(self, place: int, host: subprocess.Popen[str], log: Path) -> None:
        """Once ``host`` listens, list its address (a host that dies first is not listed)."""
        if self.urls_file is None:
            return
        deadline = time.monotonic() + LISTEN_WAIT_S
        while not (found := LISTENING.search(log.read_text())) and host.poll() is None:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        with self._lock:
            if found and self.places[place] is host:
                self.urls[place] = found[1]
                self._write_urls()

    def _write_urls(self) -> None:
        if self.urls_file is not None:  # whole, then renamed: the emitter never reads half a list
            part = self.urls_file.with_suffix(".part")
            part.write_text("".join(f"{url}\n" for url in self.urls.values()))
            os.replace(part, self.urls_file)

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
