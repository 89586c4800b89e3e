"""Driving the store by hand in tests: claim what is due, end it, look at rows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, col, select

from inbox import Inbox
from inbox.defaults import BACKOFF, DEFAULT_LEASE, DEFAULT_MISFIRE_GRACE
from inbox.enums import Outcome
from inbox.store.claims import claim_due, fail_attempt
from inbox.store.endings import Ending, RunReport, end_occurrence
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, Run
from sweeper.host_requests import HostRequests
from sweeper.http_work import HttpWork


@contextmanager
def host_requests(
    engine: Engine, work: HttpWork | None = None, owner: str = "h/http", **options: int
) -> Iterator[HostRequests]:
    """The host's own dispatcher of http tasks (sweeper.host_requests), running until the block ends; ``options``:
    its ``workers`` and ``batch``."""
    requests = HostRequests(
        engine,
        work or HttpWork(),
        owner=owner,
        lease=DEFAULT_LEASE,
        backoff=BACKOFF,
        grace=DEFAULT_MISFIRE_GRACE,
        daily_series_tokens=1_000_000,
        **options,
    )
    requests.start()
    try:
        yield requests
    finally:
        requests.stop(5)


def claim(inbox: Inbox, *, owner: str = "runner-1", session: str | None = None, limit: int = 10) -> list[MessageIn]:
    with transaction(inbox.engine) as db:
        return claim_due(db, owner=owner, now=inbox.clock(), session=session, limit=limit)


def end(
    inbox: Inbox,
    message_id: str,
    outcome: Outcome = Outcome.COMPLETED,
    *,
    error: str | None = None,
    started_at: datetime | None = None,
    model_output: str | None = None,
) -> Ending:
    report = RunReport(outcome=outcome, started_at=started_at or inbox.clock(), error=error, model_output=model_output)
    with transaction(inbox.engine) as db:
        return end_occurrence(db, message_id, report, now=inbox.clock())


def fail(inbox: Inbox, message_id: str, error: str = "HTTP 429") -> object:
    report = RunReport(outcome=Outcome.FAILED, started_at=inbox.clock(), error=error)
    with transaction(inbox.engine) as db:
        return fail_attempt(db, message_id, report, now=inbox.clock())


def rows(inbox: Inbox, series_id: str) -> list[MessageIn]:
    with transaction(inbox.engine) as db:
        query = select(MessageIn).where(MessageIn.series_id == series_id).order_by(col(MessageIn.occurrence_at))
        return list(db.exec(query).all())


def live(inbox: Inbox, series_id: str) -> list[MessageIn]:
    return [r for r in rows(inbox, series_id) if r.status in ("pending", "running", "paused") and not r.is_extra]


def runs(inbox: Inbox, series_id: str) -> list[Run]:
    with transaction(inbox.engine) as db:
        return list(db.exec(select(Run).where(Run.series_id == series_id).order_by(col(Run.id))).all())


def run_due(inbox: Inbox, outcome: Outcome = Outcome.COMPLETED) -> list[str]:
    """Claim everything due now and end it with ``outcome``; the ids that ran."""
    done = []
    for row in claim(inbox, limit=1000):
        end(inbox, row.id, outcome)
        done.append(row.id)
    return done


def stored_text(engine: Engine) -> str:
    """Every value in every table of the store, as one text: to show what was, or was not, written.

    Tables and each table's rows are sorted: a table read without ``ORDER BY`` comes back in its storage order,
    which PostgreSQL may change (vacuum, a row's lock taken and dropped) with nothing written. The list of tables
    is such a read too, of the catalog, whose rows autovacuum's statistics rewrite."""
    values: list[str] = []
    with engine.connect() as conn:
        for name in sorted(inspect(conn).get_table_names()):
            rows = ["\t".join(str(value) for value in row) for row in conn.execute(text(f"SELECT * FROM {name}"))]
            values.append(f"{name}:")
            values.extend(sorted(rows))
    return "\n".join(values)


def wait_until_blocked_by(inbox: Inbox, holder: Session, *, wait_s: float = 10.0) -> None:
    """PostgreSQL: until some statement waits for a lock ``holder`` holds. SQLite: nothing to wait for (the other
    writer waits for the write lock whenever it comes)."""
    if inbox.engine.dialect.name != "postgresql":
        return
    pid = holder.execute(text("SELECT pg_backend_pid()")).scalar()
    blocked = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        with inbox.engine.connect() as conn:
            if conn.execute(blocked, {"pid": pid}).scalar():
                return
        time.sleep(0.02)
    raise AssertionError("nothing waited for the lock held")
