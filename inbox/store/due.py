"""What a claim walks: the due rows of one lane and one priority at a time, oldest first, through the claim index.

Priorities with aging (docs/limits.md): a due row's *standing* is its priority plus one step per whole 5 minutes it
has waited since it fell due. Claims take the highest standing first, then the oldest. Standing depends on the
time, so no index can hold it; but within one lane (``gate``) and one priority, the oldest due row also stands
highest. So a claim of ``n`` rows reads at most ``n`` rows per priority present in each open lane, through the
index (gate, priority, process_after, id) of pending rows, and merges them: its cost follows the rows it claims and the
number of priorities in use (at most 21), never the backlog. The priorities present are found by a skip scan of
that index (one probe per priority), not by reading the rows.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal, NamedTuple

from sqlalchemy import ColumnElement, CursorResult, Select, TextClause, bindparam, select, text
from sqlmodel import Session

from inbox.store.filters import DUE_ORDER, HOST_DELIVERS, HOST_REQUESTS, IDLE_SERIES, PLAIN_HOST_REQUESTS
from inbox.store.models import PENDING_SQL, MessageIn

AGING_STEP = timedelta(minutes=5)
_TABLE = MessageIn.__table__  # type: ignore[attr-defined]
_PENDING = text(f"messages_in.{PENDING_SQL}")

# The priorities of the pending rows of one lane, highest first: each step one probe of the claim index.
_LEVELS: TextClause = text(
    "WITH RECURSIVE levels(p) AS ("
    " SELECT (SELECT priority FROM messages_in WHERE status = 'pending' AND gate = :gate"
    "  ORDER BY priority DESC LIMIT 1)"
    " UNION ALL"
    " SELECT (SELECT priority FROM messages_in WHERE status = 'pending' AND gate = :gate AND priority < levels.p"
    "  ORDER BY priority DESC LIMIT 1) FROM levels WHERE levels.p IS NOT NULL"
    ") SELECT p FROM levels WHERE p IS NOT NULL"
)


class Candidate(NamedTuple):
    """A due row as a claim weighs it: what its order and its limits need, not the whole row."""

    id: str
    series_id: str | None
    priority: int
    process_after: datetime
    tags: list[str] | None


def standing(row: Candidate, now: datetime) -> int:
    """The row's priority, one step higher per whole 5 minutes it has waited since it fell due."""
    waited = max(now - row.process_after, timedelta(0))
    return row.priority + waited // AGING_STEP


def claim_order(row: Candidate, now: datetime) -> tuple[int, datetime, str]:
    """Highest standing first; then the oldest due, then the oldest row."""
    return (-standing(row, now), row.process_after, row.id)


# What a claim may take: ``any`` due row; ``reminders`` or ``http`` (the host's own work, inbox.store.filters), or
# the plain part of the latter (``plain_http``); ``runner``: any row but the host's http requests.
Work = Literal["any", "reminders", "http", "plain_http", "runner"]
_ONLY: dict[str, ColumnElement[bool]] = {
    "reminders": HOST_DELIVERS,
    "http": HOST_REQUESTS,
    "plain_http": PLAIN_HOST_REQUESTS,
    "runner": ~HOST_REQUESTS,
}


@cache
def _lane_query(by_session: bool, work: Work, locking: bool) -> Select[Any]:
    """Built once per shape (building it costs more than running it); bound with gate, level, now, limit.
    Only the columns a claim weighs: building a whole row object for each of them cost more than the query."""
    query = (
        select(_TABLE.c.id, _TABLE.c.series_id, _TABLE.c.priority, _TABLE.c.process_after, _TABLE.c.tags)
        .where(
            _PENDING,  # spelled out: only a literal lets the planners use the claim index, which holds pending rows
            _TABLE.c.gate == bindparam("gate"),
            _TABLE.c.priority == bindparam("level"),
            _TABLE.c.process_after <= bindparam("now"),
            IDLE_SERIES,
        )
        .order_by(*DUE_ORDER)
        .limit(bindparam("limit"))
    )
    if by_session:
        query = query.where(_TABLE.c.session == bindparam("session"))
    if work in _ONLY:
        query = query.where(_ONLY[work])
    if locking:
        query = query.with_for_update(skip_locked=True, of=_TABLE)
    return query


@contextmanager
def due_candidates(
    db: Session,
    lanes: Sequence[tuple[str, int]],
    *,
    now: datetime,
    session: str | None,
    work: Work,
) -> Iterator[Iterator[Candidate]]:
    """Up to each lane's count of due rows per priority present in it (``lanes``: gate and how many it may give),
    merged in claim order. On SQLite the rows are read as the merge reaches them: a claim that stops after ``n``
    reads about ``n`` rows plus one per priority, not ``n`` per priority. PostgreSQL's driver reads each query's
    rows at once, and locks them (skipping rows other claimers hold)."""
    locking = db.get_bind().dialect.name == "postgresql"
    query = _lane_query(session is not None, work, locking)
    connection = db.connection()
    results: list[CursorResult[Any]] = []
    try:
        for gate, count in lanes:
            if count <= 0:
                continue
            for level in connection.execute(_LEVELS, {"gate": gate}).scalars().all():
                params = {"gate": gate, "level": level, "now": now, "limit": count}
                results.append(connection.execute(query, params if session is None else {**params, "session": session}))
        levels = [map(Candidate._make, result) for result in results]
        yield heapq.merge(*levels, key=lambda row: claim_order(row, now))
    finally:
        for result in results:
            result.close()  # what the merge did not reach: SQLite stops reading it here
