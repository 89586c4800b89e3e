"""PostgreSQL hosts benchmark: 1 or 2 real ``inbox serve`` processes on one database, fed a constant backlog.

``python -m bench.pg_hosts [--hosts 1|2] [--minutes 0.5] [--backlog 20000]`` makes a fresh PostgreSQL schema and
starts the hosts on it (process runtime, each with its own ``INBOX_HOME``). The bench process then feeds due no-op
messages (one-shot reminders, which the hosts end themselves) by multi-row inserts, topping the due backlog up to
``--backlog`` whenever it falls below, for ``--minutes``. Throughput is the rows completed over that window (the
store's count at its start and end); each host's share comes from its own log (``sweep: … reminders delivered``,
one line per pass). Then feeding stops, the hosts drain the backlog and stop, and the store is checked: a
duplicate is a message with more than one outbox row or completed run, a loss a message that never ended.
The last line printed is the headline; it exits 1 on any duplicate or loss. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlmodel import col

from bench.common import (
    exit_on_sigterm,
    host_env,
    insert_rows,
    message_row,
    pg_schema,
    start_host,
    stop_host,
    wait_for_log,
)
from inbox import Inbox
from inbox.enums import Kind, Status
from inbox.store.engine import transaction
from inbox.store.models import MessageIn

GOAL_RATE = 3_000.0
FEED_BATCH = 1_000
PROGRESS_S = 30.0
DRAIN_TIMEOUT_S = 300.0
SERVING = "runners connect on"
PASS_LINE = re.compile(r"^(\S+ \S+) inbox\.sweeper sweep: \d+ recovered, (\d+) reminders delivered", re.MULTILINE)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    completed: int  # rows completed within it

    @property
    def rate(self) -> float:
        return self.completed / (self.end - self.start).total_seconds()


def count(engine: Engine, status: Status, *, due_by: datetime | None = None) -> int:
    with transaction(engine) as db:
        query = select(func.count()).where(col(MessageIn.status) == status.value)
        if due_by is not None:
            query = query.where(col(MessageIn.process_after) <= due_by)
        return int(db.execute(query).scalar_one())


def due_reminders(start: int, stop: int) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    return [
        message_row(kind=Kind.TASK, session=f"s{i % 10}", remind=True, process_after=now, content={"text": f"r{i}"})
        for i in range(start, stop)
    ]


def feed(engine: Engine, minutes: float, backlog: int) -> tuple[Window, int, int]:
    """Keep ``backlog`` due rows waiting for ``minutes``; returns the window, rows fed, and times it ran dry."""
    fed = dry = 0
    start = datetime.now(UTC)
    completed_at_start = count(engine, Status.COMPLETED)
    end = start + timedelta(minutes=minutes)
    next_progress = time.monotonic() + PROGRESS_S
    while (now := datetime.now(UTC)) < end:
        waiting = count(engine, Status.PENDING, due_by=now)
        if waiting == 0 and fed:
            dry += 1
        if waiting < backlog:
            top_up = min(backlog - waiting, 10 * FEED_BATCH)
            fed += insert_rows(engine, due_reminders(fed, fed + top_up), chunk=FEED_BATCH)
        else:
            time.sleep(0.05)
        if time.monotonic() >= next_progress:
            next_progress += PROGRESS_S
            done = count(engine, Status.COMPLETED) - completed_at_start
            print(f"  {(now - start).total_seconds():5.0f} s: fed {fed}, completed {done}, backlog {waiting}")
    end = datetime.now(UTC)
    return Window(start, end, count(engine, Status.COMPLETED) - completed_at_start), fed, dry


def delivered_by_log(log: str, window: Window) -> tuple[int, int]:
    """(reminders this host delivered in passes that ended within the window, in all its passes)."""
    within = total = 0
    for stamp, delivered in PASS_LINE.findall(log):
        ended = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC)  # the hosts log in UTC
        total += int(delivered)
        if window.start <= ended <= window.end:
            within += int(delivered)
    return within, total


def verify(engine: Engine) -> tuple[int, int, int, int]:
    """(messages fed, ended, duplicated, lost) once the hosts have drained."""
    twice = (
        "SELECT in_reply_to AS id FROM messages_out GROUP BY in_reply_to HAVING count(*) > 1"
        " UNION SELECT message_id FROM runs WHERE outcome = 'completed' GROUP BY message_id HAVING count(*) > 1"
    )
    once = (
        "SELECT count(*) FROM messages_in m JOIN (SELECT in_reply_to, count(*) AS n FROM messages_out"
        " GROUP BY in_reply_to) o ON o.in_reply_to = m.id WHERE m.status = 'completed' AND o.n = 1"
    )
    with transaction(engine) as db:
        fed = int(db.execute(text("SELECT count(*) FROM messages_in")).scalar_one())
        ended = int(db.execute(text("SELECT count(*) FROM messages_in WHERE status = 'completed'")).scalar_one())
        duplicated = int(db.execute(text(f"SELECT count(*) FROM ({twice}) AS d")).scalar_one())
        answered_once = int(db.execute(text(once)).scalar_one())
    return fed, ended, duplicated, fed - answered_once


def drain(engine: Engine, hosts: list[subprocess.Popen[bytes]]) -> bool:
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while count(engine, Status.PENDING) + count(engine, Status.RUNNING):
        if time.monotonic() > deadline or any(host.poll() is not None for host in hosts):
            return False
        time.sleep(0.5)
    time.sleep(1.0)  # a duplicate delivery, if any, has time to land
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pg_hosts", description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, choices=[1, 2], default=2, help="inbox serve processes (default 2)")
    parser.add_argument("--minutes", type=float, default=0.5, help="how long to feed (default 0.5)")
    parser.add_argument("--backlog", type=int, default=20_000, help="due rows kept waiting (default 20000)")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.backlog < 1:
        parser.error("--minutes must be greater than 0 and --backlog at least 1")
    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="inbox-bench-"))
    print(f"pg_hosts: {args.hosts} host(s), {args.minutes:g} min, backlog {args.backlog}; homes in {workdir}")
    with pg_schema() as url, Inbox(url, env={"INBOX_HOME": str(workdir)}) as inbox:  # made and migrated here
        homes = [workdir / f"host{n + 1}" for n in range(args.hosts)]
        hosts = [
            start_host(host_env(home, INBOX_DATABASE_URL=url), workdir / f"host{n + 1}.log")
            for n, home in enumerate(homes)
        ]
        try:
            for n, host in enumerate(hosts):
                wait_for_log(workdir / f"host{n + 1}.log", SERVING, host)
            window, fed, dry = feed(inbox.engine, args.minutes, args.backlog)
            drained = drain(inbox.engine, hosts)
        finally:
            codes = [stop_host(host) for host in hosts]
        fed_total, ended, duplicated, lost = verify(inbox.engine)
    logs = [(workdir / f"host{n + 1}.log").read_text(errors="replace") for n in range(args.hosts)]
    shares = [delivered_by_log(log, window) for log in logs]
    print(
        f"window {(window.end - window.start).total_seconds():.1f} s: fed {fed}, completed {window.completed}; "
        f"the backlog ran dry {dry} times"
    )
    for n, (within, total) in enumerate(shares):
        runners = logs[n].count("started runner")  # reminders need none: each one here is wasted work
        print(
            f"  host {n + 1}: {within} delivered in passes ending within the window, {total} in all; "
            f"{runners} runners started; exit {codes[n]}"
        )
    print(
        f"after the drain{'' if drained else ' (TIMED OUT)'}: {fed_total} messages, {ended} ended, "
        f"{duplicated} duplicated, {lost} not ended exactly once"
    )
    problems = [line for log in logs for line in log.splitlines() if "ERROR" in line or "Traceback" in line]
    for line in problems[:10]:
        print(f"host log: {line}")
    if not problems:
        shutil.rmtree(workdir, ignore_errors=True)
    in_logs = sum(within for within, _ in shares) or 1
    per_host = ", ".join(f"host {n + 1}: {window.rate * within / in_logs:.0f}" for n, (within, _) in enumerate(shares))
    verdict = "" if window.rate >= GOAL_RATE and duplicated == 0 else " MISSED"
    print(
        f"pg_hosts ({args.hosts} host{'s' if args.hosts > 1 else ''}, {args.minutes:g} min): {window.rate:.0f} msg/s "
        f"({per_host}) | {duplicated} duplicates, {lost} lost (goal with 2 hosts >= {GOAL_RATE:.0f} msg/s "
        f"and 0 duplicates{verdict})"
    )
    return 0 if duplicated == 0 and lost == 0 and drained else 1


if __name__ == "__main__":
    sys.exit(main())
