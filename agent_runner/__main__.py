"""``python -m agent_runner``: the runner a host starts for one session (as a process or in a container).

Everything comes from the environment the host sets: ``INBOX_RUNNER_SOCKET`` (the host's unix socket),
``INBOX_RUNNER_TOKEN`` (session-scoped), ``INBOX_RUNNER_SESSION``, and optionally ``INBOX_RUNNER_IDLE``,
``INBOX_RUNNER_SLOTS``, ``INBOX_RUNNER_LOG_LEVEL`` (``INFO`` | ``WARNING``), ``INBOX_RUNNER_SANDBOX``
(``none`` | ``container``), ``INBOX_ALLOW_UNSANDBOXED``,
``INBOX_RUNNER_WORKSPACE`` and ``INBOX_RUNNER_PARENT_PID``. No credentials: model calls go through the host.

The token is taken out of the environment and the process sealed (agent_runner.secrecy) before anything else runs,
so the shells and scripts it starts cannot read the token. Start it with ``python3 -s -P``: the working directory
is the workspace those shells write to, and neither it nor ``$HOME/.local`` may be a source of imports.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime

from agent_runner.client import HostClient
from agent_runner.loop import Runner, RunnerConfig
from agent_runner.secrecy import seal, take_token
from agent_runner.work import Sandbox


class JsonLines(logging.Formatter):
    """The runner's lines as the host writes its own with INBOX_LOG_FORMAT=json (inbox/logs.py), with its session."""

    def __init__(self, session: str) -> None:
        super().__init__()
        self.session = session

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line = {"at": at, "level": record.levelname.lower(), "logger": record.name, "session": self.session}
        line["message"] = record.getMessage() + (
            f"\n{self.formatException(record.exc_info)}" if record.exc_info else ""
        )
        return json.dumps(line, ensure_ascii=False)


# A thread that wakes at a due time waits for the GIL while another holds it (parsing a claim that brought a long
# conversation, a model reply): by default up to 5 ms before Python hands it over, which was the whole tail of how
# late runs started (docs/benchmarks.md, "Lateness"). The runner's threads mostly wait on sockets; switching more
# often costs it nothing measurable.
SWITCH_INTERVAL_S = 0.0005


def main() -> int:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    token = take_token()
    unsealed = seal()
    env = os.environ
    session = env.get("INBOX_RUNNER_SESSION", "main")
    level = env.get("INBOX_RUNNER_LOG_LEVEL", "INFO")
    handler = logging.StreamHandler(sys.stderr)
    if env.get("INBOX_RUNNER_LOG_FORMAT") == "json":
        handler.setFormatter(JsonLines(session))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s runner[{session}] %(message)s"))
    logging.basicConfig(level=level if level in ("INFO", "WARNING") else "INFO", handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)
    socket_path = env.get("INBOX_RUNNER_SOCKET")
    if not socket_path or not token:
        print("agent_runner: INBOX_RUNNER_SOCKET and INBOX_RUNNER_TOKEN must be set by the host", file=sys.stderr)
        return 2
    kind = env.get("INBOX_RUNNER_SANDBOX", "none")
    if unsealed and kind == "container":  # a shell the model drives would be able to read the token
        print(f"agent_runner: refusing to run: {unsealed}", file=sys.stderr)
        return 2
    if unsealed:
        logging.getLogger("inbox.runner").warning("scripts of this user can read the runner's token: %s", unsealed)
    parent = env.get("INBOX_RUNNER_PARENT_PID")
    config = RunnerConfig(
        session=session,
        slots=int(env.get("INBOX_RUNNER_SLOTS", "4")),
        idle_s=float(env.get("INBOX_RUNNER_IDLE", "600")),
        parent_pid=int(parent) if parent else None,
    )
    sandbox = Sandbox(
        kind=kind,
        allow_unsandboxed=env.get("INBOX_ALLOW_UNSANDBOXED", "0") in ("1", "true", "yes"),
        workspace=env.get("INBOX_RUNNER_WORKSPACE") or None,
        memory=env.get("INBOX_RUNNER_MEMORY") or None,
    )
    host = HostClient(socket_path, token)
    runner = Runner(host, config, sandbox)
    signal.signal(signal.SIGTERM, lambda *_: runner.stopping.set())
    # What is loaded by now lives as long as the runner: out of the collector's full passes, which otherwise stop
    # every thread for milliseconds, one due to start among them (as in the host: sweeper.host).
    gc.collect()
    gc.freeze()
    try:
        code = runner.run()
    finally:
        host.close()
    if runner.orphaned:  # not waiting for the work threads (Python joins them at exit): their programs die with it
        logging.shutdown()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
