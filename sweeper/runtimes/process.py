"""The process runtime: each session's runner is a local ``python -m agent_runner`` subprocess.

The embedded default where no container engine answers. It runs the same runner code a container does, but with
no sandbox: the host says so at start, and the runner refuses scripts an agent wrote unless the user set
``INBOX_ALLOW_UNSANDBOXED=1``. The runner gets a minimal environment (no credentials, no host secrets): the socket,
its token, its session, and a workspace folder as its working directory. The runner takes the token out of its
environment and seals its memory at start (agent_runner.secrecy), so its scripts cannot read the token either.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sweeper.http.runner_auth import RunnerIdentity
from sweeper.runtimes.base import RunnerContext, workspace_dir

log = logging.getLogger("inbox.runtime")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")


@dataclass
class _Runner:
    session: str
    owner: str
    proc: subprocess.Popen[bytes]


class ProcessRuntime:
    name = "process"
    sandboxed = False

    def __init__(self, context: RunnerContext) -> None:
        self.context = context
        self._runners: dict[str, _Runner] = {}
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)

    def _environment(self, session: str, token: str, workspace: Path) -> dict[str, str]:
        env = {key: os.environ[key] for key in PASSED_THROUGH if key in os.environ}
        env.update(
            HOME=str(workspace),
            # the host's own import path after the project: workers installed where the host finds them (a
            # target folder on PYTHONPATH too) are found by its runners (docs/kinds.md)
            PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
            INBOX_RUNNER_SOCKET=str(self.context.socket_path),
            INBOX_RUNNER_TOKEN=token,
            INBOX_RUNNER_SESSION=session,
            INBOX_RUNNER_IDLE=f"{self.context.idle_s:g}",
            INBOX_RUNNER_LOG_LEVEL=self.context.log_level,
            INBOX_RUNNER_LOG_FORMAT=self.context.log_format,
            INBOX_RUNNER_SANDBOX="none",
            INBOX_RUNNER_WORKSPACE=str(workspace),
            INBOX_RUNNER_PARENT_PID=str(os.getpid()),
            INBOX_ALLOW_UNSANDBOXED="1" if self.context.allow_unsandboxed else "0",
        )
        return env

    def _start(self, session: str) -> _Runner:
        owner = f"{self.context.host_id}/p{next(self._numbers)}"
        token = self.context.tokens.issue(RunnerIdentity(session=session, owner=owner))
        workspace = workspace_dir(self.context.home, session)
        workspace.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            # -s -P: the working directory is the workspace scripts write to; no imports from it or its .local
            [sys.executable, "-s", "-P", "-m", "agent_runner"],
            cwd=workspace,
            env=self._environment(session, token, workspace),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # a signal to the host's terminal is not a signal to its runners
        )
        runner = _Runner(session=session, owner=owner, proc=proc)
        threading.Thread(target=self._watch, args=(runner,), name=f"watch-{session}", daemon=True).start()
        log.info("started runner %s for session %s (pid %d)", owner, session, proc.pid)
        return runner

    def _watch(self, runner: _Runner) -> None:
        code = runner.proc.wait()
        self.context.tokens.revoke_owner(runner.owner)
        with self._lock:
            if self._runners.get(runner.session) is runner:
                del self._runners[runner.session]
        cause = None if code == 0 else f"exited {code}" if code > 0 else f"killed by {signal.Signals(-code).name}"
        log.info("runner %s for session %s ended: %s", runner.owner, runner.session, cause or "exited 0")
        self.context.on_exit(runner.session, runner.owner, cause)

    def wake(self, session: str) -> None:
        with self._lock:
            runner = self._runners.get(session)
            if runner is None or runner.proc.poll() is not None:
                self._runners[session] = self._start(session)
        self.context.doorbells.ring(session)

    def active(self) -> list[str]:
        with self._lock:
            return [s for s, r in self._runners.items() if r.proc.poll() is None]

    def discard(self, owner: str) -> None:
        with self._lock:
            found = [r for r in self._runners.values() if r.owner == owner]
        for runner in found:
            log.warning("runner %s stopped renewing its leases: killing it", owner)
            runner.proc.kill()

    def shutdown(self, grace_s: float) -> None:
        with self._lock:
            runners = list(self._runners.values())
        for runner in runners:
            if runner.proc.poll() is None:
                runner.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for runner in runners:
            try:
                runner.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("runner %s did not stop in %g s: killed; its leases expire", runner.owner, grace_s)
                runner.proc.kill()
                runner.proc.wait()
