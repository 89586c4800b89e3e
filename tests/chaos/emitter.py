"""The emitter of a chaos run: a process of its own (``python -m tests.chaos.emitter``) that emits the planned events
through the Python API, with its own engine on the store, and the thread that kills it with SIGKILL now and then.

The process appends each answer to a log (one JSON line per emission, once it is committed) and, started again,
goes on from the first emission not in the log: the one it was killed in the middle of is emitted again, as a
caller would retry it. A retry with a key must answer the first event; one without a key is a new event, which
the checks allow.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from inbox import Inbox
from tests.chaos.events import make_emissions

ROOT = Path(__file__).resolve().parents[2]


def read_log(log: Path) -> list[dict[str, Any]]:
    """The answers logged (a line cut short by a kill is no answer: its emission is done again)."""
    answers = []
    if log.exists():
        for line in log.read_text().splitlines():
            try:
                answers.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return answers


class Emitter(threading.Thread):
    """Runs the emitter process and, every ``period_s`` seconds (uniform), kills it with SIGKILL and starts it again,
    until :meth:`finish`, which lets one run to the end of the plan."""

    def __init__(
        self,
        home: Path,
        env: dict[str, str],
        *,
        count: int,
        window_s: float,
        seed: int,
        sessions: int,
        period_s: tuple[float, float] = (2.0, 6.0),
    ) -> None:
        super().__init__(name="chaos-emitter", daemon=True)
        self.home, self.log = home, home / "emitter.log"
        self.env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}
        self.args = ["--count", str(count), "--window", str(window_s), "--seed", str(seed), "--sessions", str(sessions)]
        self.rng = random.Random(seed * 31 + 7)
        self.period_s = period_s
        self.kills = 0
        self.failures: list[str] = []  # exits that were not a kill: an emit that failed
        self.stopping = threading.Event()
        self.started_at = time.time()
        self._process: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        err = self.home / f"emitter-{self.kills + len(self.failures)}.err"
        with open(err, "wb") as out:
            command = [sys.executable, "-m", "tests.chaos.emitter", *self.args, "--start", str(self.started_at)]
            command += ["--log", str(self.log)]
            self._process = subprocess.Popen(command, env=self.env, cwd=self.home, stdout=out, stderr=out)
        return self._process

    def _ended(self, process: subprocess.Popen[bytes]) -> bool:
        """Whether the plan is done; a failed run is noted (and the next one goes on)."""
        code = process.poll()
        if code is not None and code != 0:
            self.failures.append(f"emitter exited {code}: see {self.home}/emitter-*.err")
        return code == 0

    def run(self) -> None:
        self.started_at = time.time()
        process = self._start()
        while not self.stopping.wait(self.rng.uniform(*self.period_s)):
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
                self.kills += 1
            elif self._ended(process):
                return
            process = self._start()

    def finish(self, timeout_s: float = 120.0) -> None:
        """Stop killing, and let an emitter run until every emission is done (or the timeout passes)."""
        self.stopping.set()
        if self.ident is not None:
            self.join(timeout=30)
        deadline = time.monotonic() + timeout_s
        while self._process is not None and time.monotonic() < deadline and len(self.failures) < 5:
            try:
                self._process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                break
            if self._ended(self._process):
                return
            self._start()
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)

    def answers(self) -> list[dict[str, Any]]:
        return read_log(self.log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.emitter")
    for name in ("--count", "--seed", "--sessions"):
        parser.add_argument(name, type=int, required=True)
    for name in ("--window", "--start"):
        parser.add_argument(name, type=float, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args(argv)
    done = {answer["n"] for answer in read_log(args.log)}
    planned = make_emissions(args.count, args.window, seed=args.seed, sessions=args.sessions)
    inbox = Inbox()  # the store of INBOX_DATABASE_URL, an engine of its own
    with open(args.log, "a") as log:
        for emission in planned:
            if emission.n in done:
                continue
            wait = args.start + emission.at_s - time.time()
            if wait > 0:
                time.sleep(wait)
            answer = inbox.emit(emission.name, emission.data(), session=emission.session, key=emission.key)
            line = {"n": emission.n, "id": answer.id, "duplicate": answer.duplicate, "matched": answer.matched}
            log.write(json.dumps({**line, "queued": answer.queued, "coalesced": answer.coalesced}) + "\n")
            log.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
