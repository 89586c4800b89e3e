"""Run a task's pre-script and turn its output into a decision: wake the model, skip, or report an error.

The contract (SPEC, "Pre-scripts"): the script text is run with its own shebang, or with ``bash`` when it has none,
in a process group of its own, under a time limit and an output cap per stream, with an environment made only of
what the caller passes (plus a minimal ``PATH``, ``HOME`` and ``LANG``), and the caller's document (JSON: the
event that started the run, its data, the series' state) on its standard input. It succeeds when it exits with code
0 and the last non-empty line of its standard output is a JSON object whose ``wakeAgent`` is a JSON boolean; a
``state`` beside it (at most :data:`MAX_STATE_BYTES` as JSON) is what the series' next run gets on its input.

Standard library only: this module also runs inside the minimal runner container.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from agent_runner.processes import TIMEOUT, run_process, signal_name, size_text

TAIL_CHARS = 4096
MAX_STATE_BYTES = 16 * 1024  # a pre-script's ``state``, serialized as compact JSON (UTF-8)


class ScriptVerdict(StrEnum):
    WAKE = "wake"
    SKIPPED = "skipped"
    SCRIPT_ERROR = "script_error"


@dataclass(frozen=True)
class ScriptResult:
    verdict: ScriptVerdict
    data: Any  # the "data" value of the JSON line (None when absent); only meaningful for WAKE
    reason: str | None  # why, for SCRIPT_ERROR
    exit_code: int | None  # None when the script could not start or was killed by us; negative: killed by a signal
    stdout_tail: str
    stderr_tail: str
    duration_s: float
    state_given: bool = False  # the JSON line had a ``state`` (WAKE or SKIPPED only); ``state`` is its value
    state: Any = None


def input_document(
    *,
    message_id: str | None = None,
    series_id: str | None = None,
    slot: str | None = None,
    event: dict[str, Any] | None = None,
    data: Any = None,
    state: Any = None,
) -> bytes:
    """What a pre-script reads on its standard input (docs/prescripts.md): one JSON object and a newline.

    ``event`` is {"id", "name", "data", "session"} for an occurrence an event started, else null; ``data`` is the
    data attached to the occurrence; ``state`` what the series' pre-script returned last (null before that)."""
    document = {
        "message_id": message_id,
        "series_id": series_id,
        "slot": slot,
        "event": event,
        "data": data,
        "state": state,
    }
    return json.dumps(document, ensure_ascii=False, default=str).encode("utf-8", errors="replace") + b"\n"


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tail_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")[-TAIL_CHARS:]


@dataclass(frozen=True)
class _Decision:
    verdict: ScriptVerdict
    data: Any = None
    reason: str | None = None
    state_given: bool = False
    state: Any = None


def state_problem(state: Any) -> str | None:
    """Why ``state`` cannot be kept for the series' next run, or None: it must be JSON (no NaN), valid UTF-8
    text, and at most :data:`MAX_STATE_BYTES` as compact JSON."""
    try:
        size = len(json.dumps(state, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8"))
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError (a lone surrogate) is a ValueError
        return f"state is not storable JSON: {_clip(str(exc))}"
    if size > MAX_STATE_BYTES:
        return f"state is {size} bytes as JSON; the limit is {size_text(MAX_STATE_BYTES)}"
    return None


def _decide(stdout: bytes) -> _Decision:
    verdict, data, reason = _verdict(stdout)
    if verdict == ScriptVerdict.SCRIPT_ERROR:
        return _Decision(verdict, reason=reason)
    obj = json.loads(_last_line(stdout) or "{}")
    if "state" not in obj:
        return _Decision(verdict, data)
    problem = state_problem(obj["state"])
    if problem is not None:
        return _Decision(ScriptVerdict.SCRIPT_ERROR, reason=problem)
    return _Decision(verdict, data, state_given=True, state=obj["state"])


def _last_line(stdout: bytes) -> str | None:
    lines = [line.strip() for line in stdout.decode("utf-8", errors="replace").split("\n")]
    return next((line for line in reversed(lines) if line), None)


def _verdict(stdout: bytes) -> tuple[ScriptVerdict, Any, str | None]:
    last = _last_line(stdout)
    if last is None:
        return ScriptVerdict.SCRIPT_ERROR, None, "no output"
    try:
        obj = json.loads(last)
    except ValueError:
        return ScriptVerdict.SCRIPT_ERROR, None, f"last line is not JSON: {_clip(last)}"
    if not isinstance(obj, dict):
        return ScriptVerdict.SCRIPT_ERROR, None, f"last line is not a JSON object: {_clip(last)}"
    if "wakeAgent" not in obj:
        return ScriptVerdict.SCRIPT_ERROR, None, "missing wakeAgent"
    wake = obj["wakeAgent"]
    if not isinstance(wake, bool):
        return ScriptVerdict.SCRIPT_ERROR, None, f"wakeAgent must be a JSON boolean, got {_clip(json.dumps(wake))}"
    if wake:
        return ScriptVerdict.WAKE, obj.get("data"), None
    return ScriptVerdict.SKIPPED, None, None


def run_prescript(
    script: str,
    *,
    timeout_s: float = 30.0,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    max_output_bytes: int = 1 << 20,
    stdin: bytes = b"",
) -> ScriptResult:
    """Run ``script`` as a task's pre-script would be run and return the decision. Never raises for script faults.

    ``stdin`` is what the script reads on its standard input (agent_runner.processes says how it is given)."""
    workdir = tempfile.mkdtemp(prefix="inbox-prescript-")
    try:
        path = os.path.join(workdir, "prescript")
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(script)
        os.chmod(path, 0o700)
        argv = [path] if script.startswith("#!") else ["bash", path]
        done = run_process(argv, timeout_s=timeout_s, env=env, cwd=cwd, max_output_bytes=max_output_bytes, stdin=stdin)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if done.problem is not None:
        reason = f"timed out after {timeout_s:g} s" if done.problem == TIMEOUT else done.problem
        decision = _Decision(ScriptVerdict.SCRIPT_ERROR, reason=reason)
    elif done.returncode is not None and done.returncode < 0:
        decision = _Decision(ScriptVerdict.SCRIPT_ERROR, reason=f"killed by signal {signal_name(-done.returncode)}")
    elif done.returncode != 0:
        decision = _Decision(ScriptVerdict.SCRIPT_ERROR, reason=f"exit code {done.returncode}")
    else:
        decision = _decide(done.stdout)
    return ScriptResult(
        decision.verdict,
        decision.data,
        decision.reason,
        done.returncode,
        tail_text(done.stdout),
        tail_text(done.stderr),
        done.duration_s,
        state_given=decision.state_given,
        state=decision.state,
    )


def describe(result: ScriptResult) -> str:
    """One line for people: ``wake: data=…``, ``skipped`` or ``script_error: reason``."""
    if result.verdict == ScriptVerdict.WAKE:
        return f"wake: data={_clip(json.dumps(result.data, ensure_ascii=False), 500)}"
    if result.verdict == ScriptVerdict.SKIPPED:
        return "skipped"
    return f"script_error: {result.reason or 'unknown'}"
