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

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
TAIL_CHARS = 4096
_CHUNK = 65536
_POLL_S = 0.1  # how often the process is checked while its pipes are still open
_DRAIN_S = 1.0  # after the script exits, how long to wait for output still held by escaped descendants
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


def _size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tail(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")[-TAIL_CHARS:]


def _child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    home = os.path.expanduser("~")
    base = {"PATH": DEFAULT_PATH, "HOME": home if home != "~" else "/", "LANG": "C.UTF-8"}
    return {**base, **(env or {})}


def _has_exited(proc: subprocess.Popen[bytes]) -> bool:
    """True once the script's main process has exited, without reaping it where the platform allows.

    Leaving the zombie in place keeps its pid (and so its process group id) reserved until the group is killed.
    """
    if hasattr(os, "waitid"):
        try:
            return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True
    return proc.poll() is not None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:  # no such group: at least make sure the script itself is gone
        with contextlib.suppress(OSError):
            os.kill(proc.pid, signal.SIGKILL)


def _wait_exit(proc: subprocess.Popen[bytes], deadline: float) -> bool:
    delay = 0.001
    while not _has_exited(proc):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)
    return True


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
        return f"state is {size} bytes as JSON; the limit is {_size(MAX_STATE_BYTES)}"
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


def _collect(proc: subprocess.Popen[bytes], deadline: float, cap: int) -> tuple[dict[str, bytearray], str | None]:
    """Read stdout and stderr until both close. Returns the bytes and why the group had to be killed, if it did."""
    streams: dict[str, IO[bytes] | None] = {"stdout": proc.stdout, "stderr": proc.stderr}
    out = {name: bytearray() for name in streams}
    problem: str | None = None
    drain_until: float | None = None
    with selectors.DefaultSelector() as sel, contextlib.ExitStack() as cleanup:
        for name, stream in streams.items():
            if stream is not None:
                sel.register(stream, selectors.EVENT_READ, name)
        if hasattr(os, "pidfd_open"):  # wakes the loop as soon as the script exits, even if its pipes stay open
            with contextlib.suppress(OSError):
                pidfd = os.pidfd_open(proc.pid)
                cleanup.callback(os.close, pidfd)
                sel.register(pidfd, selectors.EVENT_READ, None)
        while problem is None and any(key.data for key in sel.get_map().values()):
            now = time.monotonic()
            if now >= deadline:
                problem = "timeout"
                break
            if drain_until is None and _has_exited(proc):
                _kill_group(proc)  # descendants left behind would keep the pipes open; they do not outlive the script
                drain_until = now + _DRAIN_S
            if drain_until is not None and now >= drain_until:
                break
            for key, _ in sel.select(min(deadline - now, _POLL_S)):
                if key.data is None:
                    sel.unregister(key.fileobj)
                    continue
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf = out[key.data]
                buf += chunk
                if len(buf) > cap:
                    del buf[cap:]
                    problem = f"{key.data} exceeded {_size(cap)}"
                    break
    return out, problem


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

    ``stdin`` is what the script reads on its standard input (from a file, so a script that ignores it never
    blocks the runner, and one that reads it to the end gets end-of-file)."""
    if timeout_s <= 0:
        raise ValueError("timeout_s must be greater than zero")
    if max_output_bytes <= 0:
        raise ValueError("max_output_bytes must be greater than zero")
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="inbox-prescript-")
    try:
        path = os.path.join(workdir, "prescript")
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(script)
        os.chmod(path, 0o700)
        argv = [path] if script.startswith("#!") else ["bash", path]
        input_path = os.path.join(workdir, "stdin")
        with open(input_path, "wb") as fh:
            fh.write(stdin)
        try:
            with open(input_path, "rb") as given:
                proc = subprocess.Popen(
                    argv,
                    stdin=given,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=_child_env(env),
                    cwd=cwd,
                    start_new_session=True,
                )
        except OSError as exc:
            why = f"could not start: {exc.strerror or exc}"
            return ScriptResult(ScriptVerdict.SCRIPT_ERROR, None, why, None, "", "", time.monotonic() - started)
        try:
            out, problem = _collect(proc, started + timeout_s, max_output_bytes)
            if problem is None and not _wait_exit(proc, started + timeout_s):
                problem = "timeout"  # closed its pipes but kept running
        finally:
            _kill_group(proc)  # before reaping, while the group id cannot have been reused
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        duration = time.monotonic() - started
        stdout, stderr = bytes(out["stdout"]), bytes(out["stderr"])
        code: int | None = proc.returncode
        if problem is not None:
            code = None
            decision = _Decision(
                ScriptVerdict.SCRIPT_ERROR,
                reason=f"timed out after {timeout_s:g} s" if problem == "timeout" else problem,
            )
        elif proc.returncode < 0:
            decision = _Decision(
                ScriptVerdict.SCRIPT_ERROR, reason=f"killed by signal {_signal_name(-proc.returncode)}"
            )
        elif proc.returncode != 0:
            decision = _Decision(ScriptVerdict.SCRIPT_ERROR, reason=f"exit code {proc.returncode}")
        else:
            decision = _decide(stdout)
        return ScriptResult(
            decision.verdict,
            decision.data,
            decision.reason,
            code,
            _tail(stdout),
            _tail(stderr),
            duration,
            state_given=decision.state_given,
            state=decision.state,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def describe(result: ScriptResult) -> str:
    """One line for people: ``wake: data=…``, ``skipped`` or ``script_error: reason``."""
    if result.verdict == ScriptVerdict.WAKE:
        return f"wake: data={_clip(json.dumps(result.data, ensure_ascii=False), 500)}"
    if result.verdict == ScriptVerdict.SKIPPED:
        return "skipped"
    return f"script_error: {result.reason or 'unknown'}"
