"""Which sessions have due work a runner could claim now: what a sweep pass wakes runners for.

Rows waiting on a full tag limit do not count (a runner started for them would claim nothing), and neither does
what the caller's ``work`` filter leaves out (the reminders the host delivers itself). Nothing is counted in full:
the question is which sessions to wake, not how much they hold.

Two steps, each cheap where the other is not. First each session walks its own due rows, oldest first, through
the index of a session's rows, looking at no more than ``LOOKED_AT`` of them: a session whose oldest due rows
include claimable ones is answered at once. A session whose first ``LOOKED_AT`` due rows all wait on full limits
(a backlog held by a limit: it can be any size) is then looked for among the rows of the open lanes, through the
claim index, which holds the rows of each lane apart: those rows are few where runners keep up with them, and
the held backlog is never read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select, union_all
from sqlmodel import Session

from inbox.store.due import levels_query
from inbox.store.filters import PENDING
from inbox.store.limits import open_lanes
from inbox.store.models import MessageIn

COUNTED = 10  # claimable rows counted per session: enough to say a runner has work (a claim's batch)
LOOKED_AT = 20  # due rows a session's own walk looks at before leaving it to the open lanes' walk
_TABLE = MessageIn.__table__  # type: ignore[attr-defined]


def _walks(work: ColumnElement[bool], now: datetime, lanes: list[str]) -> Select[Any]:
    """Per session (a skip scan of the session index): its claimable rows among the first ``LOOKED_AT`` due rows
    of ``work``, and how many of those it looked at."""
    first = select(func.min(_TABLE.c.session)).scalar_subquery()
    sessions = select(first.label("name")).cte("sessions", recursive=True)
    following = select(func.min(_TABLE.c.session)).where(_TABLE.c.session > sessions.c.name).scalar_subquery()
    sessions = sessions.union_all(select(following).where(sessions.c.name.is_not(None)))
    oldest = (
        select(_TABLE.c.gate)
        .where(
            _TABLE.c.session == sessions.c.name,
            _TABLE.c.status == "pending",
            _TABLE.c.process_after <= now,
            work,
        )
        .order_by(_TABLE.c.process_after)
        .limit(LOOKED_AT)
        .correlate(sessions)
        .subquery()
    )
    looked = select(func.count()).select_from(oldest).scalar_subquery()
    claimable = select(func.count()).select_from(oldest).where(oldest.c.gate.in_(lanes)).scalar_subquery()
    return select(sessions.c.name, claimable, looked).where(sessions.c.name.is_not(None))


def _in_open_lanes(db: Session, work: ColumnElement[bool], now: datetime, lanes: list[str]) -> Select[Any]:
    """Every session's due rows of ``work`` in the open lanes, counted: one range of the claim index per lane and
    priority present in it (found as a claim finds them), so that no planner walks the rows held by full limits."""
    levels = db.connection().execute(levels_query(len(lanes)), {f"g{i}": gate for i, gate in enumerate(lanes)}).all()
    ranges = [
        select(_TABLE.c.session).where(
            PENDING,  # spelled out: only a literal lets the planners use the claim index, which holds pending rows
            _TABLE.c.gate == gate,
            _TABLE.c.priority == level,
            _TABLE.c.process_after <= now,
            work,
        )
        for gate, level in levels
    ]
    if not ranges:
        return select(_TABLE.c.session, func.count()).where(false()).group_by(_TABLE.c.session)
    rows = union_all(*ranges).subquery("due")
    return select(rows.c.session, func.count()).group_by(rows.c.session)


def waiting_sessions(db: Session, *, now: datetime, work: ColumnElement[bool]) -> dict[str, int]:
    """Sessions with due rows of ``work`` in an open lane, each with how many (up to ``COUNTED``). A row with a
    second limited tag that is full still counts: its lane is the first of its tags with a limit."""
    lanes = open_lanes(db, now=now)
    waiting: dict[str, int] = {}
    unsure: set[str] = set()
    for session, claimable, looked in db.execute(_walks(work, now, lanes)).all():
        if claimable:
            waiting[session] = min(int(claimable), COUNTED)
        elif looked == LOOKED_AT:
            unsure.add(session)  # its oldest due rows all wait on full limits: it may have others further on
    if unsure:
        for session, count in db.execute(_in_open_lanes(db, work, now, lanes)).all():
            if session in unsure:
                waiting[session] = min(int(count), COUNTED)
    return dict(sorted(waiting.items()))
