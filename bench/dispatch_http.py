"""HTTP dispatch benchmark: how fast a real host runs due ``http`` tasks against a receiver on loopback.

``python -m bench.dispatch_http [--tasks 50000] [--sessions 8] [--slots 4] [--closing]`` fills a fresh SQLite
home with N one-shot ``--do http`` tasks (a person's, so loopback is allowed: docs/kinds.md) spread over ``--sessions``
sessions, not yet due; starts ``inbox serve`` on the process runtime; then makes them all due at once and times
until none is left. Without a pre-script each is run by the host itself (sweeper/host_requests.py: claimed and ended
in batches, its request made to a tiny asyncio receiver in this process on 127.0.0.1); no runner is started, so
``--slots`` only matters to a tree where runners still take them. The receiver answers 200 with an empty body, so
the runs end ``silent`` (nothing for the outbox), and keeps each connection open for more requests, as HTTP/1.1
servers do (``--closing``: it ends each after one answer). The last line printed is the headline; see
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlmodel import col

from bench.common import exit_on_sigterm, host_env, insert_rows, message_row, start_host, stop_host, wait_for_log
from inbox import Inbox
from inbox.enums import Kind, Status
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, Run

GOAL_RATE = 2_000.0
TIMEOUT_S = 900.0
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
CLOSING = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
LIVE = [status.value for status in Status if status.is_live]


class Receiver:
    """An HTTP/1.1 server on 127.0.0.1 in its own thread that answers every request 200 and counts them; it keeps
    connections open as HTTP/1.1 servers do, or (``closing``) ends each after one answer."""

    def __init__(self, *, closing: bool = False) -> None:
        self.closing = closing
        self.count = 0
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="receiver", daemon=True)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                writer.write(CLOSING if self.closing else ANSWER)
                await writer.drain()
                self.count += 1  # one thread runs the loop: no lock needed
                if self.closing:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._answer, "127.0.0.1", 0, backlog=1024))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        self._thread.start()
        self._ready.wait(10)
        try:
            yield self
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


def fill(inbox: Inbox, count: int, sessions: int, url: str) -> None:
    """``count`` one-shot http tasks a person made, due far in the future (the setup, not timed)."""
    later = datetime.now(UTC) + timedelta(days=365)
    body = {"url": url, "method": "POST", "headers": {}}
    rows = (
        message_row(
            session=f"s{index % sessions}",
            kind=Kind.TASK,
            content={"text": f"ping {index}", "do": "http", "with": {**body, "body": {"n": index}}},
            status=Status.PENDING,
            process_after=later,
            created_by="user",
        )
        for index in range(count)
    )
    insert_rows(inbox.engine, rows)


def make_due(inbox: Inbox) -> None:
    """Every task due now, in one statement: the host notices the commit within half a second."""
    now = datetime.now(UTC)
    with transaction(inbox.engine) as db:
        db.execute(update(MessageIn).values(process_after=now, occurrence_at=now))


def live_left(inbox: Inbox) -> int:
    with transaction(inbox.engine) as db:
        return int(db.execute(select(func.count()).where(col(MessageIn.status).in_(LIVE))).scalar_one())


def run_span(inbox: Inbox) -> tuple[int, float, dict[str, int]]:
    """(runs, seconds from the first run's start to the last one's end, runs by outcome); prints one run's time."""
    started, ended, outcome = col(Run.started_at), col(Run.ended_at), col(Run.outcome)
    with transaction(inbox.engine) as db:
        first, last, runs = db.execute(select(func.min(started), func.max(ended), func.count())).one()
        outcomes = {str(k): int(v) for k, v in db.execute(select(outcome, func.count()).group_by(outcome)).all()}
        each = sorted((end - start).total_seconds() for start, end in db.execute(select(started, ended)).all())
    span = (last - first).total_seconds() if first and last else float("nan")
    if each:
        middle, longest = each[len(each) // 2] * 1000, each[-1] * 1000
        print(f"dispatch_http: one run (claim to end) p50 {middle:.0f} ms, max {longest:.0f} ms")
    return int(runs), span, outcomes


def measure(tasks: int, sessions: int, slots: int, workdir: Path, *, closing: bool) -> tuple[float, bool]:
    home, log_path = workdir / "home", workdir / "serve.log"
    env = host_env(home, INBOX_SWEEP_INTERVAL="60", INBOX_RUNNER_SLOTS=str(slots))
    with Receiver(closing=closing).running() as receiver, Inbox(env=env) as inbox:
        began = time.perf_counter()
        fill(inbox, tasks, sessions, f"http://127.0.0.1:{receiver.port}/hit")
        print(f"dispatch_http: inserted {tasks} http tasks in {time.perf_counter() - began:.2f} s (untimed)")
        host = start_host(env, log_path)
        try:
            wait_for_log(log_path, "drop folder: watching", host)
            began = time.perf_counter()
            make_due(inbox)
            deadline, left = began + TIMEOUT_S, tasks
            while left and time.perf_counter() < deadline:
                time.sleep(0.2)
                left = live_left(inbox)
            elapsed = time.perf_counter() - began
        finally:
            code = stop_host(host)
        runs, span, outcomes = run_span(inbox)
    ok = left == 0 and receiver.count == tasks and outcomes.get("silent", 0) == tasks and runs == tasks
    print(f"dispatch_http: {tasks - left} of {tasks} ended in {elapsed:.2f} s (made due to none left, 0.2 s polls)")
    print(f"dispatch_http: runs {runs} {outcomes}, first start to last end {span:.2f} s, host exit {code}")
    print(f"dispatch_http: receiver got {receiver.count} -> {'OK' if ok else 'MISMATCH'}")
    if not ok:
        print(log_path.read_text(errors="replace")[-3000:])
    return tasks / elapsed, ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch_http", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50_000, help="due http tasks (default 50000)")
    parser.add_argument("--sessions", type=int, default=8, help="sessions they are spread over: one runner each")
    parser.add_argument("--slots", type=int, default=4, help="items a runner works on at once (INBOX_RUNNER_SLOTS)")
    parser.add_argument("--closing", action="store_true", help="the receiver ends each connection after one answer")
    args = parser.parse_args(argv)
    if args.tasks < 1 or args.sessions < 1 or args.slots < 1:
        parser.error("--tasks, --sessions and --slots must be at least 1")
    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="inbox-bench-"))
    print(f"dispatch_http: {args.tasks} http tasks, {args.sessions} sessions x {args.slots} slots, SQLite, process")
    try:
        rate, ok = measure(args.tasks, args.sessions, args.slots, workdir, closing=args.closing)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    goal = f"goal >= {GOAL_RATE:.0f} tasks/s{'' if rate >= GOAL_RATE else ' MISSED'}"
    print(f"dispatch_http: the receiver {'ended each connection' if args.closing else 'kept connections open'}")
    print(f"dispatch_http (sqlite, process runtime): {rate:.0f} tasks/s ({goal})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
