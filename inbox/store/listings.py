"""The reads behind ``inbox tasks|runs|outbox`` and their ``/v1`` routes: one page after a sort key, and how many
rows follow a key (stopping at :data:`inbox.paging.COUNT_CAP`).

Each page walks an index in the listing's order from the key of the previous page's last row (never an offset)
and reads one row more than asked, to know whether another page follows:

- tasks: the SQL text of inbox.store.task_sql (its one source, which the command line also runs without
  SQLAlchemy), run here through SQLAlchemy by :class:`SqlReader`;
- a task's runs (``ix_runs_series``) or a message's attempts (``ix_runs_message``), the latest started first;
- the outbox by id (the primary key, or ``ix_messages_out_session`` for one session): older from the newest, or
  newer from an ``after`` id.

A key is a tuple of text (:data:`inbox.paging.Key`): what a cursor carries.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import TextClause, and_, bindparam, func, or_, text
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from inbox.enums import TaskFilter
from inbox.paging import COUNT_CAP, Count, Key, capped, instant, refused
from inbox.store import task_sql
from inbox.store.models import MessageIn, MessageOut, Run
from inbox.store.task_sql import Sql
from inbox.store.types import UTCDateTime

OLDER, NEWER = "older", "newer"  # the outbox's two walks
_HEAD_COLUMNS = {column.name: column.type for column in MessageIn.__table__.columns}  # type: ignore[attr-defined]


class SqlReader:
    """inbox.store.task_sql's text run in a session: head rows as :class:`MessageIn`, instants bound as stored."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self.dialect = db.get_bind().dialect.name

    @staticmethod
    def _statement(sql: Sql) -> TextClause:
        typed = [bindparam(name, type_=UTCDateTime()) for name in sql.params if name in task_sql.INSTANTS]
        return text(sql.text).bindparams(*typed)

    def rows(self, sql: Sql) -> list[MessageIn]:
        loaded = select(MessageIn).from_statement(self._statement(sql).columns(**_HEAD_COLUMNS))
        return list(self.db.execute(loaded, sql.params).scalars().all())

    def values(self, sql: Sql) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.db.execute(self._statement(sql), sql.params).all()]


def tasks(
    db: Session, *, status: TaskFilter, session: str | None, tag: str | None = None, after: Key | None, limit: int
) -> tuple[list[MessageIn], Key | None]:
    """The head rows of the next ``limit`` series after ``after``, and the key of the last if more follow."""
    return task_sql.tasks(SqlReader(db), status=status, session=session, tag=tag, after=after, limit=limit)


def tasks_after(db: Session, *, status: TaskFilter, session: str | None, tag: str | None = None, after: Key) -> Count:
    """How many series follow the key ``after`` (inbox.store.task_sql.tasks_after)."""
    return task_sql.tasks_after(SqlReader(db), status=status, session=session, tag=tag, after=after)


def _count(db: Session, query: SelectOfScalar[Run] | SelectOfScalar[MessageOut]) -> int:
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
