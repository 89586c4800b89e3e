"""The ``inbox`` command run in this process through ``inbox.cli.main.run``, the binary's own entry point.

Same code path as the installed script (exit codes, one-line errors), without a Python start-up per example.
Output goes through UTF-8 streams with the error handlers the real process's streams have, so what would
crash the binary while printing crashes here too.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

from inbox.cli.main import run


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}"


def _stream(like: object) -> tuple[io.BytesIO, io.TextIOWrapper]:
    raw = io.BytesIO()
    errors = getattr(like, "errors", None) or "strict"
    return raw, io.TextIOWrapper(raw, encoding="utf-8", errors=errors, write_through=True)


def run_inbox(argv: Sequence[str]) -> CliResult:
    """Exit code and output of ``inbox ARGV``; an exception escaping ``run`` is what the binary shows as a
    traceback, so it propagates and fails the test."""
    out_raw, out = _stream(sys.__stdout__)
    err_raw, err = _stream(sys.__stderr__)
    with redirect_stdout(out), redirect_stderr(err):
        try:
            run(argv)
        except SystemExit as ended:
            code = ended.code
        else:  # pragma: no cover - run() always exits
            raise AssertionError("inbox.cli.main.run returned instead of exiting")
    if code is None:
        code = 0
    assert isinstance(code, int), f"exit status {code!r} is not a number"
    return CliResult(
        code, out_raw.getvalue().decode("utf-8", "backslashreplace"), err_raw.getvalue().decode("utf-8", "replace")
    )
