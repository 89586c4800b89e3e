"""Due-scan benchmark: what the queries of every sweep pass cost as the table of future work grows.

``python -m bench.due_scan [--sizes 10000,100000,1000000] [--repeat 200] [--db sqlite|postgres]`` fills a fresh
store with future pending rows (one-shot and recurring reminders, recurring prompt tasks, scheduled chat messages,
over 50 sessions and 30 days) by multi-row Core inserts, plus a few due chat messages waiting for a runner and a
few running rows with live leases. At each size it times, ``--repeat`` times each, in its own transaction as a
pass runs it: the reminder selects (inbox.store.reminders), the reminder claim (inbox.store.claims), the count
of waiting sessions, ``next_due``, ``reclaim_expired``, and a whole ``sweep_once`` with no reminder due. Then it
prints EXPLAIN QUERY PLAN (SQLite) or EXPLAIN (PostgreSQL) of every statement a pass runs and flags any that
scans ``messages_in``. The last line printed is the headline. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

from bench.common import insert_rows, message_row, open_store, percentile, timed_ms
from inbox.defaults import DEFAULT_MISFIRE_GRACE
from inbox.enums import Kind, Status
from inbox.store.claims import claim_due, reclaim_expired
from inbox.store.engine import transaction
from inbox.store.reminders import deliver_one_shot_reminders, deliver_recurring_reminders
from inbox.store.types import utcnow
from sweeper.sweep import HOST_OWNER, REMINDER_BATCH, _waiting_sessions, next_due, sweep_once

GOAL_MS = 1.0
FLAT_RATIO = 2.0  # "flat": the median at the largest size at most this many times the one at the smallest
SESSIONS = 50
DUE_CHATS = 5  # due rows for runners, not for the host: every pass sees them, none is delivered
RUNNING = 3  # rows running under a lease that has not expired
SPAN_S = 30 * 86_400  # the future rows are scattered over the next 30 days
SCAN = {"sqlite": re.compile(r"\bSCAN messages_in(_\d+)?\b"), "postgresql": re.compile(r"Seq Scan on messages_in")}


def future_rows(start: int, stop: int, now: datetime) -> Iterator[dict[str, Any]]:
    """Rows ``start``..``stop`` of the future work: four kinds in turn, due 1 h to 30 days from ``now``."""
    for i in range(start, stop):
        due = now + timedelta(hours=1, seconds=(i * 7919) % SPAN_S)
        session = f"s{i % SESSIONS}"
        kind = i % 4
        if kind == 0:  # a one-shot reminder
            yield message_row(kind=Kind.TASK, process_after=due, session=session, remind=True, content={"text": "r"})
        elif kind == 1:  # a recurring reminder
            yield message_row(
                kind=Kind.TASK, process_after=due, session=session, remind=True, recurrence="every 1h", content={}
            )
        elif kind == 2:  # a recurring prompt task for the agent
            yield message_row(kind=Kind.TASK, process_after=due, session=session, recurrence="cron 0 9 * * *")
        else:  # a chat message sent with --at
            yield message_row(kind=Kind.CHAT, process_after=due, session=session, series=False)


def present_rows(now: datetime) -> list[dict[str, Any]]:
    """What makes a pass do real lookups: due chat messages for runners, and running rows under live leases."""
    rows = [
        message_row(kind=Kind.CHAT, process_after=now - timedelta(minutes=1), session=f"s{i}", series=False)
        for i in range(DUE_CHATS)
    ]
    rows += [
        message_row(
            kind=Kind.TASK,
            status=Status.RUNNING,
            process_after=now - timedelta(minutes=1),
            session=f"s{i}",
            lease_owner="runner-bench",
            lease_expires_at=now + timedelta(days=1),
        )
        for i in range(RUNNING)
    ]
    return rows


def _in_transaction(engine: Engine, work: Callable[[Any], object]) -> Callable[[], object]:
    def run() -> object:
        with transaction(engine) as db:
            return work(db)

    return run


def operations(engine: Engine) -> dict[str, Callable[[], object]]:
    """What a pass runs, each as the pass runs it (own transaction, ``now`` taken fresh)."""
    return {
        "one-shot reminder ending (bulk)": _in_transaction(
            engine, lambda db: deliver_one_shot_reminders(db, now=utcnow(), limit=REMINDER_BATCH, runner=HOST_OWNER)
        ),
        "recurring reminder select (fanout)": _in_transaction(
            engine,
            lambda db: deliver_recurring_reminders(
                db, now=utcnow(), limit=REMINDER_BATCH, runner=HOST_OWNER, grace=DEFAULT_MISFIRE_GRACE
            ),
        ),
        "reminder claim (claims.claim_due)": _in_transaction(
            engine,
            lambda db: claim_due(db, owner=HOST_OWNER, now=utcnow(), limit=REMINDER_BATCH, work="reminders"),
        ),
        "waiting sessions": _in_transaction(engine, lambda db: _waiting_sessions(db, utcnow())),
        "next_due": lambda: next_due(engine, after=utcnow()),
        "reclaim_expired": _in_transaction(engine, lambda db: reclaim_expired(db, now=utcnow())),
        "sweep_once (nothing due for the host)": lambda: sweep_once(engine, now=utcnow()),
    }


def check_pass(engine: Engine) -> list[str]:
    """The pass must deliver nothing, recover nothing, and see exactly the due chat messages."""
    report = sweep_once(engine, now=utcnow())
    expected = {f"s{i}": 1 for i in range(DUE_CHATS)}
    problems = []
    if report.delivered or report.recovered:
        problems.append(f"the pass delivered {report.delivered} and recovered {report.recovered} (expected 0)")
    if report.waiting_sessions != expected:
        problems.append(f"waiting sessions {report.waiting_sessions}, expected {expected}")
    return problems


def statements_of_a_pass(engine: Engine) -> list[tuple[str, Any]]:
    """Every query a pass and the loop's ``next_due`` send to the database, with their parameters: each SELECT, and
    each UPDATE, since the one-shot reminders' ending chooses its rows itself (``UPDATE … WHERE id IN (SELECT …)``)."""
    seen: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")) and statement not in [s for s, _ in seen]:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        sweep_once(engine, now=utcnow())
        next_due(engine, after=utcnow())
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return seen


def query_plans(engine: Engine) -> list[tuple[str, list[str]]]:
    """(statement, plan lines) for each statement of a pass."""
    dialect = engine.dialect.name
    explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    plans = []
    for statement, parameters in statements_of_a_pass(engine):
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(explain + statement, parameters).all()
            conn.rollback()
        lines = [f"{row[0]}/{row[1]} {row[3]}" for row in rows] if dialect == "sqlite" else [row[0] for row in rows]
        plans.append((statement, lines))
    return plans


def scanning(engine: Engine, plans: list[tuple[str, list[str]]]) -> list[str]:
    pattern = SCAN[engine.dialect.name]
    return [statement for statement, lines in plans if any(pattern.search(line) for line in lines)]


def measure(db: str, sizes: list[int], repeat: int, home: Path) -> tuple[dict[int, dict[str, list[float]]], bool]:
    results: dict[int, dict[str, list[float]]] = {}
    ok = True
    with open_store(db, home) as inbox:
        engine = inbox.engine
        now = utcnow()
        insert_rows(engine, present_rows(now))
        filled = 0
        for size in sizes:
            began = utcnow()
            filled += insert_rows(engine, future_rows(filled, size, now))
            if db == "postgres":
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE messages_in"))  # what autovacuum does after a bulk load
            print(f"\n{size} future rows (+{DUE_CHATS + RUNNING} present), filled in {utcnow() - began}")
            problems = check_pass(engine)
            for problem in problems:
                print(f"  PROBLEM: {problem}")
            ok = ok and not problems
            results[size] = {}
            for name, action in operations(engine).items():
                action()  # the first call pays for compiling the statement
                times = results[size][name] = timed_ms(action, repeat)
                print(f"  {name:<40} p50 {percentile(times, 50):7.3f} ms   p99 {percentile(times, 99):7.3f} ms")
            plans = query_plans(engine)
            scans = scanning(engine, plans)
            print(f"  plans: {len(plans)} statements, {len(scans)} scanning messages_in")
            if size == sizes[-1] or scans:
                for statement, lines in plans:
                    flag = "SCANS THE TABLE: " if statement in scans else ""
                    print(f"\n  {flag}{' '.join(statement.split())[:300]}")
                    for line in lines:
                        print(f"    {line}")
    return results, ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.due_scan", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="future rows, ascending, comma-separated")
    parser.add_argument("--repeat", type=int, default=200, help="timings per query and size (default 200)")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite", help="store backend")
    args = parser.parse_args(argv)
    try:
        sizes = [int(part) for part in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes: {args.sizes!r} is not a comma-separated list of whole numbers")
    if not sizes or sizes != sorted(sizes) or sizes[0] < 1 or args.repeat < 1:
        parser.error("--sizes must be ascending and at least 1, --repeat at least 1")
    workdir = Path(tempfile.mkdtemp(prefix="inbox-bench-"))
    print(f"due-scan: sizes {sizes}, {args.repeat} timings each, {args.db}; INBOX_HOME={workdir}")
    try:
        results, ok = measure(args.db, sizes, args.repeat, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    largest, smallest = results[sizes[-1]], results[sizes[0]]
    queries = [name for name in largest if not name.startswith("sweep_once")]
    worst = max(queries, key=lambda name: percentile(largest[name], 50))
    slow = [name for name in queries if percentile(largest[name], 50) > GOAL_MS]
    steep = [name for name in largest if percentile(largest[name], 50) > FLAT_RATIO * percentile(smallest[name], 50)]
    sweep = largest["sweep_once (nothing due for the host)"]
    missed = (" MISSED: over 1 ms: " + ", ".join(slow) if slow else "") + (
        " MISSED: not flat: " + ", ".join(steep) if steep else ""
    )
    print(
        f"due-scan ({args.db}): at {sizes[-1]} rows slowest query {worst} p50={percentile(largest[worst], 50):.3f}ms "
        f"p99={percentile(largest[worst], 99):.3f}ms | sweep_once p50={percentile(sweep, 50):.3f}ms "
        f"p99={percentile(sweep, 99):.3f}ms (goal flat, each query <= {GOAL_MS:g} ms{missed})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
