"""A real host under test: ``inbox serve`` subprocesses on one store, with the fake model server on loopback.

Timings are shortened through the documented variables (a 2 s lease, 1 s retry backoff, a 1 s safety-net pass)
so crash and retry paths finish in seconds. Reads go through the Python API on the same store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlmodel import select

from inbox import Inbox
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.views import RunRecord
from scripts.fake_provider.server import FakeProvider

HOST_KEY = "sk-host-only-0123456789"
T = TypeVar("T")
# How long a test waits for what a host should do (a run, a delivery) before it fails with the host's log: generous,
# since in the full suite on 2 cores, whose first minutes also build images and run the benchmarks' smoke tests, an
# agent run takes several times as long as alone (docs/testing.md, "Workers").
WAIT_S = 60.0


class Served:
    def __init__(self, home: Path, fake: FakeProvider, store_url: str | None) -> None:
        self.home = home
        self.fake = fake
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("INBOX_", "OPENAI_", "ANTHROPIC_"))}
        self.env.pop("TZ", None)
        self.env.update(
            INBOX_HOME=str(home),
            INBOX_TZ="UTC",
            OPENAI_BASE_URL=fake.openai_base_url,
            OPENAI_API_KEY=HOST_KEY,
            INBOX_MODEL="fake-model",
            INBOX_LEASE_SECONDS="2",
            INBOX_RETRY_BACKOFF="1s,1s,1s",
            INBOX_SWEEP_INTERVAL="1",
            INBOX_RUNNER_IDLE="30",
        )
        if store_url is not None:
            self.env["INBOX_DATABASE_URL"] = store_url
        self.inbox = Inbox(store_url, env=self.env)
        self.hosts: list[subprocess.Popen[str]] = []
        self.logs: list[Path] = []

    # -- hosts -------------------------------------------------------------------------------------------
    def start_host(self, *args: str, **extra_env: str) -> subprocess.Popen[str]:
        """``inbox serve ARGS`` with the shortened timings and ``extra_env``; its output goes to a log."""
        log = self.home / f"serve-{len(self.logs)}.log"
        self.logs.append(log)
        with open(log, "w") as out:
            host = subprocess.Popen(
                ["inbox", "serve", *args],
                env={**self.env, **extra_env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        self.hosts.append(host)
        return host

    def stop_hosts(self) -> None:
        for host in self.hosts:
            if host.poll() is None:
                host.send_signal(signal.SIGTERM)
        for host in self.hosts:
            try:
                host.wait(timeout=40)
            except subprocess.TimeoutExpired:
                host.kill()  # the test fails either way: say what the host was doing when it did not stop
                said = self.log_text()[-6000:]
                raise AssertionError(f"a host did not stop within 40 s of SIGTERM; its log ends:\n{said}") from None

    def kill_host(self, host: subprocess.Popen[str]) -> None:
        host.kill()
        host.wait(timeout=10)

    def runner_pids(self, host: subprocess.Popen[str]) -> list[int]:
        """The host's runner processes (its children running ``agent_runner``)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == host.pid and b"agent_runner" in cmdline:
                found.append(int(entry.name))
        return found

    def log_text(self) -> str:
        return "\n".join(path.read_text() for path in self.logs if path.exists())

    # -- reading -----------------------------------------------------------------------------------------
    def wait_for(self, what: str, probe: Callable[[], T | None], timeout_s: float = WAIT_S) -> T:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.1)
        logs = self.log_text()
        raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}\n--- host logs ---\n{logs}")

    def runs(self, ident: str) -> list[RunRecord]:
        return sorted(self.inbox.runs(ident, limit=1000), key=lambda r: (r.started_at, r.attempt))

    def wait_for_runs(self, ident: str, count: int, timeout_s: float = WAIT_S) -> list[RunRecord]:
        def enough() -> list[RunRecord] | None:
            found = self.runs(ident)
            return found if len(found) >= count else None

        return self.wait_for(f"{count} runs of {ident}", enough, timeout_s)

    def live_rows(self, series_id: str) -> list[MessageIn]:
        with transaction(self.inbox.engine) as db:
            rows = db.exec(select(MessageIn).where(MessageIn.series_id == series_id)).all()
            return [r for r in rows if r.status in ("pending", "running", "paused") and not r.is_extra]

    def close(self) -> None:
        for host in self.hosts:
            if host.poll() is None:
                host.kill()
                host.wait(timeout=10)
        for host in self.hosts:
            for pid in self.runner_pids(host):
                os.kill(pid, signal.SIGKILL)
        self.inbox.close()


@contextmanager
def serving(home: Path, store_url: str | None) -> Iterator[Served]:
    with FakeProvider(api_key=HOST_KEY) as fake:
        served = Served(home, fake, store_url)
        try:
            yield served
        finally:
            served.close()
