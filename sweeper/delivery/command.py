"""Command channels: a local program gets each outbox row as JSON on its standard input.

It runs without a shell (the command line is split into words as a shell would), in its own process group, with
the host's environment less the model providers' keys and the store's URL, plus ``INBOX_OUTBOX_ID``,
``INBOX_SESSION``, ``INBOX_CHANNEL`` and ``INBOX_ATTEMPT``. The text, which may come from the model, reaches it
only on standard input, never as an argument. Exit 0 delivers the row; any other exit, or running past the
timeout (its whole process group is killed), is retried with the tail of its standard error as the error; a
program that cannot be started fails the row at once.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Mapping

from sweeper.delivery.base import DELIVERED, ERROR_TAIL, Delivery, Sent, fail, retry, tail

HIDDEN_VARIABLES = frozenset({"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "INBOX_API_TOKEN", "INBOX_DATABASE_URL"})


def command_environment(environ: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in environ.items() if key not in HIDDEN_VARIABLES}


class CommandSender:
    def __init__(self, *, timeout_s: float, environ: Mapping[str, str] | None = None) -> None:
        self.timeout_s = timeout_s
        self.environ = command_environment(os.environ if environ is None else environ)

    def send(self, delivery: Delivery) -> Sent:
        item = delivery.item
        try:
            argv = shlex.split(delivery.channel.target)
        except ValueError as exc:
            return fail(f"the channel's command cannot be split into words: {exc}")
        env = {
            **self.environ,
            "INBOX_OUTBOX_ID": item.id,
            "INBOX_SESSION": item.session,
            "INBOX_CHANNEL": delivery.channel.name,
            "INBOX_ATTEMPT": str(item.attempt),
        }
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                    env=env,
                    start_new_session=True,  # its own process group: a timeout kills all it started
                )
            except OSError as exc:
                return fail(f"cannot start {argv[0] if argv else '(nothing)'}: {exc.strerror or exc}")
            try:
                process.communicate(delivery.body, timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return retry(f"{argv[0]} ran past {self.timeout_s:g} s and was killed")
            if process.returncode == 0:
                return DELIVERED
            errors.seek(max(0, errors.seek(0, os.SEEK_END) - 4 * ERROR_TAIL))
            said = tail(errors.read().decode("utf-8", "replace"))
            code = process.returncode
            how = f"was killed by signal {-code}" if code < 0 else f"exited {code}"
            return retry(f"{argv[0]} {how}" + (f": {said}" if said else ""))
