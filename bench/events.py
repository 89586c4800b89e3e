"""Events benchmark: ingest with 1,000 listening tasks, and from an emit to the run it starts.

``python -m bench.events [--events 20000] [--batch 1000] [--series 1000] [--latency 200] [--db sqlite|postgres]``

Ingest, on a fresh store holding ``--series`` tasks that listen for events (``--on``): 90 % on a pattern of their
own first word (``svc17.*``), 10 % on one that starts with a wildcard (``*.deploy17``), which every event has to be
compared with. Each event matches at most one task. Measured: ``Inbox.emit`` (one transaction per event) and
``Inbox.emit_many`` (``--batch`` events per transaction), each with events that match no task, and with events that
each match one task (no host runs them here: after two are waiting per task the rest are coalesced, as they would
be while a run goes on). Events per second.

Latency, SQLite only: ``inbox serve`` (process runtime, the fake model provider in this process, its HTTP API on
loopback), one task listening on ``lat.*`` with a warm runner. Each of ``--latency`` events is emitted with
``POST /v1/events``; the figure is the run's ``started_at`` (the runner began the work) minus the time just before
the request was sent: p50 and p99. The last line is the headline.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import func
from sqlmodel import col, select

from bench.common import SERVE, exit_on_sigterm, host_env, open_store, percentile, stop_host, wait_for_log
from inbox import Inbox
from inbox.store.engine import transaction
from inbox.store.models import Run
from scripts.fake_provider.server import FakeProvider

GOAL_INGEST = 5_000.0  # events/s, SQLite, 1,000 listening tasks, batched
GOAL_P99_MS = 50.0  # emit to start, warm runner
WILDCARD_SHARE = 10  # one task in this many listens on a pattern starting with a wildcard
TOKEN = "bench-events-token"
SETTLE_S = 0.05  # after a run ended, let the runner report and wait again before the next event
RUN_TIMEOUT_S = 30.0


def listen(inbox: Inbox, count: int) -> None:
    for i in range(count):
        pattern = f"*.deploy{i}" if i % WILDCARD_SHARE == 0 else f"svc{i}.*"
        inbox.schedule(f"task {i}", on=[pattern])


def names(count: int, series: int, matching: bool) -> list[str]:
    """Event names: each matching one task (round robin over the tasks), or none."""
    if not matching:
        return [f"unheard{i % 50}.event" for i in range(count)]
    out = []
    for i in range(count):
        k = i % series
        out.append(f"web.deploy{k}" if k % WILDCARD_SHARE == 0 else f"svc{k}.event")
    return out


def rate(label: str, count: int, action: Callable[[], None]) -> float:
    began = time.perf_counter()
    action()
    elapsed = time.perf_counter() - began
    print(f"{label}: {count} events in {elapsed:.3f} s, {count / elapsed:.0f}/s")
    return count / elapsed


def measure_ingest(inbox: Inbox, events: int, batch: int, series: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    single = max(1, events // 10)  # one transaction each is slow: a tenth of the events is enough to measure
    for matching in (False, True):
        kind = "one match" if matching else "no match"
        some, every = names(single, series, matching), names(events, series, matching)

        def one_each(some: list[str] = some) -> None:
            for name in some:
                inbox.emit(name, {"n": 1})

        def batched(every: list[str] = every) -> None:
            for start in range(0, len(every), batch):
                inbox.emit_many([{"name": n, "data": {"n": 1}} for n in every[start : start + batch]])

        figures[f"single, {kind}"] = rate(f"single, {kind}", single, one_each)
        figures[f"batched, {kind}"] = rate(f"batched ({batch} per call), {kind}", events, batched)
    return figures


def measure_latency(count: int, workdir: Path) -> list[float]:
    """Milliseconds from just before each ``POST /v1/events`` to its run's start, warm runner, SQLite."""
    home, log_path = workdir / "latency", workdir / "serve.log"
    with FakeProvider() as fake:
        env = host_env(
            home,
            OPENAI_BASE_URL=fake.openai_base_url,
            OPENAI_API_KEY="x",
            INBOX_MODEL="fake-model",
            INBOX_API_TOKEN=TOKEN,
            INBOX_SWEEP_INTERVAL="60",
        )
        inbox = Inbox(env=env)  # creates and migrates the store before the host opens it
        task = inbox.schedule("Reply with ok.", on=["lat.*"])
        with open(log_path, "wb") as log:
            host = subprocess.Popen([*SERVE, "--listen", "127.0.0.1:0"], env=env, stdout=log, stderr=log)
        sent: list[float] = []
        try:
            wait_for_log(log_path, "listening on http://", host)
            url = re.findall(r"listening on (http://[\d.]+:\d+)", log_path.read_text())[0]
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
                for i in range(count + 1):  # the first starts the runner (cold) and is not counted
                    began = time.time()
                    answer = http.post("/v1/events", json={"name": f"lat.n{i}"}).json()
                    if answer.get("matched") != [task.series_id]:
                        raise RuntimeError(f"event {i}: {answer}")
                    sent.append(began)
                    _wait_for_runs(inbox, task.series_id, i + 1, host)
                    time.sleep(SETTLE_S)
        finally:
            stop_host(host)
        with transaction(inbox.engine) as db:
            runs = list(db.exec(select(Run).where(Run.series_id == task.series_id).order_by(col(Run.id))).all())
        inbox.close()
    starts = [run.started_at.timestamp() for run in runs]
    return sorted((start - began) * 1000 for start, began in list(zip(starts, sent, strict=True))[1:])


def _wait_for_runs(inbox: Inbox, series_id: str, count: int, host: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    query = select(func.count()).select_from(Run).where(Run.series_id == series_id)
    while True:
        with transaction(inbox.engine) as db:
            if int(db.exec(query).one()) >= count:
                return
        if host.poll() is not None:
            raise RuntimeError(f"inbox serve exited with {host.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {count} of {series_id} did not end within {RUN_TIMEOUT_S:g} s")
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per batched measurement (default 20000)")
    parser.add_argument("--batch", type=int, default=1_000, help="events per Inbox.emit_many call (default 1000)")
    parser.add_argument("--series", type=int, default=1_000, help="tasks listening for events (default 1000)")
    parser.add_argument("--latency", type=int, default=200, help="events timed to their run's start (0: skip)")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite", help="store backend of the ingest")
    args = parser.parse_args(argv)
    if min(args.events, args.batch, args.series) < 1 or args.latency < 0:
        parser.error("--events, --batch and --series must be at least 1, --latency at least 0")
    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="inbox-bench-events-"))
    print(f"events: {args.series} listening tasks, {args.db}; INBOX_HOME={workdir}")
    try:
        with open_store(args.db, workdir / "ingest") as inbox:
            listen(inbox, args.series)
            inbox.emit("warm.up")  # the first transaction pays for connecting and compiling
            figures = measure_ingest(inbox, args.events, args.batch, args.series)
        latency = measure_latency(args.latency, workdir) if args.latency else []
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ingest = figures["batched, one match"]
    parts = [f"ingest batched {ingest:.0f}/s (goal {GOAL_INGEST:.0f}; no match {figures['batched, no match']:.0f}/s)"]
    parts.append(f"single {figures['single, one match']:.0f}/s ({figures['single, no match']:.0f}/s no match)")
    missed = ["ingest"] if ingest < GOAL_INGEST else []
    if latency:
        p50, p99 = percentile(latency, 50), percentile(latency, 99)
        parts.append(f"emit to start p50={p50:.1f}ms p99={p99:.1f}ms (goal p99<={GOAL_P99_MS:.0f}ms, n={len(latency)})")
        missed += ["latency"] if p99 > GOAL_P99_MS else []
    tail = f" | MISSED: {', '.join(missed)}" if missed else ""
    print(f"events ({args.db}): {' | '.join(parts)}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
