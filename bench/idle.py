"""Idle benchmark: what a host with nothing to do costs, in CPU time and in database writes.

``python -m bench.idle [--db sqlite|postgres] [--series 1000] [--minutes 10] [--baseline-minutes 1]`` fills a fresh
store with N series none of which is due for an hour (daily crons two hours on, intervals of 3 h to 1 d, half of
them reminders), starts a real ``inbox serve`` on it with the defaults a user gets (a pass every 60 s), lets it
settle, and measures over the window:

- CPU: ``utime + stime`` of the host and every process under it, from ``/proc/PID/stat``, as a share of one core;
- writes: on SQLite, the database and WAL files' sizes, mtimes and contents; on PostgreSQL, the store gets a
  database of its own on the server (dropped afterwards) and its ``pg_stat_database`` counters are read from the
  server's ``postgres`` database: rows inserted, updated and deleted, and transactions committed. A transaction that
  only reads counts as a commit too, so a baseline window with no host running is measured first.

Goals: at most 0.5 % of one core, and no database writes. The last line printed is the headline; exit status 1
when the host wrote to the database (a wrong result, as a lost message is for the other benches). See
docs/benchmarks.md ("Idle").
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import exit_on_sigterm, host_env, pg_base, start_host, stop_host, wait_for_log
from inbox import Inbox
from inbox.store.types import utcnow

GOAL_CPU_PERCENT = 0.5
SERVING = "runners connect on"
WARMUP_S = 75.0  # the first passes and chores, statistics after the inserts, and a quiet minute (sweeper.loop)
TICKS = os.sysconf("SC_CLK_TCK")
STATS = ("xact_commit", "tup_inserted", "tup_updated", "tup_deleted")


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) of ``root`` and every live process under it, with their reaped children's."""
    total = 0
    for pid in _descendants(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / TICKS


def _file_state(path: Path) -> tuple[int, int, str] | None:
    if not path.exists():
        return None
    info = path.stat()
    return info.st_size, info.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def sqlite_state(db: Path) -> dict[str, tuple[int, int, str] | None]:
    """Size, mtime and content digest of the database and its WAL."""
    return {name: _file_state(db.with_name(name)) for name in (db.name, db.name + "-wal")}


def pg_counters(admin_url: str, database: str) -> dict[str, int]:
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            row = conn.execute(
                text(f"SELECT {', '.join(STATS)} FROM pg_stat_database WHERE datname = :name"), {"name": database}
            ).one()
    finally:
        engine.dispose()
    return dict(zip(STATS, (int(value) for value in row), strict=True))


@contextmanager
def pg_database() -> Iterator[tuple[str, str, str]]:
    """A new database on the benches' server: (its store URL, the server's ``postgres`` URL, its name)."""
    base = make_url(pg_base())
    name = f"inbox_idle_{uuid.uuid4().hex[:10]}"
    admin_url = base.set(database="postgres").render_as_string(hide_password=False)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield base.set(database=name).render_as_string(hide_password=False), admin_url, name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def fill(inbox: Inbox, count: int) -> None:
    """``count`` series, none due within the hour: daily crons two hours on, and intervals of 3 h to 1 d."""
    later = utcnow() + timedelta(hours=2)
    intervals = ("3h", "6h", "12h", "1d")
    soonest = None
    for index in range(count):
        remind = index % 2 == 0
        if index % 2:
            made = inbox.schedule(f"idle series {index}", every=intervals[index % 4], remind=remind)
        else:
            made = inbox.schedule(f"idle series {index}", cron=f"{later.minute} {later.hour} * * *", remind=remind)
        first = made.next_runs[0]
        soonest = first if soonest is None else min(soonest, first)
    assert soonest is None or soonest > utcnow() + timedelta(hours=1), soonest


@dataclass(frozen=True)
class Window:
    seconds: float
    cpu_s: float
    writes: str  # what was written, or "none"
    wrote: bool
    commits: int | None = None  # PostgreSQL: transactions committed (reads included)
    baseline_commits: int | None = None

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_s / self.seconds


def _pg_writes(before: dict[str, int], after: dict[str, int]) -> tuple[str, bool, int]:
    delta = {key: after[key] - before[key] for key in STATS}
    rows = {key: value for key, value in delta.items() if key.startswith("tup_") and value}
    said = ", ".join(f"{key} +{value}" for key, value in rows.items()) or "none"
    return said, bool(rows), delta["xact_commit"]


def measure(db: str, *, series: int, minutes: float, baseline_minutes: float, warmup_s: float) -> Window:
    home = Path(tempfile.mkdtemp(prefix="inbox-idle-"))
    try:
        with pg_database() if db == "postgres" else _no_database() as (url, admin_url, name):
            env = host_env(home, **({"INBOX_DATABASE_URL": url} if url else {}))
            with Inbox(url, env=env) as inbox:
                fill(inbox, series)
            baseline = None
            if url and baseline_minutes > 0:
                first = pg_counters(admin_url, name)
                time.sleep(baseline_minutes * 60)
                baseline = round(
                    (pg_counters(admin_url, name)["xact_commit"] - first["xact_commit"]) / baseline_minutes
                )
            log = home / "serve.log"
            host = start_host(env, log)
            try:
                wait_for_log(log, SERVING, host)
                time.sleep(warmup_s)
                state = pg_counters(admin_url, name) if url else sqlite_state(home / "inbox.db")
                cpu, began = cpu_seconds(host.pid), time.monotonic()
                time.sleep(minutes * 60)
                cpu_after, seconds = cpu_seconds(host.pid), time.monotonic() - began
                if url:
                    said, wrote, commits = _pg_writes(state, pg_counters(admin_url, name))  # type: ignore[arg-type]
                    return Window(seconds, cpu_after - cpu, said, wrote, round(commits / minutes), baseline)
                now = sqlite_state(home / "inbox.db")
                changed = [f for f in now if now[f] != state[f]]  # type: ignore[index]
                return Window(
                    seconds, cpu_after - cpu, ", ".join(changed) + " changed" if changed else "none", bool(changed)
                )
            finally:
                if host.poll() is not None:
                    print(log.read_text(errors="replace"), file=sys.stderr)
                stop_host(host)
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def _no_database() -> Iterator[tuple[None, str, str]]:
    yield None, "", ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--series", type=int, default=1000, help="series in the store, none due for an hour")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the measured window")
    parser.add_argument("--baseline-minutes", type=float, default=1.0, help="PostgreSQL: the window with no host")
    parser.add_argument("--warmup-seconds", type=float, default=WARMUP_S, help="after the host is up")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    window = measure(
        args.db,
        series=args.series,
        minutes=args.minutes,
        baseline_minutes=args.baseline_minutes,
        warmup_s=args.warmup_seconds,
    )
    print(f"store:        {args.db}, {args.series} series, none due within the hour; a pass every 60 s")
    print(f"window:       {window.seconds:.0f} s after {args.warmup_seconds:g} s of warm-up")
    print(f"CPU:          {window.cpu_s:.2f} s of host and runner time = {window.cpu_percent:.3f} % of one core")
    print(f"writes:       {window.writes}")
    if window.commits is not None:
        baseline = "not measured" if window.baseline_commits is None else f"{window.baseline_commits}/min"
        print(f"commits:      {window.commits}/min with the host (reads count too); with no host {baseline}")
    met = window.cpu_percent <= GOAL_CPU_PERCENT and not window.wrote
    verdict = "goals met" if met else "GOAL MISSED"
    print(
        f"idle ({args.db}, {args.series} series, {args.minutes:g} min): CPU {window.cpu_percent:.3f} % of one core "
        f"(goal <= {GOAL_CPU_PERCENT} %), writes: {window.writes}; {verdict}"
    )
    return 1 if window.wrote else 0


if __name__ == "__main__":
    raise SystemExit(main())
