"""Running a program as a task's work is run: its own process group, a time limit, an output cap per stream, an
environment made only of what the caller passes (plus a minimal ``PATH``, ``HOME`` and ``LANG``), and the caller's
document on its standard input. Pre-scripts (agent_runner.prescript) and the ``command`` kind both run this way.

On Linux the program is also killed when the runner dies (``PR_SET_PDEATHSIG``): a runner killed with SIGKILL
cannot kill the group itself, and its host hands the attempt back at once, so a program left running would go on
beside the retry of its own attempt, and beside whatever the freed slot of a tag limit lets start.

Standard library only: this module runs inside the minimal runner container.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_CHUNK = 65536
_POLL_S = 0.1  # how often the process is checked while its pipes are still open
_DRAIN_S = 1.0  # after the program exits, how long to wait for output still held by escaped descendants
TIMEOUT = "timeout"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Finished:
    """How a program ended: ``problem`` is why its group was killed or it never started (``timeout``, ``stdout
    exceeded 1 MiB``, ``could not start: …``); else ``returncode`` (negative: killed by that signal)."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    problem: str | None
    duration_s: float


def size_text(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


def _child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    home = os.path.expanduser("~")
    base = {"PATH": DEFAULT_PATH, "HOME": home if home != "~" else "/", "LANG": "C.UTF-8"}
    return {**base, **(env or {})}


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


def _dies_with_the_runner() -> Callable[[], None] | None:
    """What the child runs before ``exec``: it is killed when the thread that starts it ends, which is the runner's
    thread waiting on it (so only when the runner dies). Looked up here, in the parent: the child only calls it."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def tie() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the runner died before the tie was made
            os.kill(os.getpid(), signal.SIGKILL)

    return tie


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
                problem = TIMEOUT
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
                    problem = f"{key.data} exceeded {size_text(cap)}"
                    break
    return out, problem


def run_process(
    argv: Sequence[str],
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    max_output_bytes: int = 1 << 20,
    stdin: bytes = b"",
) -> Finished:
    """Run ``argv`` to its end or its limit; never raises for the program's faults.

    ``stdin`` is given from a file, so a program that ignores it never blocks the runner, and one that reads it
    to the end gets end-of-file."""
    if timeout_s <= 0:
        raise ValueError("timeout_s must be greater than zero")
    if max_output_bytes <= 0:
        raise ValueError("max_output_bytes must be greater than zero")
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="inbox-stdin-")
    try:
        input_path = os.path.join(workdir, "stdin")
        with open(input_path, "wb") as fh:
            fh.write(stdin)
        try:
            with open(input_path, "rb") as given:
                proc = subprocess.Popen(
                    list(argv),
                    stdin=given,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=_child_env(env),
                    cwd=cwd,
                    start_new_session=True,
                    # Between fork and exec with other threads about: one foreign call, looked up beforehand.
                    preexec_fn=_dies_with_the_runner(),
                )
        except OSError as exc:
            why = f"could not start: {exc.strerror or exc}"
            return Finished(None, b"", b"", why, time.monotonic() - started)
        try:
            out, problem = _collect(proc, started + timeout_s, max_output_bytes)
            if problem is None and not _wait_exit(proc, started + timeout_s):
                problem = TIMEOUT  # closed its pipes but kept running
        finally:
            _kill_group(proc)  # before reaping, while the group id cannot have been reused
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        code = None if problem is not None else proc.returncode
        return Finished(code, bytes(out["stdout"]), bytes(out["stderr"]), problem, time.monotonic() - started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
