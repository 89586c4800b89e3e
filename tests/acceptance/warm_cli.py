"""A warm ``inbox`` command for the acceptance tests: one process per test worker that has imported the command
line and the store once, and forks a child for each command.

Each child is a process of its own, as ``inbox`` started from a shell is: it takes its arguments, environment,
working directory and standard input from the request, writes standard output and error to files, and exits with
the command's exit code (``os._exit`` after the command's ``sys.exit``). What it saves is the start-up: importing
the store's stack costs about a second of CPU per command, and the suite runs hundreds.

Where a child could differ from a fresh process, the test keeps a fresh one (tests/acceptance/conftest.py):
commands that serve or stay (``serve``, ``chat``, ``mcp``, ``runner``), commands started at the same time
(``run_many``), and an environment that changes how Python starts (``PYTHON*``). ``INBOX_TEST_FRESH_CLI=1`` runs
every command as a fresh process.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

FRESH_COMMANDS = frozenset({"serve", "chat", "mcp", "runner"})


def _child(request: dict[str, object]) -> int:
    """In the forked child: become the command and run it; its exit code."""
    for fd, key, flags in ((0, "in", os.O_RDONLY), (1, "out", os.O_WRONLY), (2, "err", os.O_WRONLY)):
        opened = os.open(str(request[key]), flags)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115  (the process's own, for its life)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(request["env"])  # type: ignore[arg-type]
    time.tzset()  # TZ as the command's environment says
    os.chdir(str(request["cwd"]))
    import random

    random.seed()  # each child its own randomness, not the copy of the warm process's
    sys.argv = [str(request["argv0"]), *request["args"]]  # type: ignore[misc]
    from inbox.cli.main import run

    code = 1
    try:
        run()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
        if isinstance(exit_.code, str):
            sys.stderr.write(exit_.code + "\n")
    except BaseException:
        import traceback

        traceback.print_exc()
    return code


def serve() -> None:
    """The warm process: import, then one command at a time (a request line in, ``pid`` and ``pid code`` out)."""
    import inbox.api
    import inbox.cli.app
    import inbox.cli.main
    import inbox.config  # noqa: F401

    reader = os.fdopen(0, "rb", buffering=0)
    line = b""
    while True:
        chunk = reader.read(65536)
        if not chunk:
            return
        line += chunk
        while b"\n" in line:
            raw, line = line.split(b"\n", 1)
            request = json.loads(raw)
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    code = _child(request)
                finally:
                    for stream in (sys.stdout, sys.stderr):
                        with contextlib.suppress(Exception):
                            stream.flush()
                    import logging

                    logging.shutdown()
                    os._exit(code)
            os.write(1, f"{pid}\n".encode())
            _, status = os.waitpid(pid, 0)
            os.write(1, f"{pid} {os.waitstatus_to_exitcode(status)}\n".encode())


class WarmCli:
    """The test side: starts the warm process with ``env`` (how Python starts), and runs commands through it."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.python_env = {k: v for k, v in env.items() if k.startswith("PYTHON")}
        root = Path(__file__).resolve().parents[2]
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from tests.acceptance.warm_cli import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(env),
            cwd=root,
        )
        self.lock = threading.Lock()
        self.pending = b""

    def serves(self, args: Sequence[str], env: Mapping[str, str]) -> bool:
        """Whether this command may run in a forked child rather than a fresh process."""
        python_env = {k: v for k, v in env.items() if k.startswith("PYTHON")}
        command = next((a for a in args if not a.startswith("-")), "")
        return self.process.poll() is None and python_env == self.python_env and command not in FRESH_COMMANDS

    def _line(self, deadline: float) -> bytes:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("the warm inbox process ended")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line

    def run(
        self, argv0: str, args: Sequence[str], env: Mapping[str, str], stdin: str | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        with self.lock, tempfile.TemporaryDirectory(prefix="inbox-cli-") as folder:
            paths = {key: Path(folder) / key for key in ("in", "out", "err")}
            for path in paths.values():
                path.write_text("")
            if stdin is not None:
                paths["in"].write_text(stdin, encoding="utf-8")
            request = {
                "args": list(args),
                "argv0": argv0,
                "env": dict(env),
                "cwd": os.getcwd(),
                **{key: str(path) for key, path in paths.items()},
            }
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            deadline = time.monotonic() + timeout
            pid = int(self._line(deadline))
            try:
                code = int(self._line(deadline).split()[1])
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                self._line(time.monotonic() + 30)
                raise subprocess.TimeoutExpired([argv0, *args], timeout) from None
            out = paths["out"].read_text(encoding="utf-8")
            err = paths["err"].read_text(encoding="utf-8")
        return subprocess.CompletedProcess([argv0, *args], code, out, err)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
