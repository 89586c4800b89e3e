"""Audit trail benchmark: a page of ``GET /v1/audit`` (and of the dashboard's audit page) costs the same at any depth.

``python -m bench.audit [--records 500000] [--repeat 20] [--db sqlite|postgres]`` fills a fresh store with
``--records`` audit records (multi-row Core inserts) over 5,000 subjects, then times, through the host's ASGI app
with httpx (no socket: the time is the server's), the newest page of 100, a page at the middle and one at the very
end of the trail (by ``cursor``), the newest page of one subject and its oldest, and the dashboard's audit page.
It prints p50 and p95 of each in milliseconds; the last line is the headline (the slowest p95). See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text

from bench.common import open_store, percentile, timed_gets
from inbox import Inbox
from inbox.audit import LISTING
from inbox.ids import new_ids
from inbox.paging import encode_cursor
from inbox.store import web_sessions
from inbox.store.engine import transaction
from inbox.store.models import AuditRecord
from inbox.store.tokens import hash_token
from inbox.store.types import utcnow
from sweeper.http.app import HostState, make_app

TOKEN = "bench-audit-admin-token"
SUBJECTS = 5_000
CHUNK = 5_000
ACTIONS = ["task.pause", "task.resume", "task.update", "task.run"]


def fill(inbox: Inbox, count: int) -> list[str]:
    """``count`` records, oldest first, over a year; returns their ids in order."""
    dice = random.Random(17)
    start = utcnow() - timedelta(days=360)
    table = AuditRecord.__table__  # type: ignore[attr-defined]
    ids = new_ids(count)
    for first in range(0, count, CHUNK):
        rows = [
            {
                "id": ids[i],
                "at": start + timedelta(seconds=i * 60),
                "actor": dice.choice(["cli", "token:laptop", "web:phone", "agent:main"]),
                "action": dice.choice(ACTIONS),
                "subject": f"subject-{i % SUBJECTS:05d}",
                "session": "main",
                "changes": {"status": {"before": "active", "after": "paused"}},
            }
            for i in range(first, min(first + CHUNK, count))
        ]
        with transaction(inbox.engine) as db:
            db.execute(insert(table), rows)
    if inbox.engine.dialect.name == "postgresql":
        with inbox.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE audit"))
    return ids


def routes(ids: list[str]) -> dict[str, str]:
    middle, oldest = (encode_cursor(LISTING, (ids[i],)) for i in (len(ids) // 2, 150))
    one = "subject-00042"
    return {
        "newest 100": "/v1/audit",
        "100 at the middle": f"/v1/audit?cursor={middle}",
        "100 at the end": f"/v1/audit?cursor={oldest}",
        "one subject, newest": f"/v1/audit?subject={one}",
        "one subject, oldest": f"/v1/audit?subject={one}&cursor={encode_cursor(LISTING, (ids[100],))}",
        "dashboard page": "/audit",
        "dashboard, one subject": f"/audit?subject={one}",
    }


async def measure(inbox: Inbox, ids: list[str], repeat: int) -> list[tuple[str, list[float]]]:
    app = make_app(HostState(inbox=inbox.acting_as("api"), admin_token=TOKEN), runner_routes=False)
    now = utcnow()
    with transaction(inbox.engine) as db:
        session_id = web_sessions.start(db, token_digest=hash_token(TOKEN), now=now, expires_at=now + timedelta(days=1))
    results = []
    headers = {"authorization": f"Bearer {TOKEN}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
        client.cookies.set("inbox_session", session_id)
        for label, path in routes(ids).items():
            results.append((label, await timed_gets(client, label, path, repeat)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    results: list[tuple[str, list[float]]] = []
    try:
        with open_store(args.db, home) as inbox:
            began = time.perf_counter()
            ids = fill(inbox, args.records)
            print(f"filled {args.records:,} records in {time.perf_counter() - began:.0f} s ({args.db})", flush=True)
            results = asyncio.run(measure(inbox, ids, args.repeat))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"{'request':<26} {'p50 ms':>8} {'p95 ms':>8}")
    for label, times in results:
        print(f"{label:<26} {percentile(times, 50):>8.1f} {percentile(times, 95):>8.1f}")
    worst: Any = max(percentile(times, 95) for _, times in results)
    print(f"audit ({args.db}): {args.records:,} records, {len(results)} requests, slowest p95 {worst:.1f} ms")


if __name__ == "__main__":
    main()
