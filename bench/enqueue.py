"""Enqueue benchmark: how fast messages enter the inbound table, one per transaction and in batches.

``python -m bench.enqueue [--messages 20000] [--batch 1000] [--db sqlite|postgres]`` measures, on a fresh store,
(1) ``Inbox.send(text)``, where each message is its own transaction, and (2) batches: ``Inbox.send_many`` with
``--batch`` messages per call (one transaction each). The last line is the headline.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlmodel import col

from bench.common import open_store
from inbox import Inbox
from inbox.enums import Status
from inbox.store.engine import transaction
from inbox.store.models import MessageIn

GOAL_SINGLE = 2_000.0
GOAL_BATCHED = 20_000.0


def pending_count(engine: Engine) -> int:
    with transaction(engine) as db:
        query = select(func.count()).where(col(MessageIn.status) == Status.PENDING.value)
        return int(db.execute(query).scalar_one())


def measure_single(inbox: Inbox, messages: int) -> float:
    before = pending_count(inbox.engine)
    began = time.perf_counter()
    for i in range(messages):
        inbox.send(f"single message {i}")
    elapsed = time.perf_counter() - began
    stored = pending_count(inbox.engine) - before
    print(f"single: {messages} x Inbox.send in {elapsed:.3f} s, {stored} rows stored")
    if stored != messages:
        raise RuntimeError(f"expected {messages} new rows, found {stored}")
    return messages / elapsed


def measure_batched(inbox: Inbox, messages: int, batch: int) -> float:
    before = pending_count(inbox.engine)
    began = time.perf_counter()
    for start in range(0, messages, batch):
        inbox.send_many([f"batched message {i}" for i in range(start, min(start + batch, messages))])
    elapsed = time.perf_counter() - began
    stored = pending_count(inbox.engine) - before
    print(
        f"batched: {messages} messages with Inbox.send_many, {batch} per call, in {elapsed:.3f} s, {stored} rows stored"
    )
    if stored != messages:
        raise RuntimeError(f"expected {messages} new rows, found {stored}")
    return messages / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.enqueue", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages per measurement (default 20000)")
    parser.add_argument("--batch", type=int, default=1_000, help="messages per transaction when batched")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite", help="store backend")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.batch < 1:
        parser.error("--messages and --batch must be at least 1")
    workdir = Path(tempfile.mkdtemp(prefix="inbox-bench-"))
    print(f"enqueue: {args.messages} chat messages per measurement, {args.db}; INBOX_HOME={workdir}")
    try:
        with open_store(args.db, workdir) as inbox:
            inbox.send("warm up")  # the first transaction pays for connecting and compiling
            single = measure_single(inbox, args.messages)
            batched = measure_batched(inbox, args.messages, args.batch)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    missed = [
        name
        for name, rate, goal in (("single", single, GOAL_SINGLE), ("batched", batched, GOAL_BATCHED))
        if rate < goal
    ]
    tail = f" | MISSED: {', '.join(missed)}" if missed else ""
    print(
        f"enqueue ({args.db}): single {single:.0f}/s (goal {GOAL_SINGLE:.0f}) | "
        f"batched {batched:.0f}/s (goal {GOAL_BATCHED:.0f}){tail}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
