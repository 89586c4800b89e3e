"""Lateness benchmark: how long after its ``process_after`` a due task actually starts, with a warm runner.

``python -m bench.lateness [--tasks 500] [--over 60] [--peer/--no-peer]`` starts a real ``inbox serve`` on a fresh
SQLite home, with the fake model provider, warms the session's runner with one message, schedules N one-shot prompt
tasks spread evenly over the window and, once all have run, reads ``runs.started_at - messages_in.process_after``
(first attempt) from the store. The peer, APScheduler 3.x with its SQLAlchemy job store on SQLite, runs the same N
``date`` jobs in the same run. The last line printed is the headline. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from bench import common
from bench.common import HEADER, Summary
from inbox import Inbox
from inbox.schedules import parse_at
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, Run
from scripts.fake_provider.server import FakeProvider

GOAL_P99_MS = 250.0
LEAD_S = 5.0  # the first task is due this long after scheduling starts
WARM_TIMEOUT_S = 60.0
POLL_S = 0.5  # the store is polled rarely: each look takes the SQLite write lock for a moment


@dataclass
class Measured:
    summary: Summary
    missing: list[str] = field(default_factory=list)  # tasks that never started
    notes: list[str] = field(default_factory=list)  # anything odd seen while measuring


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds")


def keeps_subsecond() -> bool:
    """Does ``--at`` keep microseconds? If not, the tasks are spread on whole seconds."""
    due = time.time() + 3600.123456
    parsed = parse_at(_iso(due), ZoneInfo("UTC"), datetime.now(UTC)).when
    return abs(parsed.timestamp() - due) < 1e-5


def _host_env(home: Path, fake: FakeProvider) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INBOX_", "OPENAI_", "ANTHROPIC_"))}
    env.pop("TZ", None)
    env.update(
        INBOX_HOME=str(home),
        INBOX_TZ="UTC",
        OPENAI_BASE_URL=fake.openai_base_url,
        OPENAI_API_KEY="x",
        INBOX_MODEL="fake-model",
    )
    return env


def _serve_command() -> list[str]:
    found = shutil.which("inbox", path=str(Path(sys.executable).parent)) or shutil.which("inbox")
    return [found, "serve"] if found else [sys.executable, "-c", "from inbox.cli.main import run; run()", "serve"]


def _wait(what: str, probe: Callable[[], bool], timeout_s: float, host: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        if host.poll() is not None:
            raise RuntimeError(f"inbox serve exited with {host.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(POLL_S)


def _started(inbox: Inbox, ids: list[str]) -> int:
    with transaction(inbox.engine) as db:
        query = select(Run.message_id).where(col(Run.message_id).in_(ids)).distinct()
        return len(db.exec(query).all())


def _collect(inbox: Inbox, ids: list[str]) -> Measured:
    runs: dict[str, list[Run]] = defaultdict(list)
    with transaction(inbox.engine) as db:
        due = {row.id: row.process_after for row in db.exec(select(MessageIn).where(col(MessageIn.id).in_(ids)))}
        for run in db.exec(select(Run).where(col(Run.message_id).in_(ids))):
            runs[run.message_id].append(run)
    lateness: list[float] = []
    measured = Measured(Summary.of([]))
    for message_id in ids:
        attempts = sorted(runs.get(message_id, []), key=lambda r: (r.attempt, r.started_at))
        if not attempts:
            measured.missing.append(message_id)
            continue
        lateness.append((attempts[0].started_at - due[message_id]).total_seconds())
        if len(attempts) > 1:
            measured.notes.append(f"task {message_id} has {len(attempts)} runs: {[r.outcome for r in attempts]}")
        elif attempts[0].outcome != "completed":
            measured.notes.append(f"task {message_id} ended {attempts[0].outcome}: {attempts[0].error}")
    measured.summary = Summary.of(lateness)
    return measured


def measure_inbox(tasks: int, over_s: float, workdir: Path) -> Measured:
    home = workdir / "inbox-home"
    log_path = workdir / "serve.log"
    with FakeProvider() as fake:
        env = _host_env(home, fake)
        inbox = Inbox(env=env)  # creates and migrates the store before the host opens it
        with open(log_path, "wb") as log:
            host = subprocess.Popen(_serve_command(), env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            warm = inbox.send("warm up")
            _wait(
                "the warm-up reply", lambda: any(o.in_reply_to == warm.id for o in inbox.outbox()), WARM_TIMEOUT_S, host
            )
            subsecond = keeps_subsecond()
            dues = common.spread(time.time() + LEAD_S, tasks, over_s, whole_seconds=not subsecond)
            began = time.monotonic()
            ids = [inbox.schedule(f"benchmark task {i}", at=_iso(due)).id for i, due in enumerate(dues)]
            print(f"inbox: scheduled {tasks} tasks in {time.monotonic() - began:.2f} s, due over {over_s:g} s")
            if not subsecond:
                print("inbox: --at drops sub-second precision; tasks were spread on whole seconds")
            left = dues[-1] - time.time() + 60.0
            try:
                _wait(f"runs of {tasks} tasks", lambda: _started(inbox, ids) >= tasks, max(left, 60.0), host)
            except TimeoutError as exc:
                print(f"inbox: {exc}")
            time.sleep(1.0)  # let a duplicate start, if any, show up in the runs
        finally:
            if host.poll() is None:
                host.send_signal(signal.SIGTERM)
            try:
                host.wait(timeout=45)
            except subprocess.TimeoutExpired:
                host.kill()
                host.wait()
        measured = _collect(inbox, ids)
        inbox.close()
    text = log_path.read_text(errors="replace")
    starts = text.count("started runner")
    if starts != 1:
        measured.notes.append(f"the host started {starts} runners (expected 1 warm runner); see {log_path}")
    problems = [line for line in text.splitlines() if any(w in line for w in ("ERROR", "Traceback", "WARNING"))]
    measured.notes.extend(f"host log: {line}" for line in problems[:10])
    return measured


def measure_apscheduler(tasks: int, over_s: float, workdir: Path) -> Measured | None:
    try:
        background = importlib.import_module("apscheduler.schedulers.background")
        stores = importlib.import_module("apscheduler.jobstores.sqlalchemy")
    except ImportError:
        return None
    store = stores.SQLAlchemyJobStore(url=f"sqlite:///{workdir / 'apscheduler.db'}")
    scheduler = background.BackgroundScheduler(
        jobstores={"default": store}, timezone="UTC", job_defaults={"misfire_grace_time": None, "coalesce": False}
    )
    scheduler.start()
    try:
        warm = time.time() + 0.2  # warm the executor's threads as our runner is warm
        scheduler.add_job(common.record_start, "date", run_date=datetime.fromtimestamp(warm, UTC), args=[-1, warm])
        deadline = time.monotonic() + WARM_TIMEOUT_S
        while -1 not in common.PEER_LATENESS and time.monotonic() < deadline:
            time.sleep(0.05)
        dues = common.spread(time.time() + LEAD_S, tasks, over_s)
        for i, due in enumerate(dues):
            run_date = datetime.fromtimestamp(due, UTC)
            scheduler.add_job(common.record_start, "date", run_date=run_date, args=[i, due], id=f"bench-{i}")
        deadline = time.monotonic() + (dues[-1] - time.time()) + 60.0
        while len(common.PEER_LATENESS) < tasks + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        scheduler.shutdown(wait=True)
    measured = Measured(Summary.of([common.PEER_LATENESS[i] for i in range(tasks) if i in common.PEER_LATENESS]))
    measured.missing = [f"bench-{i}" for i in range(tasks) if i not in common.PEER_LATENESS]
    measured.notes = [f"job bench-{i} ran {n} times" for i, n in common.PEER_RUNS.items() if n > 1]
    return measured


def _report(name: str, measured: Measured) -> None:
    for note in measured.notes:
        print(f"{name}: {note}")
    if measured.missing:
        print(f"{name}: {len(measured.missing)} did not run: {', '.join(measured.missing[:20])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lateness", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500, help="how many one-shot tasks (default 500)")
    parser.add_argument("--over", type=float, default=60.0, help="seconds the due times are spread over (default 60)")
    parser.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True, help="also run APScheduler 3.x")
    args = parser.parse_args(argv)
    if args.tasks < 1 or args.over <= 0:
        parser.error("--tasks must be at least 1 and --over greater than 0")
    workdir = Path(tempfile.mkdtemp(prefix="inbox-bench-"))
    print(f"lateness: {args.tasks} tasks over {args.over:g} s, warm process runner, SQLite in {workdir}")
    ours = measure_inbox(args.tasks, args.over, workdir)
    _report("inbox", ours)
    peer: Measured | None = None
    if args.peer:
        peer = measure_apscheduler(args.tasks, args.over, workdir)
        if peer is None:
            print("peer: APScheduler not installed (pip install 'apscheduler<4')")
        else:
            _report("APScheduler", peer)
    print(HEADER)
    print(ours.summary.row("inbox"))
    tail = "APScheduler: not run"
    if peer is not None:
        print(peer.summary.row("APScheduler"))
        if peer.summary.p99 > 0:
            print(f"p99 ratio inbox/APScheduler: {ours.summary.p99 / peer.summary.p99:.2f}")
        tail = f"APScheduler p50={peer.summary.p50:.1f}ms p99={peer.summary.p99:.1f}ms"
    if not ours.missing and not ours.notes:
        shutil.rmtree(workdir, ignore_errors=True)
    verdict = "" if ours.summary.p99 <= GOAL_P99_MS else " MISSED"
    s = ours.summary
    print(f"lateness p50={s.p50:.1f}ms p99={s.p99:.1f}ms (goal p99<={GOAL_P99_MS:g}ms{verdict}) | {tail}")
    return 1 if ours.missing else 0


if __name__ == "__main__":
    sys.exit(main())
