"""The emitter of a chaos run: a process of its own (``python -m tests.chaos.emitter``) that emits the planned events
through the Python API, with its own engine on the store, or as webhook calls to a live host over HTTP
(tests/chaos/hooks.py), and the thread that kills it with SIGKILL now and then.

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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from inbox import Inbox
from tests.chaos.events import Emission, make_emissions
from tests.chaos.hooks import call_hook

ROOT = Path(__file__).resolve().parents[2]
HOOK_CALLERS = 4  # webhook calls in flight at once (each waits for a busy host; emits are made in turn)
READY_FOR_S = (0.2, 1.5)  # how long a process that was slow to start emits, at least, before it is killed


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
    """Runs the emitter process and, ``period_s`` seconds (uniform) after it is ready to emit, kills it with SIGKILL
    and starts it again, until :meth:`finish`, which lets one run to the end of the plan."""

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
        hooks: tuple[Path, Path] | None = None,
    ) -> None:
        """``hooks``: the file of the hooks' secrets and the one of the live hosts' addresses, for the calls."""
        super().__init__(name="chaos-emitter", daemon=True)
        self.home, self.log, self.ready = home, home / "emitter.log", home / "emitter.ready"
        self.env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}
        self.args = ["--count", str(count), "--window", str(window_s), "--seed", str(seed), "--sessions", str(sessions)]
        if hooks is not None:
            self.args += ["--secrets", str(hooks[0]), "--urls", str(hooks[1])]
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
        while True:
            kill_at = time.monotonic() + self.rng.uniform(*self.period_s)
            self._wait_ready(process)  # and once ready, let it emit a little before the kill
            pause = max(kill_at - time.monotonic(), self.rng.uniform(*READY_FOR_S))
            if not self.kills:  # the first kill is made even when the window ended first: every run has one
                time.sleep(pause)
            elif self.stopping.wait(pause):
                return
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
                self.kills += 1
            elif self._ended(process) or len(self.failures) >= 5:  # done, or failing whatever it is given
                return
            process = self._start()

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        """Until ``process`` has opened the store: on a loaded machine its imports alone take seconds, and a kill
        before it is ready would only hold the plan back, not cut an emission."""
        while process.poll() is None and not (self.stopping.is_set() and self.kills):
            if self.ready.exists() and self.ready.read_text() == str(process.pid):
                return
            time.sleep(0.05)

    def finish(self, timeout_s: float = 120.0) -> None:
        """Stop killing, and let an emitter run until every emission is done (or the timeout passes)."""
        self.stopping.set()
        if self.ident is not None:
            self.join(timeout=120)  # a slow start to the first kill
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
    parser.add_argument("--secrets", type=Path, help="the hooks' secrets (JSON), for the webhook calls")
    parser.add_argument("--urls", type=Path, help="the live hosts' addresses, one a line")
    args = parser.parse_args(argv)
    done = {answer["n"] for answer in read_log(args.log)}
    planned = make_emissions(args.count, args.window, seed=args.seed, sessions=args.sessions)
    began = time.time()
    inbox = Inbox()  # the store of INBOX_DATABASE_URL, an engine of its own
    opened = f"store opened in {time.time() - began:.1f} s, {began - args.start:.1f} s into the window"
    print(f"emitter: {opened}", file=sys.stderr)  # its imports on a loaded machine can take many seconds
    http = httpx.Client()  # one for all the calls (a client per call costs more than the call itself)
    ready = args.log.with_name("emitter.ready")
    ready.with_suffix(".part").write_text(str(os.getpid()))
    os.replace(ready.with_suffix(".part"), ready)
    with open(args.log, "a") as log, ThreadPoolExecutor(HOOK_CALLERS) as callers:
        lock = threading.Lock()

        def note(line: dict[str, Any]) -> None:
            with lock:
                log.write(json.dumps({**line, "at": round(time.time() - args.start, 2)}) + "\n")  # s into the window
                log.flush()

        calls = []
        for emission in planned:
            if emission.n in done:
                continue
            wait = args.start + emission.at_s - time.time()
            if wait > 0:
                time.sleep(wait)
            if emission.hook is None:
                answer = inbox.emit(emission.name, emission.data(), session=emission.session, key=emission.key)
                line = {"n": emission.n, "id": answer.id, "duplicate": answer.duplicate, "matched": answer.matched}
                note(line | {"queued": answer.queued, "coalesced": answer.coalesced})
            else:  # outside callers do not wait for each other: a keyed retry may race the call it repeats
                calls.append(callers.submit(_call, http, emission, args.secrets, args.urls, note))
        for call in calls:
            call.result()  # a call that failed fails the emitter
    return 0


def _call(
    http: httpx.Client,
    emission: Emission,
    secrets: Path | None,
    urls: Path | None,
    note: Callable[[dict[str, Any]], None],
) -> None:
    if secrets is None or urls is None or emission.hook is None:
        raise SystemExit("a webhook call needs --secrets and --urls")
    secret = json.loads(secrets.read_text())[emission.hook]
    answer = call_hook(http, emission.hook, emission.data(), emission.key, secret=secret, urls=urls)
    keep = ("id", "duplicate", "matched", "message_id", "tries")
    note({"n": emission.n, "hook": emission.hook, **{name: answer[name] for name in keep}})


if __name__ == "__main__":
    raise SystemExit(main())
