"""Claim cost with limits and priorities: what one claim costs with 10 limited tags and 100,000 due rows.

``python -m bench.claims [--rows 100000] [--repeat 200] [--db sqlite|postgres]`` fills a fresh store with due
one-shot task rows (for runners) over 50 sessions and 5 priorities (-2..2), due over the last two hours: a tenth
of them carry no tag, the rest one of 10 tags, each with a limit (``--max-running 5``, and a rate of 1000/1m on
half of them). It times a runner's claim of 10 rows (``claim_due``, in a transaction rolled back after it, so
every repetition sees the same store) in two states: every limit full (5 rows of each tag running: 90% of the
backlog waits on them), and every limit with room (none running). Then a whole sweep pass (``sweep_once``) with
the limits full. The last line printed is the headline. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, update
from sqlmodel import Session

from bench.common import insert_rows, message_row, open_store, percentile, timed_ms
from inbox.enums import Kind, Status
from inbox.store.claims import claim_due
from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from inbox.store.tag_tables import TagLimit, TaskTag
from inbox.store.types import utcnow
from sweeper.sweep import sweep_once

GOAL_MS = 10.0
TAGS = [f"t{i}" for i in range(10)]
MAX_RUNNING = 5
SESSIONS = 50


def due_rows(count: int, now: datetime) -> Iterator[dict[str, Any]]:
    pick = random.Random(7)
    for i in range(count):
        tag = None if i % 10 == 0 else TAGS[i % 10]
        yield message_row(
            kind=Kind.TASK,
            process_after=now - timedelta(seconds=pick.uniform(60, 7200)),
            session=f"s{i % SESSIONS}",
            content={"text": f"job {i}"},
            tags=[tag] if tag else None,
            gate=tag or "",
            priority=pick.randint(-2, 2),
        )


def fill(engine: Engine, rows: int) -> None:
    now = utcnow()
    insert_rows(engine, due_rows(rows, now))
    with transaction(engine) as db:
        tagged = db.execute(MessageIn.__table__.select().where(MessageIn.__table__.c.gate != "")).mappings()  # type: ignore[attr-defined]
        db.execute(insert(TaskTag.__table__), [{"series_id": r["series_id"], "tag": r["gate"]} for r in tagged])  # type: ignore[attr-defined]
        for index, tag in enumerate(TAGS):
            rate = (1000, 60.0) if index % 2 == 0 else (None, None)
            db.add(TagLimit(tag=tag, max_running=MAX_RUNNING, rate_count=rate[0], rate_seconds=rate[1], created_at=now))


def set_running(engine: Engine, full: bool) -> None:
    """Every limit full (``MAX_RUNNING`` rows of each tag running under a live lease), or none running."""
    table = MessageIn.__table__  # type: ignore[attr-defined]
    with transaction(engine) as db:
        db.execute(update(table).where(table.c.status == Status.RUNNING.value).values(status=Status.PENDING.value))
        if not full:
            return
        for tag in TAGS:
            ids = db.execute(
                table.select().with_only_columns(table.c.id).where(table.c.gate == tag).limit(MAX_RUNNING)
            ).scalars()
            db.execute(
                update(table)
                .where(table.c.id.in_(list(ids)))
                .values(
                    status=Status.RUNNING.value,
                    lease_owner="bench/other",
                    lease_expires_at=utcnow() + timedelta(days=1),
                )
            )


def rolled_back_claim(engine: Engine, expect: int) -> Callable[[], object]:
    def run() -> object:
        with Session(engine, expire_on_commit=False) as db:
            began = db.begin()
            db.connection()
            claimed = claim_due(db, owner="bench/runner", now=utcnow(), clock=utcnow, limit=10)
            began.rollback()
        if len(claimed) != expect:
            sys.exit(f"a claim took {len(claimed)} rows, expected {expect}")
        return claimed

    return run


def summary(label: str, times: list[float]) -> str:
    return f"{label}: p50 {percentile(times, 50):.2f} ms, p95 {percentile(times, 95):.2f} ms, max {times[-1]:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="inbox-bench-claims-"))
    try:
        with open_store(args.db, home) as inbox:
            engine = inbox.engine
            fill(engine, args.rows)
            if args.db == "postgres":
                with engine.begin() as conn:  # committed: rolled back, the statistics are gone again
                    conn.exec_driver_sql("ANALYZE")  # what autovacuum does after a bulk load
            set_running(engine, full=True)
            full = timed_ms(rolled_back_claim(engine, 10), args.repeat)
            print(summary("claim of 10, every limit full", full))
            set_running(engine, full=False)
            room = timed_ms(rolled_back_claim(engine, 10), args.repeat)
            print(summary("claim of 10, every limit with room", room))
            set_running(engine, full=True)
            passes = timed_ms(lambda: sweep_once(engine, now=utcnow()), max(args.repeat // 10, 5))
            print(summary("sweep pass, every limit full", passes))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    worst = max(percentile(full, 95), percentile(room, 95))
    met = "met" if worst <= GOAL_MS else "MISSED"
    print(
        f"claims ({args.db}, {args.rows} due rows, {len(TAGS)} limited tags): claim p95 {worst:.2f} ms "
        f"(goal <= {GOAL_MS:.0f} ms {met}); sweep pass p50 {percentile(passes, 50):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
