"""Doing one claimed item: the pre-script decides, then a reminder is delivered or the model is asked.

Every path ends in a :class:`RunResult` with an outcome and, when it did not complete, a reason: nothing a runner
takes ends silently. A run's ``timeout_s`` bounds the whole attempt; the pre-script gets the same bound (30 s when
the task sets none) and a pre-script that overruns is a ``script_error``, as SPEC's script protocol says.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent_runner.agent import AgentRun, is_silence
from agent_runner.client import HostClient
from agent_runner.conversation import ProviderError
from agent_runner.doing import do_command, do_http, do_worker
from agent_runner.ending import Done, kind_result
from agent_runner.prescript import ScriptResult, ScriptVerdict, describe, input_document, run_prescript
from agent_runner.protocol import AGENT_PREFIX, RunResult, StateUpdate, WorkItem

DEFAULT_SCRIPT_TIMEOUT_S = 30.0
STDERR_IN_ERROR = 1000


@dataclass(frozen=True)
class Sandbox:
    """Where this runner runs: ``container`` isolates scripts; ``none`` (the process runtime) does not."""

    kind: str = "none"
    allow_unsandboxed: bool = False
    workspace: str | None = None
    memory: str | None = None  # the container's memory limit, for messages

    def refuses(self, item: WorkItem) -> str | None:
        """Why ``item``'s script may not run here, or None. Whoever wrote the script counts, not who made the
        task: an agent may attach a script to a task a person made. An unknown author counts as an agent."""
        return self.refuses_author(item.script_by, "script")

    def refuses_author(self, author: str | None, what: str) -> str | None:
        """Why a program ``author`` wrote may not run here (None: it may); an unknown author counts as an agent."""
        by_person = author is not None and not author.startswith(AGENT_PREFIX)
        if not by_person and self.kind == "none" and not self.allow_unsandboxed:
            return (
                f"{what} written by {author or 'an unknown author'} refused: no sandbox on the process runtime; "
                "set INBOX_ALLOW_UNSANDBOXED=1 to allow"
            )
        return None


OOM_COUNTERS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")  # cgroup v2, v1


def oom_kills() -> int | None:
    """How many processes the kernel has killed in this container at its memory limit (None: unknown)."""
    for path in OOM_COUNTERS:
        try:
            with open(path) as fh:
                for line in fh:
                    name, _, value = line.partition(" ")
                    if name == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def _now() -> datetime:
    return datetime.now(UTC)


def _script_env(item: WorkItem, sandbox: Sandbox) -> dict[str, str]:
    env = {"INBOX_SESSION": item.session, "INBOX_MESSAGE_ID": item.id}
    if item.series_id:
        env["INBOX_SERIES_ID"] = item.series_id
    if item.occurrence_at is not None:
        env["INBOX_SLOT"] = item.occurrence_at.isoformat()
    if item.event is not None:
        env["INBOX_EVENT_NAME"] = item.event.name
        env["INBOX_EVENT_ID"] = item.event.id
    if sandbox.workspace:
        env["INBOX_WORKSPACE"] = sandbox.workspace
    return env


def script_input(item: WorkItem) -> bytes:
    """The document ``item``'s pre-script reads on its standard input."""
    return input_document(
        message_id=item.id,
        series_id=item.series_id,
        slot=item.occurrence_at.isoformat() if item.occurrence_at is not None else None,
        event=item.event.model_dump(mode="json") if item.event is not None else None,
        data=item.data,
        state=item.state,
    )


def _script_output(result: ScriptResult) -> str:
    return f"{describe(result)}\n{result.stdout_tail}".strip()


def _script_error(result: ScriptResult) -> str:
    stderr = result.stderr_tail.strip()
    tail = f"; stderr: {stderr[-STDERR_IN_ERROR:]}" if stderr else ""
    return f"pre-script {result.reason or 'failed'}{tail}"


def do_item(item: WorkItem, host: HostClient, sandbox: Sandbox) -> RunResult:
    started = _now()
    clock_start = time.monotonic()
    base: dict[str, Any] = {"id": item.id, "attempt": item.attempt, "started_at": started}
    script_data: Any = None
    script_output: str | None = None
    if item.script:
        refusal = sandbox.refuses(item)
        if refusal:
            return RunResult(outcome="script_error", error=refusal, **base)
        limit = item.timeout_s or DEFAULT_SCRIPT_TIMEOUT_S
        oom_before = oom_kills() if sandbox.kind == "container" else None
        result = run_prescript(
            item.script,
            timeout_s=limit,
            env=_script_env(item, sandbox),
            cwd=sandbox.workspace,
            stdin=script_input(item),
        )
        script_output = _script_output(result)
        if result.state_given:  # kept by the host only if this attempt ends completed, silent or skipped
            base["state"] = StateUpdate(value=result.state)
        if result.verdict == ScriptVerdict.SCRIPT_ERROR and oom_before is not None and oom_kills() != oom_before:
            why = f"oom: the pre-script was killed at the container's memory limit ({sandbox.memory or 'set by host'})"
            return RunResult(outcome="failed", error=why, script_output=script_output, **base)
        if result.verdict == ScriptVerdict.SKIPPED:
            return RunResult(outcome="skipped", script_output=script_output, **base)
        if result.verdict == ScriptVerdict.SCRIPT_ERROR:
            return RunResult(outcome="script_error", error=_script_error(result), script_output=script_output, **base)
        script_data = result.data
    base["script_output"] = script_output
    if item.remind:
        text = item.text
        if item.script and script_data is not None:
            text += "\n" + json.dumps(script_data, ensure_ascii=False, default=str)
        return RunResult(outcome="completed", reply=text, **base)
    if item.do != "agent":
        return kind_result(_do_kind(item, host, sandbox, script_data), **base)
    return _ask_model(item, host, sandbox, base, script_data, clock_start)


def _do_kind(item: WorkItem, host: HostClient, sandbox: Sandbox, script_data: Any) -> Done:
    """A run that is not a model call; a pre-script's ``data`` (when it woke the run) stands for the item's."""
    data = script_data if item.script else item.data
    if item.do == "http":
        return do_http(item, host)
    if item.do == "command":
        refusal = sandbox.refuses_author(item.created_by, "command")
        if refusal:
            return Done("failed", error=refusal)
        return do_command(item, env=_script_env(item, sandbox), cwd=sandbox.workspace, stdin=script_input(item))
    return do_worker(item, host, data)


def _ask_model(
    item: WorkItem, host: HostClient, sandbox: Sandbox, base: dict[str, Any], script_data: Any, clock_start: float
) -> RunResult:
    deadline = clock_start + item.timeout_s if item.timeout_s else None
    agent = AgentRun(item, host, sandboxed=sandbox.kind == "container", workspace=sandbox.workspace)
    try:
        out = agent.run(script_data, has_script_data=bool(item.script), deadline=deadline, now=_now())
    except ProviderError as exc:
        usage = {"input_tokens": agent.out.input_tokens, "output_tokens": agent.out.output_tokens}
        if exc.kind == "timeout" and item.timeout_s:
            return RunResult(
                outcome="timeout", error=f"run timed out after {item.timeout_s:g} s: {exc}", **usage, **base
            )
        return RunResult(
            outcome="failed",
            error=f"model call failed ({exc.kind}): {exc.message}",
            transient=exc.transient,
            retry_after_s=exc.retry_after_s,
            **usage,
            **base,
        )
    kept = {
        "input_tokens": out.input_tokens,
        "output_tokens": out.output_tokens,
        "new_turns": out.new_turns,
        "summary": out.summary,
        "summary_through": out.summary_through,
        "model_output": out.text,
    }
    if is_silence(out.text):
        return RunResult(outcome="silent", **kept, **base)
    if not out.text:
        return RunResult(outcome="failed", error="the model answered with no text", transient=True, **kept, **base)
    return RunResult(outcome="completed", reply=out.text, **kept, **base)
