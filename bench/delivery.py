"""Delivery benchmark: how fast a host sends outbox rows to webhook channels, and how late they arrive.

``python -m bench.delivery [--messages 5000] [--channels 10] [--lateness 500] [--over 30]`` makes a fresh SQLite
home, starts the loopback webhook receiver (scripts/webhook_receiver) in this process and N webhook channels to it,
one per session, and starts a real ``inbox serve``. Throughput: M one-shot reminders spread over the sessions, all
due at once, are delivered by the host's sweeper to the outbox and by its deliverer to the receiver; the figure is
M over the time from the first arrival to the last. Lateness: then, from 5 s after the burst has arrived (steady
flow, not the burst's aftermath), L reminders due evenly over the window; for
each, its arrival at the receiver minus its due time (``process_after``), and the part of it after the outbox row
was written (the delivery's own share). Every row must arrive exactly once (by its ``Idempotency-Key``) and be
recorded ``delivered``, or the bench exits 1. The last line printed is the headline. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from bench import common
from bench.common import HEADER, Summary
from inbox import Inbox
from inbox.enums import Kind
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, MessageOut
from scripts.webhook_receiver.server import Received, Receiver

GOAL_RATE = 1000.0
GOAL_P99_MS = 50.0
LEAD_S = 2.0  # the burst is due this long after it is written
QUIET_S = 5.0  # the lateness phase begins this long after the burst has arrived: it measures steady flow
PHASE_TIMEOUT_S = 300.0


def reminder(index: int, session: str, due: datetime, now: datetime) -> dict[str, Any]:
    return common.message_row(
        session=session,
        kind=Kind.TASK.value,
        content={"text": f"reminder {index}"},
        process_after=due,
        remind=True,
        created_at=now,
        updated_at=now,
    )


def wait_for(receiver: Receiver, count: int, host: Any, timeout_s: float = PHASE_TIMEOUT_S) -> list[Received]:
    deadline = time.monotonic() + timeout_s
    while len(got := receiver.accepted()) < count:
        if host.poll() is not None:
            raise RuntimeError(f"inbox serve exited with {host.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the receiver got {len(got)} of {count} deliveries in {timeout_s:g} s")
        time.sleep(0.05)
    return got


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000, help="reminders due at once (throughput)")
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--lateness", type=int, default=500, help="reminders spread over --over seconds")
    parser.add_argument("--over", type=float, default=30.0)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    home = Path(tempfile.mkdtemp(prefix="inbox-bench-delivery-"))
    host = None
    try:
        with Receiver() as receiver, Inbox(env={"INBOX_HOME": str(home), "INBOX_TZ": "UTC"}) as inbox:
            sessions = [f"s{i}" for i in range(args.channels)]
            for i, session in enumerate(sessions):
                inbox.add_channel(f"c{i}", webhook=receiver.url(f"/c{i}"))
                inbox.set_session(session, deliver=f"c{i}")
            log = home / "serve.log"
            host = common.start_host(common.host_env(home), log)
            common.wait_for_log(log, "runners connect on", host)

            now = datetime.now(UTC)
            due = now + timedelta(seconds=LEAD_S)
            rows = [reminder(i, sessions[i % len(sessions)], due, now) for i in range(args.messages)]
            common.insert_rows(inbox.engine, rows)
            burst = wait_for(receiver, args.messages, host)
            first, last = min(r.at for r in burst), max(r.at for r in burst)
            rate = args.messages / max(last - first, 1e-9)
            from_due = last - due.timestamp()

            now = datetime.now(UTC)
            start = now + timedelta(seconds=QUIET_S)
            times = common.spread(start.timestamp(), args.lateness, args.over)
            spread_rows = [
                reminder(i, sessions[i % len(sessions)], datetime.fromtimestamp(t, UTC), now)
                for i, t in enumerate(times)
            ]
            common.insert_rows(inbox.engine, spread_rows)
            got = wait_for(receiver, args.messages + args.lateness, host)
            common.stop_host(host)
            host = None
            problems = check(inbox, got, args.messages + args.lateness)
            late, added = lateness(inbox, got[args.messages :], [row["id"] for row in spread_rows])
    finally:
        if host is not None:
            common.stop_host(host)
        shutil.rmtree(home, ignore_errors=True)
    for problem in problems:
        print(f"WRONG: {problem}")
    print(f"burst: {args.messages} reminders to {args.channels} webhook channels: {rate:,.0f} deliveries/s")
    print(f"       (first arrival to last {last - first:.2f} s; due to last arrival {from_due:.2f} s)")
    print(HEADER)
    print(late.row("due->arrived"))
    print(added.row("outbox->arr."))
    met = rate >= GOAL_RATE and late.p99 <= GOAL_P99_MS
    print(
        f"delivery (sqlite, {args.channels} channels): {rate:,.0f} deliveries/s (goal >= {GOAL_RATE:,.0f}) | "
        f"due -> delivered p50={late.p50:.1f}ms p99={late.p99:.1f}ms (goal p99 <= {GOAL_P99_MS:.0f}ms)"
        + ("" if met else " NOT MET")
    )
    return 1 if problems else 0


def check(inbox: Inbox, got: list[Received], expected: int) -> list[str]:
    """Each row arrived once, and is recorded delivered with one attempt."""
    problems = []
    keys = [r.key for r in got]
    if len(set(keys)) != len(keys):
        problems.append(f"{len(keys) - len(set(keys))} rows arrived more than once")
    with transaction(inbox.engine) as db:
        rows = db.exec(select(MessageOut.delivery, MessageOut.attempts)).all()
    if len(rows) != expected:
        problems.append(f"{len(rows)} outbox rows, not {expected}")
    wrong = [row for row in rows if tuple(row) != ("delivered", 1)]
    if wrong:
        problems.append(f"{len(wrong)} rows not delivered at their first attempt: {wrong[:3]}")
    return problems


def lateness(inbox: Inbox, got: list[Received], ids: list[str]) -> tuple[Summary, Summary]:
    """(arrival - due, arrival - outbox row written) of the spread reminders."""
    arrived = {r.key: r.at for r in got}
    with transaction(inbox.engine) as db:
        due = dict(db.exec(select(MessageIn.id, MessageIn.process_after).where(col(MessageIn.id).in_(ids))).all())
        written = db.exec(select(MessageOut.id, MessageOut.in_reply_to, MessageOut.created_at)).all()
    late, added = [], []
    for out_id, source, created in written:
        if source in due and out_id in arrived:
            late.append(arrived[out_id] - due[source].timestamp())
            added.append(arrived[out_id] - created.timestamp())
    return Summary.of(late), Summary.of(added)


if __name__ == "__main__":
    sys.exit(main())
