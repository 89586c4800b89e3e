"""Wake benchmark: from a message's due instant to its first model request, with no runner (cold) or an idle one.

``python -m bench.wake [--runs 20] [--image IMAGE] [--runtime docker|process] [--keep]`` runs ``inbox serve`` on a
fresh SQLite home with the fake model provider in this process. Warm: after a warm-up, each run sends one session a
message due LEAD_S later, for its idle runner. Cold: each run does the same in a session never used before (no
runner). Latency: the fake's arrival time minus ``process_after``; the first goals apply to p95, the long-run ones
(P99_GOALS_MS) to p99 where a runtime has one. The last line is the headline.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

from sqlmodel import col, select

from bench.common import percentile
from inbox import Inbox
from inbox.config import Settings
from inbox.store.engine import transaction
from inbox.store.models import Run
from scripts.fake_provider.server import FakeProvider, RecordedRequest, Scripted, ScriptedReply
from sweeper.runtimes.choose import docker_status
from sweeper.runtimes.image import DEFAULT_IMAGE

GOALS_MS = {"cold": 3000.0, "warm": 100.0}
# The long-run goals, at p99: a warm process runner, and a warm or cold container (no p99 goal for a cold process).
P99_GOALS_MS = {("process", "warm"): 50.0, ("docker", "warm"): 100.0, ("docker", "cold"): 1500.0}
LEAD_S = 1.5  # each message is due this long after it is sent
SETTLE_S = 0.5  # after its request arrived, let the runner report and go idle before the next message
TIMEOUT_S = 60.0  # a message whose model request has not arrived this long after it was due is counted lost
MARK = re.compile(r"\[wake (\w+-\d+)\]")
STARTED = re.compile(r"^(\S+ \S+) \S+ started (?:runner|container) \S+ for session (\S+) ")
SERVE = [sys.executable, "-c", "import sys; from inbox.cli.main import run; sys.exit(run())", "serve"]
PROBLEMS = re.compile(r"WARNING|ERROR|Traceback|pool full|died")


@dataclass
class Trial:
    session: str
    message_id: str
    due: float  # epoch seconds, as stored
    arrived: float | None  # the fake provider got the model request
    started: float | None = None  # the host logged starting the session's runner
    claimed: float | None = None  # the runner began the work (its run's started_at)


class Arrivals:
    """The fake provider's responder: when the first request carrying each marker arrived."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._cond = threading.Condition()

    def __call__(self, request: RecordedRequest) -> Scripted:
        now = time.time()
        if found := MARK.findall(json.dumps(request.json)):  # the last is this turn's; earlier ones are history
            with self._cond:
                self.times.setdefault(found[-1], now)
                self._cond.notify_all()
        return ScriptedReply("ok")

    def wait(self, key: str, timeout_s: float) -> float | None:
        with self._cond:
            self._cond.wait_for(lambda: key in self.times, timeout_s)
            return self.times.get(key)


def _send(inbox: Inbox, arrivals: Arrivals, host: subprocess.Popen[bytes], key: str, session: str) -> Trial:
    due = datetime.fromtimestamp(time.time() + LEAD_S, UTC).isoformat(timespec="microseconds")
    message = inbox.send(f"Reply with ok. [wake {key}]", session=session, at=due)
    deadline = time.monotonic() + LEAD_S + TIMEOUT_S
    while (arrived := arrivals.wait(key, 0.5)) is None and time.monotonic() < deadline:
        if host.poll() is not None:
            raise RuntimeError(f"inbox serve exited with {host.returncode}")
    time.sleep(SETTLE_S)
    return Trial(session, message.id, message.process_after.timestamp(), arrived)


def _docker(*args: str) -> list[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120).stdout.split()


def _clean_engine(host_pid: int, home: Path) -> list[str]:
    """Remove the containers (there should be none) and workspace volumes this run left; notes on the former."""
    mine = f"label=org.inbox.host={socket.gethostname()[:40]}-{host_pid}"
    left = _docker("ps", "-aq", "--filter", "label=org.inbox.runner=1", "--filter", mine)
    if left:
        _docker("rm", "-f", *left)
    install = sha256(str(home.resolve()).encode()).hexdigest()[:10]
    if volumes := _docker("volume", "ls", "-q", "--filter", f"name=inbox-ws-{install}-"):
        _docker("volume", "rm", "-f", *volumes)
    return [f"{len(left)} runner containers outlived the host (removed): {' '.join(left)}"] if left else []


def _starts(log_text: str) -> dict[str, list[float]]:
    """Per session, when the host logged starting a runner for it (the host logs in UTC, TZ=UTC)."""
    starts: dict[str, list[float]] = {}
    for line in log_text.splitlines():
        if found := STARTED.match(line):
            stamp = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC).timestamp()
            starts.setdefault(found.group(2), []).append(stamp)
    return starts


def _figures(seconds: list[float]) -> tuple[float, float, float, float]:
    ms = sorted(value * 1000 for value in seconds)
    return percentile(ms, 50), percentile(ms, 95), percentile(ms, 99), ms[-1] if ms else math.nan


def measure(runs: int, runtime: str, image: str, workdir: Path) -> tuple[dict[str, list[Trial]], list[str]]:
    home, log_path = workdir / "home", workdir / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INBOX_", "OPENAI_", "ANTHROPIC_"))}
    arrivals, notes = Arrivals(), []
    trials: dict[str, list[Trial]] = {"cold": [], "warm": []}
    with FakeProvider() as fake:
        fake.respond_with(arrivals)
        env.update(
            TZ="UTC",
            INBOX_HOME=str(home),
            INBOX_TZ="UTC",
            OPENAI_BASE_URL=fake.openai_base_url,
            OPENAI_API_KEY="x",
            INBOX_MODEL="fake-model",
            INBOX_RUNTIME=runtime,
            INBOX_RUNNER_IMAGE=image,
            INBOX_SWEEP_INTERVAL="60",
            INBOX_CONTAINER_POOL=str(max(50, runs + 5)),  # a cold session never waits for a place
            INBOX_RUNNER_IDLE="15",  # well above the warm runs' spacing; the cold runs' runners leave behind us
        )
        inbox = Inbox(env=env)  # creates and migrates the store before the host opens it
        with open(log_path, "wb") as log:
            host = subprocess.Popen(SERVE, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            trials["warm"].append(_send(inbox, arrivals, host, "warmup-0", "warm"))
            if trials["warm"][0].arrived is None:
                raise RuntimeError(f"the warm-up message got no model request; see {log_path}")
            for i in range(1, runs + 1):
                trials["warm"].append(_send(inbox, arrivals, host, f"warm-{i}", "warm"))
            for i in range(1, runs + 1):
                trials["cold"].append(_send(inbox, arrivals, host, f"cold-{i}", f"cold-{i}-{os.urandom(3).hex()}"))
        finally:
            if host.poll() is None:
                host.send_signal(signal.SIGTERM)
            try:
                host.wait(timeout=45)
            except subprocess.TimeoutExpired:
                notes.append("inbox serve was still running 45 s after SIGTERM: killed")
                host.kill()
                host.wait()
            if runtime == "docker":
                notes.extend(_clean_engine(host.pid, home))
        ids = [t.message_id for kind in trials.values() for t in kind]
        with transaction(inbox.engine) as db:
            runs_of = {r.message_id: r for r in db.exec(select(Run).where(col(Run.message_id).in_(ids))).all()}
        inbox.close()
    trials["warm"].pop(0)  # the warm-up was a cold start
    text = log_path.read_text(errors="replace")
    starts = _starts(text)
    for session, stamps in starts.items():
        if len(stamps) > 1:
            notes.append(f"session {session} got {len(stamps)} runners, expected 1 (runs not as warm as claimed)")
    for t in trials["cold"] + trials["warm"]:
        t.started = starts[t.session][0] if t.session in starts and t.session != "warm" else None
        if run := runs_of.get(t.message_id):
            t.claimed = run.started_at.timestamp()
            if run.outcome != "completed" or run.attempt != 1:
                notes.append(f"message {run.message_id}: attempt {run.attempt} {run.outcome} {run.error}")
    notes.extend(f"host log: {line}" for line in [x for x in text.splitlines() if PROBLEMS.search(x)][:15])
    return trials, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wake", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="cold runs, and as many warm runs (default 20)")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"runner image for docker (default {DEFAULT_IMAGE})")
    parser.add_argument("--runtime", choices=("docker", "process"), help="default: what inbox serve picks here")
    parser.add_argument("--keep", action="store_true", help="keep the home and host log even when all went well")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runtime = args.runtime
    if runtime is None:  # what inbox serve picks here: docker when an engine answers and the image exists
        client, _ = docker_status(Settings(home=Path(tempfile.gettempdir()), env={"INBOX_RUNNER_IMAGE": args.image}))
        runtime = "process" if client is None else "docker"
    workdir = Path(tempfile.mkdtemp(prefix="inbox-wake-"))
    print(f"wake: {args.runs} warm then {args.runs} cold runs, {runtime} runtime, SQLite and host log in {workdir}")
    trials, notes = measure(args.runs, runtime, args.image, workdir)
    for note in notes:
        print(f"note: {note}")
    heads = []
    for kind, goal in GOALS_MS.items():
        done = [t for t in trials[kind] if t.arrived is not None]
        phases = {"started": "runner started (log)", "claimed": "work claimed", "arrived": "model request"}
        for phase, label in phases.items():  # where the time goes, each from the due instant
            if values := [getattr(t, phase) - t.due for t in done if getattr(t, phase) is not None]:
                f50, f95, f99, fmax = _figures(values)
                shares = f"p50={f50:>5.0f}ms p95={f95:>5.0f}ms p99={f99:>5.0f}ms max={fmax:>5.0f}ms"
                print(f"{kind} due -> {label:<20} {shares}")
        p50, p95, p99, worst = _figures([t.arrived - t.due for t in done if t.arrived is not None])
        missing = len(trials[kind]) - len(done)
        lost = f", {missing} lost (no model request within {TIMEOUT_S:g} s)" if missing else ""
        print(f"{kind}: n={len(done)}{lost} p50={p50:.0f}ms p95={p95:.0f}ms p99={p99:.0f}ms max={worst:.0f}ms")
        goals = f"p95<={goal:g}{'' if p95 <= goal else ' MISSED'}"
        if (long_run := P99_GOALS_MS.get((runtime, kind))) is not None:
            goals += f", p99<={long_run:g}{'' if p99 <= long_run else ' MISSED'}"
        heads.append(f"{kind} p50={p50:.0f}ms p95={p95:.0f}ms p99={p99:.0f}ms max={worst:.0f}ms (goal {goals})")
    if not notes and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"wake ({runtime}): {' | '.join(heads)}")
    return 0 if all(t.arrived is not None for kind in trials.values() for t in kind) else 1


if __name__ == "__main__":
    sys.exit(main())
