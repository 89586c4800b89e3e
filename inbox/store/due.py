"""What a claim walks: the due rows of one lane and one priority at a time, oldest first, through the claim index.

Priorities with aging (docs/limits.md): a due row's *standing* is its priority plus one step per whole 5 minutes it
has waited since it fell due. Claims take the highest standing first, then the oldest. Standing depends on the
time, so no index can hold it; but within one lane (``gate``) and one priority, the oldest due row also stands
highest. So a claim of ``n`` rows reads at most ``n`` rows per priority present in each open lane, through the
index (status, gate, priority, process_after, id), and merges them: its cost follows the rows it claims and the
number of priorities in use (at most 21), never the backlog. The priorities present are found by a skip scan of
that index (one probe per priority), not by reading the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import TextClause, bindparam, text
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from inbox.enums import Status
from inbox.store.filters import DUE_ORDER, HOST_DELIVERS, IDLE_SERIES
from inbox.store.models import MessageIn

AGING_STEP = timedelta(minutes=5)

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


def standing(row: MessageIn, now: datetime) -> int:
    """The row's priority, one step higher per whole 5 minutes it has waited since it fell due."""
    waited = max(now - row.process_after, timedelta(0))
    return row.priority + waited // AGING_STEP


def claim_order(row: MessageIn, now: datetime) -> tuple[int, datetime, str]:
    """Highest standing first; then the oldest due, then the oldest row."""
    return (-standing(row, now), row.process_after, row.id)


@cache
def _lane_query(by_session: bool, only_reminders: bool, locking: bool) -> SelectOfScalar[MessageIn]:
    """Built once per shape (building it costs more than running it); bound with gate, level, now, limit."""
    query = (
        select(MessageIn)
        .where(
            MessageIn.status == Status.PENDING.value,
            col(MessageIn.gate) == bindparam("gate"),
            col(MessageIn.priority) == bindparam("level"),
            col(MessageIn.process_after) <= bindparam("now"),
            IDLE_SERIES,
        )
        .order_by(*DUE_ORDER)
        .limit(bindparam("limit"))
    )
    if by_session:
        query = query.where(MessageIn.session == bindparam("session"))
    if only_reminders:
        query = query.where(HOST_DELIVERS)
    if locking:
        query = query.with_for_update(skip_locked=True)
    return query


def due_candidates(
    db: Session,
    lanes: Sequence[tuple[str, int]],
    *,
    now: datetime,
    session: str | None,
    only_reminders: bool,
) -> list[MessageIn]:
    """Up to each lane's count of due rows per priority present in it (``lanes``: gate and how many it may give),
    in claim order. On PostgreSQL the rows read are locked (skipping rows other claimers hold)."""
    locking = db.get_bind().dialect.name == "postgresql"
    query = _lane_query(session is not None, only_reminders, locking)
    found: list[MessageIn] = []
    for gate, count in lanes:
        if count <= 0:
            continue
        for level in db.execute(_LEVELS, {"gate": gate}).scalars():
            params = {"gate": gate, "level": level, "now": now, "limit": count}
            found.extend(db.exec(query, params=params if session is None else {**params, "session": session}))
    found.sort(key=lambda row: claim_order(row, now))
    return found
