"""Dashboard benchmark: each page's server time with 100,000 series in the store.

``python -m bench.dashboard [--series 100000] [--repeat 20] [--db sqlite|postgres]`` fills a fresh store by
multi-row Core inserts: ``--series`` series over 50 sessions (90% active and due over the next 30 days, 5% paused,
5% ended), each active one with an ended occurrence behind it, one run per series over the last 7 days (5% failed,
3% timed out, some script errors and silent ones, tokens on each), 20% as many outbox items, 10% as many chat
messages and as many events (each with what it started), five hooks, and a task after another for one series in
200. It runs the hosts' roll-up chore once over that history (and prints how long it took, a cost paid once
per store, then a minute's runs at a time). Then it signs in as the dashboard does and times every page
``--repeat`` times through the host's ASGI app with httpx (no socket: the time is the server's, rendering
included), after one untimed request per page (a running host has compiled its templates), and prints p50 and
p95 per page and whether each met the goal (p95 at most 100 ms). The last line printed is the headline. See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, insert, text

from bench.common import insert_rows, message_row, open_store, percentile, timed_gets
from inbox import Inbox
from inbox.enums import Kind, MatchState, OutboxKind, Outcome, Status, When
from inbox.ids import new_id
from inbox.store import rollups, web_sessions
from inbox.store.engine import transaction
from inbox.store.models import MessageOut, Run
from inbox.store.tokens import hash_token
from inbox.store.trigger_tables import Dependency, Event, EventMatch, Hook
from inbox.store.types import utcnow
from sweeper.http.app import HostState, make_app

GOAL_MS = 100.0
SESSIONS = 50
TOKEN = "bench-dashboard-admin-token"
OUTCOMES = [Outcome.COMPLETED] * 85 + [Outcome.FAILED] * 5 + [Outcome.TIMEOUT] * 3 + [Outcome.SCRIPT_ERROR] * 2
OUTCOMES += [Outcome.SILENT] * 5
CHUNK = 5_000
EVENT_NAMES = ("mail.received", "github.push", "hook.github", "deploy.done")


def series_rows(count: int, now: datetime, dice: random.Random) -> Iterator[dict[str, Any]]:
    """Per series: its current row (active, paused or ended) and, for the live ones, the occurrence before it."""
    for i in range(count):
        session = f"s{i % SESSIONS}"
        due = now + timedelta(seconds=dice.randint(60, 30 * 86_400))
        recurrence = ("every 1h", "cron 0 9 * * 1-5", None)[i % 3]
        fate = i % 20
        first = message_row(
            kind=Kind.TASK,
            session=session,
            process_after=due - timedelta(days=1),
            status=Status.COMPLETED,
            recurrence=recurrence,
            name=f"task-{i:06d}",
            content={"text": f"Task number {i}: check something and report"},
        )
        if fate == 19 or (recurrence is None and fate >= 17):  # ended: its first row is its last
            first["status"] = Status.CANCELLED.value if fate == 19 else Status.COMPLETED.value
            yield first
            continue
        yield first
        yield message_row(
            series=False,
            kind=Kind.TASK,
            session=session,
            process_after=due,
            status=Status.PAUSED.value if fate == 18 else Status.PENDING.value,
            series_id=first["id"],
            occurrence_at=due,
            occurrence_no=2,
            recurrence=recurrence,
            name=f"task-{i:06d}",
            content={"text": f"Task number {i}: check something and report"},
        )


def fill(inbox: Inbox, series: int) -> dict[str, Any]:
    """The store under test; returns what the pages are opened with (a failed run, a session, a cursor)."""
    dice = random.Random(17)
    now = utcnow()
    engine = inbox.engine
    insert_rows(engine, series_rows(series, now, dice))
    chats = [
        message_row(
            series=False,
            kind=Kind.CHAT,
            session=f"s{i % SESSIONS}",
            process_after=now - timedelta(minutes=i),
            status=Status.FAILED.value if i % 25 == 0 else Status.COMPLETED.value,
            reason="invalid API key" if i % 25 == 0 else None,
            content={"text": f"chat line {i}"},
        )
        for i in range(series // 10)
    ]
    insert_rows(engine, chats)
    with engine.connect() as conn:
        chains = conn.execute(text("SELECT id, series_id, session FROM messages_in WHERE occurrence_no = 1")).all()
    _insert(engine, Run, _runs(chains, now, dice))
    _insert(engine, MessageOut, _outbox(series // 5, now))
    _triggers(engine, chains, now, dice)
    if engine.dialect.name == "postgresql":  # as autovacuum leaves a table: statistics and the visibility map
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    with engine.connect() as conn:
        failed = conn.execute(text("SELECT id FROM runs WHERE outcome = 'failed' ORDER BY id DESC LIMIT 1")).scalar()
    return {"failed_run": failed, "now": now}


def _triggers(engine: Engine, chains: Sequence[Any], now: datetime, dice: random.Random) -> None:
    """10% as many events as series (each started one series, or was coalesced), five hooks, and a task after
    another for one series in 200."""
    chains = [chain for chain in chains if chain[1] is not None]  # chat messages are no series
    events, matches = [], []
    for i in range(len(chains) // 10):
        event_id = new_id()
        name = EVENT_NAMES[i % len(EVENT_NAMES)]
        at = now - timedelta(seconds=i * 13)
        events.append(
            {"id": event_id, "name": name, "session": None, "data": {"n": i}, "key": None, "scope": "",
             "created_by": "hook:github" if name.startswith("hook.") else "user", "created_at": at}
        )  # fmt: skip
        row_id, series_id, _ = chains[dice.randrange(len(chains))]
        coalesced = i % 4 == 3
        matches.append(
            {"event_id": event_id, "series_id": series_id, "message_id": None if coalesced else row_id,
             "state": (MatchState.COALESCED if coalesced else MatchState.STARTED).value, "created_at": at}
        )  # fmt: skip
    _insert(engine, Event, iter(events))
    _insert(engine, EventMatch, iter(matches))
    hooks = [
        {
            "name": f"hook{i}",
            "secret": "s" * 40,
            "session": None,
            "message": False,
            "created_at": now,
            "created_by": "cli",
        }
        for i in range(5)
    ]
    _insert(engine, Hook, iter(hooks))
    edges = [
        {
            "upstream_id": chains[i][1],
            "downstream_id": chains[i + 1][1],
            "when": When.ALL_SUCCESS.value,
            "created_at": now,
        }
        for i in range(0, len(chains) - 1, 200)
    ]
    _insert(engine, Dependency, iter(edges))


def roll_up(inbox: Inbox) -> float:
    """The hosts' roll-up chore, until it has caught up with the history filled in; its time in seconds."""
    began = time.perf_counter()
    while rollups.roll_up_store(inbox.engine, now=utcnow()):
        pass
    return time.perf_counter() - began


def _runs(chains: Sequence[Any], now: datetime, dice: random.Random) -> Iterator[dict[str, Any]]:
    for row_id, series_id, session in chains:
        ended = now - timedelta(seconds=dice.randint(60, 7 * 86_400))
        outcome = dice.choice(OUTCOMES)
        yield {
            "id": new_id(),
            "message_id": row_id,
            "series_id": series_id,
            "session": session,
            "attempt": 1,
            "started_at": ended - timedelta(seconds=dice.uniform(0.05, 90)),
            "ended_at": ended,
            "outcome": outcome.value,
            "error": "HTTP 500 from the provider" if outcome == Outcome.FAILED else None,
            "script_output": None,
            "model_output": "Done." if outcome == Outcome.COMPLETED else None,
            "input_tokens": dice.randint(500, 4000),
            "output_tokens": dice.randint(20, 600),
            "runner": "bench",
        }


def _outbox(count: int, now: datetime) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {
            "id": new_id(),
            "session": f"s{i % SESSIONS}",
            "kind": OutboxKind.REPLY.value,
            "text": f"Reply number {i}",
            "in_reply_to": None,
            "series_id": None,
            "created_at": now - timedelta(seconds=i * 7),
            "delivered_at": None,
        }


def _insert(engine: Engine, model: Any, rows: Iterator[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            with engine.begin() as conn:
                conn.execute(insert(model.__table__), batch)
            batch = []
    if batch:
        with engine.begin() as conn:
            conn.execute(insert(model.__table__), batch)


def pages(seed: dict[str, Any]) -> dict[str, str]:
    return {
        "tasks (active)": "/tasks",
        "tasks, page 2": "NEXT:/tasks",
        "tasks (paused)": "/tasks?status=paused",
        "tasks (ended)": "/tasks?status=ended",
        "tasks of one session": "/tasks?session=s7",
        "tasks, name search": "/tasks?q=task-050001",
        "timeline": "/timeline",
        "timeline, one session": "/timeline?session=s7",
        "timeline, failed runs": "/timeline?outcome=failed",
        "run detail (failed)": f"/runs/{seed['failed_run']}",
        "messages": "/messages",
        "messages, failed": "/messages?status=failed",
        "outbox": "/outbox",
        "outbox, one session": "/outbox?session=s7",
        "stats (7 days)": "/stats",
        "stats (30 days)": "/stats?since=30d",
        "chat": "/chat?session=s7",
        "events and hooks": "/events",
        "events of one name": f"/events?name={EVENT_NAMES[0]}",
        "graph": "/graph",
        "audit": "/audit",
        "/metrics": "/metrics",
    }


async def measure(inbox: Inbox, seed: dict[str, Any], repeat: int) -> list[tuple[str, list[float]]]:
    app = make_app(HostState(inbox=inbox.acting_as("api"), admin_token=TOKEN), runner_routes=False)
    now = utcnow()
    with transaction(inbox.engine) as db:
        session_id = web_sessions.start(db, token_digest=hash_token(TOKEN), now=now, expires_at=now + timedelta(days=1))
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {TOKEN}"}
    results = []
    # As a serving host does once started (sweeper/host.py): what is loaded by now stays out of the collector's
    # full passes. Without it, one request in twenty pays a full pass over the fill's leftovers (about 180 ms).
    gc.collect()
    gc.freeze()
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
        client.cookies.set("inbox_session", session_id)
        for label, path in pages(seed).items():
            if path.startswith("NEXT:"):
                first = await client.get(path[5:])
                found = first.text.split('rel="next" href="', 1)[1].split('"', 1)[0]
                path = found.replace("&amp;", "&")
            results.append((label, await timed_gets(client, label, path, repeat)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    try:
        with open_store(args.db, home) as inbox:
            began = time.perf_counter()
            seed = fill(inbox, args.series)
            print(f"filled {args.series:,} series in {time.perf_counter() - began:.0f} s ({args.db})", flush=True)
            print(f"first roll-up of the run history (the hosts' chore): {roll_up(inbox):.1f} s", flush=True)
            results = asyncio.run(measure(inbox, seed, args.repeat))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"{'page':<26} {'p50 ms':>8} {'p95 ms':>8}  goal p95 <= {GOAL_MS:.0f} ms")
    worst = 0.0
    missed = []
    for label, times in results:
        p50, p95 = percentile(times, 50), percentile(times, 95)
        worst = max(worst, p95)
        met = p95 <= GOAL_MS
        missed += [] if met else [label]
        print(f"{label:<26} {p50:>8.1f} {p95:>8.1f}  {'yes' if met else 'NO'}")
    print(
        f"dashboard ({args.db}): {args.series:,} series, {len(results)} pages, slowest p95 {worst:.1f} ms, "
        f"{len(results) - len(missed)}/{len(results)} within {GOAL_MS:.0f} ms"
        + (f" (over: {', '.join(missed)})" if missed else "")
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
