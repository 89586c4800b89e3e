"""The work of a run that is not a model call: an ``http`` request (made by the host), a ``command`` (run here,
in the sandbox, as a pre-script is) or a registered worker (called here).

Each ends in a :class:`~agent_runner.ending.Done`, which agent_runner.ending turns into the run's result by the
rule the host uses too for the requests it makes alone.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from agent_runner.client import HostClient
from agent_runner.ending import Done, finished, http_done
from agent_runner.kinds import CommandInput, Context, TransientError, registered_workers
from agent_runner.processes import TIMEOUT, run_process, signal_name
from agent_runner.protocol import MAX_NOTE, HttpCall, Progress, WorkItem

DEFAULT_TIMEOUT_S = 30.0
STDERR_IN_ERROR = 1000


def do_http(item: WorkItem, host: HostClient) -> Done:
    limit = item.timeout_s or DEFAULT_TIMEOUT_S
    return http_done(host.http(HttpCall(message_id=item.id, attempt=item.attempt), timeout_s=limit))


def do_command(item: WorkItem, *, env: Mapping[str, str], cwd: str | None, stdin: bytes) -> Done:
    try:
        given = CommandInput.model_validate(item.input or {})
    except ValidationError as exc:
        return Done("failed", error=f"the command's with is invalid: {exc.errors()[0]['msg']}")
    limit = given.timeout or item.timeout_s or DEFAULT_TIMEOUT_S
    done = run_process(given.argv, timeout_s=limit, env=env, cwd=cwd, stdin=stdin)
    stderr = done.stderr.decode("utf-8", "replace").strip()[-STDERR_IN_ERROR:]
    tail = f"; stderr: {stderr}" if stderr else ""
    if done.problem == TIMEOUT:
        return Done("timeout", error=f"command timed out after {limit:g} s{tail}")
    if done.problem is not None:
        return Done("failed", error=f"command {done.problem}{tail}")
    if done.returncode is not None and done.returncode < 0:
        return Done("failed", error=f"command killed by signal {signal_name(-done.returncode)}{tail}")
    if done.returncode != 0:
        return Done("failed", error=f"command exit code {done.returncode}{tail}")
    return finished(done.stdout.decode("utf-8", "replace"))


@dataclass
class _Context:
    """What a worker's function gets beside its input (agent_runner.kinds.Context)."""

    host: HostClient
    item: WorkItem
    message_id: str
    series_id: str | None
    session: str
    event: dict[str, Any] | None
    data: Any
    reported: list[float] = field(default_factory=list)

    def progress(self, fraction: float, note: str = "") -> None:
        kept = min(max(float(fraction), 0.0), 1.0)  # a worker's arithmetic slip is not worth failing its run
        report = Progress(message_id=self.message_id, attempt=self.item.attempt, fraction=kept, note=note[:MAX_NOTE])
        self.host.progress(report)


def do_worker(item: WorkItem, host: HostClient, data: Any) -> Done:
    found = registered_workers().get(item.do)
    if found is None or found.worker is None:
        why = found.problem if found is not None else "is not installed in this runner"
        return Done("failed", error=f"worker {item.do!r} {why} (the runner image needs its wheel: docs/kinds.md)")
    try:
        given = found.worker.input.model_validate(item.input or {})
    except ValidationError as exc:
        return Done("failed", error=f"worker {item.do!r} refused its input: {exc.errors()[0]['msg']}")
    event = item.event.model_dump(mode="json") if item.event is not None else None
    context: Context = _Context(host, item, item.id, item.series_id, item.session, event, data)
    outcome: list[Done] = []

    def call() -> None:
        try:
            outcome.append(finished(found.worker.run(given, context) if found.worker else None))
        except TransientError as exc:
            outcome.append(Done("failed", error=f"worker {item.do!r}: {exc}", transient=True))
        except Exception as exc:  # the worker's fault ends its run, never the runner
            outcome.append(Done("failed", error=f"worker {item.do!r} raised {type(exc).__name__}: {exc}"))

    # A thread, so an overrunning worker ends its run as a timeout; Python cannot kill it, so it is left to end
    # by itself and its late result is dropped (docs/kinds.md).
    limit = item.timeout_s or None
    thread = threading.Thread(target=call, name=f"worker-{item.id}", daemon=True)
    thread.start()
    thread.join(limit)
    if not outcome:
        return Done("timeout", error=f"worker {item.do!r} timed out after {limit or 0:g} s")
    return outcome[0]
