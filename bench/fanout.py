"""Fanout benchmark: N recurring reminder series due in the same slot, until every series' next row exists.

``python -m bench.fanout [--series 10000] [--every 1h | --cron EXPR] [--db sqlite|postgres]`` inserts N recurring
reminders (first occurrences, by multi-row Core insert) all standing for one slot a few seconds ahead (``--cron``:
the expression's next fire time), then runs the host's own loop (``sweeper.loop.run_loop``, 60 s interval) in a
thread. The loop sleeps until the slot, and its passes deliver every reminder and write every follow-up. The time
is taken from the slot to the end of the pass that ended the last of them. Then it checks that every series has
exactly one live row, pending, for the right next slot, and one outbox row and one completed run for the slot;
it exits 1 otherwise. The last line printed is the headline. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlmodel import col

from bench.common import insert_rows, message_row, open_store
from inbox.enums import Kind, Outcome, Status
from inbox.schedules import from_recurrence
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, MessageOut, Run
from sweeper.loop import run_loop
from sweeper.sweep import PassReport

GOAL_S = 2.0
LEAD_S = 5.0  # the slot is at least this far ahead of the start, so the rows are in before it comes
TIMEOUT_S = 600.0
UTC_ZONE = ZoneInfo("UTC")


def first_slot(recurrence: str, lead_s: float) -> datetime:
    """The slot all series stand for: the next whole second after the lead, or the cron's next fire after it."""
    earliest = datetime.now(UTC) + timedelta(seconds=lead_s)
    if recurrence.startswith("cron "):
        return from_recurrence(recurrence).next_after(earliest, UTC_ZONE)
    return datetime.fromtimestamp(math.ceil(earliest.timestamp()), UTC)


def insert_series(engine: Engine, count: int, recurrence: str, slot: datetime) -> list[str]:
    rows = [
        message_row(
            kind=Kind.TASK,
            session=f"s{i % 20}",
            remind=True,
            recurrence=recurrence,
            process_after=slot,
            content={"text": f"fanout reminder {i}"},
        )
        for i in range(count)
    ]
    insert_rows(engine, rows)
    return [row["id"] for row in rows]


class Passes:
    """What the loop's passes delivered, and when each ended (epoch seconds)."""

    def __init__(self, target: int, stop: threading.Event) -> None:
        self.target = target
        self.stop = stop
        self.delivered = 0
        self.ends: list[tuple[float, int]] = []

    def __call__(self, report: PassReport) -> None:
        if report.delivered:
            self.delivered += report.delivered
            self.ends.append((time.time(), report.delivered))
        if self.delivered >= self.target:
            self.stop.set()


def run_host_loop(engine: Engine, count: int, slot: datetime) -> Passes:
    stop = threading.Event()
    passes = Passes(count, stop)
    loop = threading.Thread(
        target=run_loop, args=(engine,), kwargs={"interval_s": 60.0, "stop": stop, "on_pass": passes}, daemon=True
    )
    loop.start()
    deadline = slot.timestamp() + TIMEOUT_S
    while not stop.wait(0.5) and time.time() < deadline:
        pass
    stop.set()
    loop.join(timeout=120)
    return passes


def verify(engine: Engine, ids: list[str], expected: datetime) -> list[str]:
    """Problems found: each series must have one live row, pending, for ``expected``; one outbox row; one run."""
    problems: list[str] = []
    live_statuses = [s.value for s in Status if s.is_live]
    with transaction(engine) as db:
        live = db.execute(
            select(
                col(MessageIn.series_id),
                col(MessageIn.status),
                col(MessageIn.occurrence_at),
                col(MessageIn.process_after),
            ).where(col(MessageIn.status).in_(live_statuses))
        ).all()
        ended = db.execute(
            select(func.count()).where(col(MessageIn.id).in_(ids), col(MessageIn.status) == Status.COMPLETED.value)
        ).scalar_one()
        outbox = db.execute(
            select(col(MessageOut.in_reply_to), func.count()).group_by(col(MessageOut.in_reply_to))
        ).all()
        runs = db.execute(
            select(col(Run.message_id), func.count())
            .where(col(Run.outcome) == Outcome.COMPLETED.value)
            .group_by(col(Run.message_id))
        ).all()
    by_series: dict[str, list[tuple[str, datetime | None, datetime]]] = {}
    for series_id, status, occurrence_at, process_after in live:
        by_series.setdefault(series_id, []).append((status, occurrence_at, process_after))
    right = sum(
        1 for rows in by_series.values() if len(rows) == 1 and rows[0] == (Status.PENDING.value, expected, expected)
    )
    if right != len(ids) or len(by_series) != len(ids):
        wrong = [f"{sid}: {rows}" for sid, rows in by_series.items() if rows != [("pending", expected, expected)]]
        problems.append(
            f"{right} of {len(ids)} series have exactly one pending next row for {expected.isoformat()} "
            f"({len(by_series)} series with live rows); e.g. {wrong[:3]}"
        )
    if ended != len(ids):
        problems.append(f"{ended} of {len(ids)} first occurrences completed")
    once = {message_id for message_id, count in outbox if count == 1}
    if len(once) != len(ids) or len(outbox) != len(ids):
        problems.append(f"outbox: {len(outbox)} messages answered, {len(once)} exactly once (expected {len(ids)})")
    if len(runs) != len(ids) or any(count != 1 for _, count in runs):
        problems.append(f"completed runs for {len(runs)} occurrences, some more than once: {runs[:3]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000, help="recurring reminder series (default 10000)")
    schedule = parser.add_mutually_exclusive_group()
    schedule.add_argument("--every", default="1h", help="their interval (default 1h)")
    schedule.add_argument("--cron", help="a cron expression instead; the slot is its next fire time")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite", help="store backend")
    args = parser.parse_args(argv)
    if args.series < 1:
        parser.error("--series must be at least 1")
    recurrence = f"cron {args.cron}" if args.cron else f"every {args.every}"
    from_recurrence(recurrence)  # an invalid schedule stops here, before anything is written
    workdir = Path(tempfile.mkdtemp(prefix="inbox-bench-"))
    try:
        with open_store(args.db, workdir) as inbox:
            slot = first_slot(recurrence, LEAD_S)
            expected = from_recurrence(recurrence).next_after(slot, UTC_ZONE)
            print(f"fanout: {args.series} series '{recurrence}', all due at {slot.isoformat()}, {args.db}")
            began = time.perf_counter()
            ids = insert_series(inbox.engine, args.series, recurrence, slot)
            left = slot.timestamp() - time.time()
            print(f"inserted in {time.perf_counter() - began:.2f} s (untimed); the slot is {left:.1f} s away")
            if slot.timestamp() <= time.time():
                print("the slot passed while inserting: raise the lead or lower --series")
                return 1
            passes = run_host_loop(inbox.engine, args.series, slot)
            for ended_at, delivered in passes.ends:
                print(f"  pass ended {ended_at - slot.timestamp():7.3f} s after the slot: {delivered} delivered")
            problems = verify(inbox.engine, ids, expected)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    elapsed = passes.ends[-1][0] - slot.timestamp() if passes.ends else math.inf
    verdict = "" if elapsed <= GOAL_S else " MISSED"
    print(
        f"fanout ({args.db}): {args.series} series' next rows written {elapsed:.2f} s after the slot "
        f"(goal <= {GOAL_S:g} s{verdict}) | verify {'OK' if not problems else 'FAILED'}"
    )
    return 1 if problems or passes.delivered < args.series else 0


if __name__ == "__main__":
    sys.exit(main())
