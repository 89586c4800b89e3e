"""Dispatch benchmark: how fast the host claims, runs and ends due no-op messages.

``python -m bench.dispatch [--messages 50000] [--db sqlite|postgres] [--peer/--no-peer]`` inserts N due one-shot
reminders (no script) into a fresh store, untimed, then times ``sweeper.sweep.sweep_once`` until a pass delivers
nothing: each reminder is claimed, its text posted to the outbox and its occurrence ended, 500 per transaction.
The peer, APScheduler 3.x with its SQLAlchemy job store on a SQLite file, runs N already-due ``date`` jobs that
only count. The last line printed is the headline. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlmodel import col

from bench.common import open_store
from inbox.enums import CatchUp, Kind, Outcome, Status
from inbox.ids import new_id
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, MessageOut, Run
from sweeper.sweep import sweep_once

GOAL_RATE = 10_000.0
GOAL_RATIO = 35.0
INSERT_CHUNK = 5_000
PEER_TIMEOUT_S = 600.0

# The peer's job is stored by reference ("bench.dispatch:peer_tick"), so it must live in an importable module.
_peer_lock = threading.Lock()
_peer_done = threading.Event()
_peer_state = {"count": 0, "target": 0}


def peer_tick() -> None:
    """A no-op peer job that only counts its runs."""
    with _peer_lock:
        _peer_state["count"] += 1
        if _peer_state["count"] >= _peer_state["target"]:
            _peer_done.set()


def reminder_row(index: int, due: datetime, now: datetime) -> dict[str, Any]:
    """The columns ``create_task`` sets for a one-shot ``remind=True`` task (plus the model's defaults)."""
    row_id = new_id()
    return {
        "id": row_id,
        "series_id": row_id,
        "session": "main",
        "kind": Kind.TASK.value,
        "content": {"text": f"reminder {index}"},
        "status": Status.PENDING.value,
        "process_after": due,
        "occurrence_at": due,
        "recurrence": None,
        "timezone": "UTC",
        "name": None,
        "catch_up": CatchUp.ONCE.value,
        "max_runs": None,
        "timeout_s": None,
        "retries": 3,
        "context": None,
        "remind": True,
        "created_by": "user",
        "created_at": now,
        "updated_at": now,
        "occurrence_no": 1,
        "is_extra": False,
        "tries": 0,
        "consecutive_failures": 0,
    }


def insert_due_reminders(engine: Engine, count: int) -> None:
    """``count`` one-shot reminders due a minute ago, by Core bulk insert (the setup, not timed)."""
    now = datetime.now(UTC)
    due = now - timedelta(minutes=1)
    table = MessageIn.__table__  # type: ignore[attr-defined]
    for start in range(0, count, INSERT_CHUNK):
        rows = [reminder_row(i, due, now) for i in range(start, min(start + INSERT_CHUNK, count))]
        with engine.begin() as conn:
            conn.execute(insert(table), rows)


def verify(engine: Engine) -> tuple[int, int, int, int]:
    """(outbox rows, completed runs, completed reminders, rows still live) after the timed passes."""
    with transaction(engine) as db:
        outbox = db.execute(select(func.count()).select_from(MessageOut)).scalar_one()
        runs = db.execute(select(func.count()).where(col(Run.outcome) == Outcome.COMPLETED.value)).scalar_one()
        done = db.execute(select(func.count()).where(col(MessageIn.status) == Status.COMPLETED.value)).scalar_one()
        live_query = select(func.count()).where(col(MessageIn.status).in_([s.value for s in Status if s.is_live]))
        live = db.execute(live_query).scalar_one()
    return int(outbox), int(runs), int(done), int(live)


def measure_inbox(messages: int, db: str, home: Path) -> tuple[float, bool]:
    with open_store(db, home) as inbox:
        began = time.perf_counter()
        insert_due_reminders(inbox.engine, messages)
        print(f"inbox: inserted {messages} due reminders in {time.perf_counter() - began:.2f} s (untimed)")
        passes, delivered = 0, 0
        began = time.perf_counter()
        while True:
            report = sweep_once(inbox.engine, now=datetime.now(UTC))
            passes += 1
            delivered += report.delivered
            if report.delivered == 0:
                break
        elapsed = time.perf_counter() - began
        outbox, runs, done, live = verify(inbox.engine)
    ok = outbox == runs == done == delivered == messages and live == 0
    print(f"inbox: {passes} passes delivered {delivered} in {elapsed:.3f} s")
    print(
        f"inbox: verify outbox={outbox} completed_runs={runs} completed_rows={done} live_left={live} "
        f"-> {'OK' if ok else 'MISMATCH'}"
    )
    return messages / elapsed, ok


def measure_apscheduler(messages: int, workdir: Path) -> float | None:
    try:
        background = importlib.import_module("apscheduler.schedulers.background")
        stores = importlib.import_module("apscheduler.jobstores.sqlalchemy")
        version = importlib.import_module("apscheduler").__version__
    except ImportError:
        print("peer: APScheduler not installed (pip install 'apscheduler<4')")
        return None
    url = f"sqlite:///{workdir / 'apscheduler.db'}"
    options: dict[str, Any] = {"timezone": "UTC", "job_defaults": {"misfire_grace_time": None, "coalesce": False}}
    # Jobs are added to a started but paused scheduler, so each is stored and due before the clock starts;
    # resume() is then what start() would be with the jobs already in the store.
    scheduler = background.BackgroundScheduler(jobstores={"default": stores.SQLAlchemyJobStore(url=url)}, **options)
    scheduler.start(paused=True)
    due = datetime.now(UTC) - timedelta(seconds=1)
    began = time.perf_counter()
    for i in range(messages):
        scheduler.add_job("bench.dispatch:peer_tick", "date", run_date=due, id=f"d{i}")
    added = time.perf_counter() - began
    print(f"APScheduler {version}: added {messages} due date jobs in {added:.2f} s ({messages / added:.0f} jobs/s)")
    _peer_state.update(count=0, target=messages)
    _peer_done.clear()
    began = time.perf_counter()
    scheduler.resume()
    finished = _peer_done.wait(PEER_TIMEOUT_S)
    elapsed = time.perf_counter() - began
    scheduler.shutdown(wait=True)
    count = _peer_state["count"]
    print(f"APScheduler: {count} of {messages} jobs ran in {elapsed:.3f} s{'' if finished else ' (timed out)'}")
    return count / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000, help="due no-op messages (default 50000)")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite", help="store backend")
    parser.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True, help="also run APScheduler")
    parser.add_argument("--peer-messages", type=int, help="jobs for the peer (default: --messages)")
    args = parser.parse_args(argv)
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    workdir = Path(tempfile.mkdtemp(prefix="inbox-bench-"))
    where = "SQLite" if args.db == "sqlite" else "PostgreSQL 127.0.0.1:5432/test, own schema"
    print(f"dispatch: {args.messages} due reminders, host sweep_once, {where}; INBOX_HOME={workdir}")
    peer: float | None = None
    try:
        ours, ok = measure_inbox(args.messages, args.db, workdir)
        if args.peer and args.db == "sqlite":
            # Import this file as bench.dispatch (not __main__), the module the peer's stored job refers to.
            module = importlib.import_module("bench.dispatch")
            peer = module.measure_apscheduler(args.peer_messages or args.messages, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    line = f"dispatch ({args.db}): inbox {ours:.0f} msg/s"
    goals = f"goals >= {GOAL_RATE:.0f} msg/s{'' if ours >= GOAL_RATE else ' MISSED'}"
    if peer:
        line += f" | APScheduler {peer:.0f} msg/s | ratio {ours / peer:.1f}x"
        goals += f", >= {GOAL_RATIO:g}x{'' if ours / peer >= GOAL_RATIO else ' MISSED'}"
    line += f" ({goals})"
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
