"""The reads behind ``inbox tasks|runs|outbox`` and their ``/v1`` routes: one page after a sort key, and how many
rows follow a key (stopping at :data:`inbox.paging.COUNT_CAP`).

Each page walks an index in the listing's order from the key of the previous page's last row (never an offset)
and reads one row more than asked, to know whether another page follows:

- tasks: the live series soonest next run first (``ix_messages_in_status_due``, one range per status, merged), then
  (``--status ended|all``) the ended series newest first (:func:`inbox.store.pages.ended_series`);
- a task's runs (``ix_runs_series``) or a message's attempts (``ix_runs_message``), the latest started first;
- the outbox by id (the primary key, or ``ix_messages_out_session`` for one session): older from the newest, or
  newer from an ``after`` id.

A key is a tuple of text (:data:`inbox.paging.Key`): what a cursor carries.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from inbox.enums import Status, TaskFilter
from inbox.paging import COUNT_CAP, Count, Key, capped, instant, refused
from inbox.store import pages
from inbox.store.models import MessageIn, MessageOut, Run

LIVE, ENDED = "live", "ended"  # the two parts of the tasks listing, the first part of its keys
OLDER, NEWER = "older", "newer"  # the outbox's two walks
_STATUSES = {
    TaskFilter.ACTIVE: [Status.PENDING.value, Status.RUNNING.value],
    TaskFilter.PAUSED: [Status.PAUSED.value],
    TaskFilter.ENDED: [],
    TaskFilter.ALL: [Status.PENDING.value, Status.RUNNING.value, Status.PAUSED.value],
}
_LIVE = [s.value for s in Status if s.is_live]
Found = tuple[list[MessageIn], Key | None]


def task_key(row: MessageIn) -> Key:
    if Status(row.status).is_live:
        return (LIVE, row.process_after.isoformat(), row.id)
    return (ENDED, row.series_id or row.id, "")


def _live_start(after: Key | None) -> tuple[datetime, str] | None:
    if after is not None and after[0] not in (LIVE, ENDED):
        raise refused()
    return (instant(after[1]), after[2]) if after is not None and after[0] == LIVE else None


def tasks(
    db: Session, *, status: TaskFilter, session: str | None, tag: str | None = None, after: Key | None, limit: int
) -> Found:
    """The head rows of the next ``limit`` series after ``after``, and the key of the last if more follow."""
    found: list[MessageIn] = []
    start = _live_start(after)
    if after is None or after[0] == LIVE:
        for one in _STATUSES[status]:
            query = pages.live_rows(one, session=session, tag=tag, after=start)
            found += db.exec(query.order_by(col(MessageIn.process_after), col(MessageIn.id)).limit(limit + 1)).all()
        found.sort(key=lambda row: (row.process_after, row.id))
        found = found[: limit + 1]
    if len(found) <= limit and status in (TaskFilter.ENDED, TaskFilter.ALL):
        before = after[1] if after is not None and after[0] == ENDED else None
        ended = pages.ended_series(db, session=session, tag=tag, before=before, limit=limit + 1 - len(found))
        found += ended.rows  # as many as make the page and one more, if there are
    if len(found) > limit:
        return found[:limit], task_key(found[limit - 1])
    return found, None


def tasks_after(db: Session, *, status: TaskFilter, session: str | None, tag: str | None = None, after: Key) -> Count:
    """How many series follow the key ``after``: exact up to the cap among the live ones; ended ones are counted
    among the next :data:`COUNT_CAP` series ids walked, so a count that stopped there says "at least"."""
    total = 0
    if after[0] == LIVE:
        start = _live_start(after)
        for one in _STATUSES[status]:
            total += _count(db, pages.live_rows(one, session=session, tag=tag, after=start))
        if total > COUNT_CAP or status not in (TaskFilter.ENDED, TaskFilter.ALL):
            return capped(total)
    walked_ids = (
        pages.ended_ids(session=session, tag=tag, before=after[1] if after[0] == ENDED else None)
        .order_by(col(MessageIn.series_id).desc())
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    live = aliased(MessageIn)
    has_live = exists().where(
        col(live.series_id) == walked_ids.c.series_id, col(live.status).in_(_LIVE), col(live.is_extra).is_(False)
    )
    walked, ended = db.exec(select(func.count(), func.count().filter(~has_live)).select_from(walked_ids)).one()
    total += int(ended)
    if walked > COUNT_CAP:
        return Count(min(max(total, 1), COUNT_CAP), exact=False)
    return capped(total)


def _count(db: Session, query: SelectOfScalar[MessageIn] | SelectOfScalar[Run] | SelectOfScalar[MessageOut]) -> int:
    """How many rows ``query`` finds, reading at most ``COUNT_CAP + 1`` of them (their ids only: no row is loaded
    that the index and the filters do not need)."""
    table = query.get_final_froms()[0]
    walked = query.with_only_columns(table.c.id).limit(COUNT_CAP + 1).subquery()
    return int(db.exec(select(func.count()).select_from(walked)).one())


# -- runs ------------------------------------------------------------------------------------------------------
def run_key(run: Run) -> Key:
    return (run.started_at.isoformat(), run.id)


def _runs(*, series_id: str | None, message_id: str, outcome: str | None, after: Key | None) -> SelectOfScalar[Run]:
    query = select(Run).where(Run.series_id == series_id if series_id is not None else Run.message_id == message_id)
    if outcome is not None:
        query = query.where(Run.outcome == outcome)
    if after is not None:
        started, last_id = instant(after[0]), after[1]
        query = query.where(
            or_(col(Run.started_at) < started, and_(col(Run.started_at) == started, col(Run.id) < last_id))
        )
    return query


def runs(
    db: Session, *, series_id: str | None, message_id: str, outcome: str | None, after: Key | None, limit: int
) -> tuple[list[Run], Key | None]:
    """A series' runs (or, without one, a message's attempts), the latest started first."""
    query = _runs(series_id=series_id, message_id=message_id, outcome=outcome, after=after)
    found = list(db.exec(query.order_by(col(Run.started_at).desc(), col(Run.id).desc()).limit(limit + 1)).all())
    return (found[:limit], run_key(found[limit - 1])) if len(found) > limit else (found, None)


def runs_after(db: Session, *, series_id: str | None, message_id: str, outcome: str | None, after: Key) -> Count:
    return capped(_count(db, _runs(series_id=series_id, message_id=message_id, outcome=outcome, after=after)))


# -- the outbox ------------------------------------------------------------------------------------------------
def _outbox(*, session: str | None, after: Key) -> SelectOfScalar[MessageOut]:
    walk, last_id = after
    if walk not in (OLDER, NEWER):
        raise refused()
    query = select(MessageOut)
    if session is not None:
        query = query.where(MessageOut.session == session)
    if last_id:  # the first page of the walk to older items starts at the newest (an empty id)
        query = query.where(col(MessageOut.id) < last_id if walk == OLDER else col(MessageOut.id) > last_id)
    return query


def outbox(db: Session, *, session: str | None, after: Key, limit: int) -> tuple[list[MessageOut], Key | None]:
    """Outbox items after the key (walk, id): the walk to older items newest first, to newer ones oldest first."""
    order = col(MessageOut.id).desc() if after[0] == OLDER else col(MessageOut.id)
    found = list(db.exec(_outbox(session=session, after=after).order_by(order).limit(limit + 1)).all())
    return (found[:limit], (after[0], found[limit - 1].id)) if len(found) > limit else (found, None)


def outbox_after(db: Session, *, session: str | None, after: Key) -> Count:
    return capped(_count(db, _outbox(session=session, after=after)))
