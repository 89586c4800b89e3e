"""``python -m agent_runner``: the runner a host starts for one session (as a process or in a container).

Everything comes from the environment the host sets: ``INBOX_RUNNER_SOCKET`` (the host's unix socket),
``INBOX_RUNNER_TOKEN`` (session-scoped), ``INBOX_RUNNER_SESSION``, and optionally ``INBOX_RUNNER_IDLE``,
``INBOX_RUNNER_SLOTS``, ``INBOX_RUNNER_SANDBOX`` (``none`` | ``container``), ``INBOX_ALLOW_UNSANDBOXED``,
``INBOX_RUNNER_WORKSPACE`` and ``INBOX_RUNNER_PARENT_PID``. No credentials: model calls go through the host.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

from agent_runner.client import HostClient
from agent_runner.loop import Runner, RunnerConfig
from agent_runner.work import Sandbox


def main() -> int:
    env = os.environ
    session = env.get("INBOX_RUNNER_SESSION", "main")
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s runner[{session}] %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    socket_path, token = env.get("INBOX_RUNNER_SOCKET"), env.get("INBOX_RUNNER_TOKEN")
    if not socket_path or not token:
        print("agent_runner: INBOX_RUNNER_SOCKET and INBOX_RUNNER_TOKEN must be set by the host", file=sys.stderr)
        return 2
    parent = env.get("INBOX_RUNNER_PARENT_PID")
    config = RunnerConfig(
        session=session,
        slots=int(env.get("INBOX_RUNNER_SLOTS", "4")),
        idle_s=float(env.get("INBOX_RUNNER_IDLE", "600")),
        parent_pid=int(parent) if parent else None,
    )
    sandbox = Sandbox(
        kind=env.get("INBOX_RUNNER_SANDBOX", "none"),
        allow_unsandboxed=env.get("INBOX_ALLOW_UNSANDBOXED", "0") in ("1", "true", "yes"),
        workspace=env.get("INBOX_RUNNER_WORKSPACE") or None,
        memory=env.get("INBOX_RUNNER_MEMORY") or None,
    )
    host = HostClient(socket_path, token)
    runner = Runner(host, config, sandbox)
    signal.signal(signal.SIGTERM, lambda *_: runner.stopping.set())
    try:
        return runner.run()
    finally:
        host.close()


if __name__ == "__main__":
    sys.exit(main())
