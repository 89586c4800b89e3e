"""Paging benchmark: what the first page of a listing costs at 100 series and at 1,000,000.

``python -m bench.paging [--sizes 100,1000000] [--repeat 30] [--db sqlite|postgres]`` grows one store through the
sizes by multi-row Core inserts: each series one row over 50 sessions (90% active and due over the next 30 days,
5% paused, 5% ended), and one outbox item per series. At each size it times, ``--repeat`` times each after one
untimed call, through the host's ASGI app with httpx (no socket: the time is the server's, JSON included):
``GET /v1/tasks`` (the first page of 100), its next page (the URL of its ``Link`` header), ``?status=all``, one
session's tasks, ``GET /v1/outbox`` and its next page; and through the Python API what ``inbox tasks`` and
``inbox outbox`` read: the first page and how many more (a count that stops at 1,000). It prints p50 and p95 per
listing at each size and the ratio of the largest size's p50 to the smallest's (a next page is timed only where
there is one). The last line printed is the
headline. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from bench.common import insert_rows, message_row, open_store, percentile, timed_ms
from bench.dashboard import _insert
from inbox import Inbox
from inbox.enums import Kind, OutboxKind, Status
from inbox.ids import new_id
from inbox.store.models import MessageOut
from inbox.store.types import utcnow
from sweeper.http.app import HostState, make_app

SESSIONS = 50
TOKEN = "bench-paging-admin-token"
FLAT_RATIO = 2.0  # "the same cost": the p50 at the largest size at most this many times the smallest's


def series_rows(start: int, stop: int, now: datetime, dice: random.Random) -> Iterator[dict[str, Any]]:
    for i in range(start, stop):
        fate = i % 20
        status = Status.COMPLETED if fate == 19 else Status.PAUSED if fate == 18 else Status.PENDING
        yield message_row(
            kind=Kind.TASK,
            session=f"s{i % SESSIONS}",
            process_after=now + timedelta(seconds=dice.randint(60, 30 * 86_400)),
            status=status,
            recurrence="every 1h",
            name=f"task-{i:07d}",
            content={"text": f"Task number {i}: check something and report"},
        )


def outbox_rows(start: int, stop: int, now: datetime) -> Iterator[dict[str, Any]]:
    for i in range(start, stop):
        yield {
            "id": new_id(),
            "session": f"s{i % SESSIONS}",
            "kind": OutboxKind.REPLY.value,
            "text": f"Reply number {i}",
            "created_at": now,
        }


def grow(inbox: Inbox, start: int, stop: int, dice: random.Random) -> None:
    now = utcnow()
    insert_rows(inbox.engine, series_rows(start, stop, now, dice))
    _insert(inbox.engine, MessageOut, outbox_rows(start, stop, now))
    if inbox.engine.dialect.name == "postgresql":  # as autovacuum leaves a table: statistics and the visibility map
        with inbox.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


ROUTES = {
    "GET /v1/tasks": "/v1/tasks",
    "GET /v1/tasks, next page": "NEXT:/v1/tasks",
    "GET /v1/tasks?status=all": "/v1/tasks?status=all",
    "GET /v1/tasks?session=s7": "/v1/tasks?session=s7",
    "GET /v1/outbox": "/v1/outbox",
    "GET /v1/outbox, next page": "NEXT:/v1/outbox",
}


async def measure_http(inbox: Inbox, repeat: int) -> dict[str, list[float]]:
    app = make_app(HostState(inbox=inbox.acting_as("api"), admin_token=TOKEN), runner_routes=False)
    headers = {"authorization": f"Bearer {TOKEN}"}
    found: dict[str, list[float]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
        for label, path in ROUTES.items():
            if path.startswith("NEXT:"):
                following = (await client.get(path[5:])).links.get("next")
                if following is None:
                    continue  # one page holds every row: no next page to time at this size
                path = following["url"]
            await client.get(path)  # once first, untimed
            times = []
            for _ in range(repeat):
                began = time.perf_counter()
                answer = await client.get(path)
                times.append((time.perf_counter() - began) * 1000)
                if answer.status_code != 200:
                    raise SystemExit(f"{label}: {path} answered {answer.status_code}: {answer.text[:300]}")
            found[label] = sorted(times)
    return found


def measure_api(inbox: Inbox, repeat: int) -> dict[str, list[float]]:
    calls: dict[str, Callable[[], object]] = {
        "inbox tasks (page + count)": lambda: inbox.tasks_page(count=True),
        "inbox tasks --status all (page + count)": lambda: inbox.tasks_page(status="all", count=True),
        "inbox outbox (page + count)": lambda: inbox.outbox_page(count=True),
    }
    found = {}
    for label, call in calls.items():
        call()
        found[label] = timed_ms(call, repeat)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    home = Path(tempfile.mkdtemp(prefix="bench-paging-"))
    results: dict[int, dict[str, list[float]]] = {}
    dice = random.Random(17)
    try:
        with open_store(args.db, home) as inbox:
            have = 0
            for size in sizes:
                began = time.perf_counter()
                grow(inbox, have, size, dice)
                have = size
                print(f"{size:,} series and outbox items ({args.db}), filled in {time.perf_counter() - began:.0f} s")
                results[size] = asyncio.run(measure_http(inbox, args.repeat)) | measure_api(inbox, args.repeat)
                for label, times in results[size].items():
                    print(f"  {label:<42} p50 {percentile(times, 50):>7.2f} ms  p95 {percentile(times, 95):>7.2f} ms")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    small, large = results[sizes[0]], results[sizes[-1]]
    ratios = {label: percentile(large[label], 50) / percentile(small[label], 50) for label in small if label in large}
    worst = max(ratios, key=lambda label: ratios[label])
    first = percentile(small["GET /v1/tasks"], 50), percentile(large["GET /v1/tasks"], 50)
    print(
        f"paging ({args.db}): first page of GET /v1/tasks p50 {first[0]:.2f} ms at {sizes[0]:,} series, "
        f"{first[1]:.2f} ms at {sizes[-1]:,}; largest ratio {ratios[worst]:.2f} ({worst}), "
        f"{sum(r <= FLAT_RATIO for r in ratios.values())}/{len(ratios)} within {FLAT_RATIO:g}x"
    )


if __name__ == "__main__":
    main()
