"""Memory benchmark: the resident size of a real ``inbox serve`` with many live series in its store.

``python -m bench.memory [--series 100000] [--seconds 60] [--baseline-seconds 15]`` first starts ``inbox serve``
(process runtime, SQLite, the fake model provider) on an empty store and reads its ``VmRSS`` and ``VmHWM`` from
/proc after ``--baseline-seconds``: the baseline. Then, on a fresh store holding N live series (recurring
reminders and prompt tasks on intervals and crons, paused series, future one-shots, over 100 sessions; inserted
by multi-row Core insert), it starts another host and keeps due work flowing for ``--seconds``: 300 of the series
are reminders every 15 s (about 20 deliveries a second, each writing its follow-up) and a chat message goes to a
session every 5 s (a runner is started and answers through the host). RSS is sampled every second; the figures
are the RSS at the end and the peak (``VmHWM``). The last line printed is the headline. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from bench.common import host_env, insert_rows, message_row, start_host, stop_host, wait_for_log
from inbox import Inbox
from inbox.enums import Kind, OutboxKind, Status
from inbox.store.engine import transaction
from inbox.store.models import MessageOut
from inbox.store.types import utcnow
from scripts.fake_provider.server import FakeProvider

GOAL_MB = 100.0
SERVING = "runners connect on"  # the host's log line once it is up
FLOW_SERIES = 300
FLOW_EVERY_S = 15
CHAT_EVERY_S = 5.0
SESSIONS = 100
# (recurrence or None for a one-shot, is a reminder, paused): the live series, in turn.
KINDS: list[tuple[str | None, bool, bool]] = [
    ("every 5m", True, False),
    ("every 1h", False, False),
    ("every 1d", False, False),
    ("cron 0 9 * * *", False, False),
    ("cron 0 9 * * 1-5", True, False),
    ("cron */15 * * * *", False, False),
    ("cron 0 0 1 * *", False, True),
    ("every 2h", True, True),
    (None, True, False),
    (None, False, False),
]


@dataclass(frozen=True)
class Memory:
    rss_mb: float
    hwm_mb: float


def read_memory(pid: int) -> Memory:
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024  # kB to MiB
    return Memory(fields["VmRSS"], fields["VmHWM"])


def live_series(count: int) -> Iterator[dict[str, Any]]:
    """``count`` live series: the flowing reminders first, then the kinds above, due 1 h to 30 days ahead."""
    now = utcnow()
    for i in range(count):
        if i < FLOW_SERIES:
            slot = now + timedelta(seconds=10 + i % FLOW_EVERY_S)
            recurrence: str | None = f"every {FLOW_EVERY_S}s"
            remind, paused = True, False
        else:
            slot = now + timedelta(hours=1, seconds=(i * 7919) % (30 * 86_400))
            recurrence, remind, paused = KINDS[i % len(KINDS)]
        yield message_row(
            kind=Kind.TASK,
            session=f"s{i % SESSIONS}",
            process_after=slot,
            recurrence=recurrence,
            remind=remind,
            status=Status.PAUSED if paused else Status.PENDING,
            content={"text": f"series {i}"},
        )


def outbox_counts(inbox: Inbox) -> dict[str, int]:
    with transaction(inbox.engine) as db:
        rows = db.execute(select(col(MessageOut.kind), func.count()).group_by(col(MessageOut.kind))).all()
    return {str(kind): int(count) for kind, count in rows}


def run_host(home: Path, fake: FakeProvider, seconds: float, *, flow: bool) -> tuple[Memory, list[float], str]:
    """Start a host on ``home``, keep it busy (or idle) for ``seconds``; (last reading, RSS samples, log)."""
    env = host_env(home, OPENAI_BASE_URL=fake.openai_base_url, OPENAI_API_KEY="x", INBOX_MODEL="fake-model")
    log_path = home / "serve.log"
    host = start_host(env, log_path)
    samples: list[float] = []
    try:
        wait_for_log(log_path, SERVING, host)
        began = time.monotonic()
        next_chat = began
        with Inbox(env=env) as inbox:
            while (elapsed := time.monotonic() - began) < seconds:
                if host.poll() is not None:
                    raise RuntimeError(f"inbox serve exited with {host.returncode}; see {log_path}")
                if flow and time.monotonic() >= next_chat:
                    inbox.send(f"chat at {elapsed:.0f} s", session=f"s{int(elapsed) % SESSIONS}")
                    next_chat += CHAT_EVERY_S
                samples.append(read_memory(host.pid).rss_mb)
                time.sleep(1.0)
        memory = read_memory(host.pid)
    finally:
        stop_host(host)
    return memory, samples, log_path.read_text(errors="replace")


def _log_problems(log: str) -> list[str]:
    return [line for line in log.splitlines() if any(word in line for word in ("ERROR", "Traceback"))][:10]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100_000, help="live series in the store (default 100000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the loaded host runs (default 60)")
    parser.add_argument("--baseline-seconds", type=float, default=15.0, help="how long the idle host runs")
    args = parser.parse_args(argv)
    if args.series < FLOW_SERIES or args.seconds <= 0 or args.baseline_seconds <= 0:
        parser.error(f"--series must be at least {FLOW_SERIES}, the durations greater than 0")
    workdir = Path(tempfile.mkdtemp(prefix="inbox-bench-"))
    print(f"memory: {args.series} live series, host up {args.seconds:g} s, process runtime, SQLite in {workdir}")
    problems: list[str] = []
    with FakeProvider() as fake:
        empty = workdir / "empty"
        Inbox(env={"INBOX_HOME": str(empty)}).close()  # created and migrated before the host opens it
        baseline, _, log = run_host(empty, fake, args.baseline_seconds, flow=False)
        problems += _log_problems(log)
        print(f"baseline (empty store, idle {args.baseline_seconds:g} s): RSS {baseline.rss_mb:.1f} MB")
        loaded = workdir / "loaded"
        with Inbox(env={"INBOX_HOME": str(loaded)}) as inbox:
            began = time.perf_counter()
            insert_rows(inbox.engine, live_series(args.series))
            print(f"inserted {args.series} live series in {time.perf_counter() - began:.1f} s (untimed)")
            before = outbox_counts(inbox)
            memory, samples, log = run_host(loaded, fake, args.seconds, flow=True)
            after = outbox_counts(inbox)
        problems += _log_problems(log)
    for second in range(0, len(samples), 10):
        print(f"  {second:4d} s: RSS {samples[second]:.1f} MB")
    reminders = after.get(OutboxKind.REMINDER.value, 0) - before.get(OutboxKind.REMINDER.value, 0)
    replies = after.get(OutboxKind.REPLY.value, 0) - before.get(OutboxKind.REPLY.value, 0)
    print(f"work done while measured: {reminders} reminders delivered, {replies} chat replies")
    if reminders == 0 or replies == 0:
        problems.append("no due work flowed while the host was measured")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    shutil.rmtree(workdir, ignore_errors=True)
    verdict = "" if memory.hwm_mb <= GOAL_MB else " MISSED"
    print(
        f"memory: host RSS {memory.rss_mb:.1f} MB with {args.series} live series after {args.seconds:g} s "
        f"(peak {memory.hwm_mb:.1f} MB) | idle empty store {baseline.rss_mb:.1f} MB "
        f"(peak {baseline.hwm_mb:.1f} MB) (goal <= {GOAL_MB:g} MB{verdict})"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
