"""The dashboard's reads: one page of rows at a time, each walking an index in its order and stopping at the page.

A page is ``limit`` rows after a *cursor* (the sort key of the last row shown), never an offset, so page 500 costs
what page 1 does. The live series are read from ``ix_messages_in_status_due`` (status, due time, id); runs from
``ix_runs_ended``; the outbox by its primary key or ``ix_messages_out_session``; a series' recent runs from
``ix_runs_series``. Each function reads one more row than asked, to know whether a next page exists.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, Engine, and_, func, or_
from sqlmodel import Session, col, select

from inbox.enums import Kind, Status, TaskFilter
from inbox.store import history, lookup, task_sql
from inbox.store.engine import read_transaction
from inbox.store.listings import SqlReader
from inbox.store.models import ConversationTurn, MessageIn, MessageOut, Run
from inbox.store.types import FOREVER

T = TypeVar("T")
_LIVE = [s.value for s in Status if s.is_live]
RECENT_RUNS = 12  # the strip of outcomes next to each task


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A read-only transaction for one page (PostgreSQL compiles none of its queries with JIT: inbox.store.engine)."""
    with read_transaction(engine) as db:
        yield db


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    more: bool  # whether a next page exists (the cursor of the last row reaches it)


def _page(found: Sequence[T], limit: int) -> Page[T]:
    return Page(list(found[:limit]), len(found) > limit)


def _chain() -> list[ColumnElement[bool]]:
    """Rows that carry a series forward: not a chat message, not a run-now or missed-slot record."""
    return [col(MessageIn.series_id).is_not(None), col(MessageIn.is_extra).is_(False)]


def live_series(
    db: Session,
    *,
    status: TaskFilter,
    session: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Page[MessageIn]:
    """Series whose live row has ``status`` (active: pending or running; paused), soonest next run first: the
    tasks listing's own SQL (inbox.store.task_sql)."""
    statuses = [Status.PAUSED.value] if status == TaskFilter.PAUSED else [Status.PENDING.value, Status.RUNNING.value]
    reader = SqlReader(db)
    found: list[MessageIn] = []
    for one in statuses:
        sql = task_sql.live_page(reader.dialect, one, session=session, tag=None, after=after, limit=limit + 1)
        found.extend(reader.rows(sql))
    found.sort(key=lambda row: (row.process_after, row.id))
    return _page(found, limit)


def heads(db: Session, series_ids: list[str]) -> list[MessageIn]:
    """The row holding each series' current definition (its newest chain row), in the order of ``series_ids``."""
    if not series_ids:
        return []
    reader = SqlReader(db)
    rows = {row.series_id: row for row in reader.rows(task_sql.heads(reader.dialect, series_ids))}
    return [rows[sid] for sid in series_ids if sid in rows]


def ended_series(
    db: Session, *, session: str | None, tag: str | None = None, before: str | None, limit: int
) -> Page[MessageIn]:
    """Series that have ended (no live row is left), the newest series first (inbox.store.task_sql.ended_page)."""
    reader = SqlReader(db)
    sql = task_sql.ended_page(reader.dialect, session=session, tag=tag, before=before, limit=limit + 1)
    return _page(heads(db, [sid for (sid,) in reader.values(sql) if sid]), limit)


def named_series(db: Session, search: str, *, limit: int = 200) -> list[MessageIn]:
    """The series a search names: by their name (exactly, ``ix_messages_in_name``) or by an id or its first
    six or more characters, as the command line finds a task. Newest series first."""
    query = select(MessageIn.series_id).where(MessageIn.name == search, *_chain()).distinct().limit(limit)
    found = {sid for sid in db.exec(query).all() if sid}
    if len(search) >= lookup.MIN_PREFIX and search.isalnum():
        by_id = select(MessageIn.series_id).where(col(MessageIn.id).startswith(search.upper()), *_chain())
        found |= {sid for sid in db.exec(by_id.limit(limit)).all() if sid}
    return heads(db, sorted(found, reverse=True)[:limit])


@dataclass(frozen=True)
class Tick:
    """One run in a series' strip of recent outcomes: only what the strip shows (no ORM object per run)."""

    id: str
    outcome: str
    ended_at: datetime


def recent_outcomes(db: Session, series_ids: list[str], *, per_series: int = RECENT_RUNS) -> dict[str, list[Tick]]:
    """The newest ``per_series`` runs of each series, newest first: one bounded index range per series."""
    if not series_ids:
        return {}
    ranked = (
        select(  # type: ignore[call-overload]
            Run.id,
            Run.series_id,
            Run.outcome,
            Run.ended_at,
            func.row_number()
            .over(partition_by=col(Run.series_id), order_by=(col(Run.started_at).desc(), col(Run.id).desc()))
            .label("rank"),
        )
        .where(col(Run.series_id).in_(series_ids))
        .subquery()
    )
    query = select(ranked.c.id, ranked.c.series_id, ranked.c.outcome, ranked.c.ended_at).where(
        ranked.c.rank <= per_series
    )
    found: dict[str, list[Tick]] = {sid: [] for sid in series_ids}
    for run_id, series_id, outcome, ended_at in db.exec(query.order_by(ranked.c.series_id, ranked.c.rank)).all():
        found.setdefault(series_id or "", []).append(Tick(run_id, str(outcome), ended_at))
    return found


def past_runs(
    db: Session,
    *,
    session: str | None,
    outcome: str | None,
    before: tuple[datetime, str] | None,
    limit: int,
    series_id: str | None = None,
) -> Page[Run]:
    """Runs, the most recently ended first (of one series when ``series_id`` is given)."""
    query = select(Run)
    if series_id is not None:
        query = query.where(Run.series_id == series_id)
    if session is not None:
        query = query.where(Run.session == session)
    if outcome is not None:
        query = query.where(Run.outcome == outcome)
    if before is not None:
        ended, last_id = before
        earlier = or_(col(Run.ended_at) < ended, and_(col(Run.ended_at) == ended, col(Run.id) < last_id))
        query = query.where(earlier)
    query = query.order_by(col(Run.ended_at).desc(), col(Run.id).desc()).limit(limit + 1)
    return _page(db.exec(query).all(), limit)


def upcoming(db: Session, *, session: str | None, limit: int, series_id: str | None = None) -> list[MessageIn]:
    """What is scheduled next (tasks and chat messages sent for later), soonest first; a task only events start
    has no time to show (its live row waits at FOREVER)."""
    query = select(MessageIn).where(MessageIn.status == Status.PENDING.value, col(MessageIn.process_after) < FOREVER)
    if series_id is not None:
        query = query.where(MessageIn.series_id == series_id)
    if session is not None:
        query = query.where(MessageIn.session == session)
    return list(db.exec(query.order_by(col(MessageIn.process_after), col(MessageIn.id)).limit(limit)).all())


def chat_messages(
    db: Session, *, status: str | None, session: str | None, before: str | None, limit: int
) -> Page[MessageIn]:
    """Chat messages (what people and clients sent, not task occurrences), newest first."""
    query = select(MessageIn).where(MessageIn.kind == Kind.CHAT.value)
    if status is not None:
        query = query.where(MessageIn.status == status)
    if session is not None:
        query = query.where(MessageIn.session == session)
    if before is not None:
        query = query.where(col(MessageIn.id) < before)
    return _page(db.exec(query.order_by(col(MessageIn.id).desc()).limit(limit + 1)).all(), limit)


def outbox_page(
    db: Session, *, session: str | None, kind: str | None, before: str | None, limit: int
) -> Page[MessageOut]:
    """Outbox items, newest first."""
    query = select(MessageOut)
    if session is not None:
        query = query.where(MessageOut.session == session)
    if kind is not None:
        query = query.where(MessageOut.kind == kind)
    if before is not None:
        query = query.where(col(MessageOut.id) < before)
    return _page(db.exec(query.order_by(col(MessageOut.id).desc()).limit(limit + 1)).all(), limit)


def answers_to(db: Session, message: MessageIn, *, limit: int = 20) -> list[MessageOut]:
    """What the outbox holds in reply to ``message``: items of its session made after it, oldest first."""
    query = (
        select(MessageOut)
        .where(MessageOut.session == message.session, col(MessageOut.id) > message.id[:10])
        .where(MessageOut.in_reply_to == message.id)
        .order_by(col(MessageOut.id))
        .limit(limit)
    )
    return list(db.exec(query).all())


def turns_of(db: Session, message: MessageIn, *, limit: int = 200) -> list[ConversationTurn]:
    """The conversation turns stored for one message (its prompt, the model's turns, tool calls and results)."""
    scope = history.scope_of(message)
    if scope is None:
        return []  # a fresh-context task keeps no conversation
    query = (
        select(ConversationTurn)
        .where(ConversationTurn.scope == scope, ConversationTurn.message_id == message.id)
        .order_by(col(ConversationTurn.id))
        .limit(limit)
    )
    return list(db.exec(query).all())


def chat_log(db: Session, *, session: str, limit: int) -> tuple[list[MessageOut], list[MessageIn]]:
    """A session's conversation as the chat page shows it: its newest outbox items (oldest first), and the chat
    messages they answer together with those still waiting for an answer."""
    items = list(
        db.exec(
            select(MessageOut).where(MessageOut.session == session).order_by(col(MessageOut.id).desc()).limit(limit)
        ).all()
    )[::-1]
    asked = sorted({item.in_reply_to for item in items if item.in_reply_to})
    messages = list(
        db.exec(select(MessageIn).where(col(MessageIn.id).in_(asked), MessageIn.kind == Kind.CHAT.value)).all()
    )
    waiting = db.exec(
        select(MessageIn).where(
            MessageIn.session == session,
            col(MessageIn.status).in_([Status.PENDING.value, Status.RUNNING.value]),
            MessageIn.kind == Kind.CHAT.value,
        )
    ).all()
    oldest = items[0].id if len(items) == limit else ""
    known = {m.id for m in messages}
    messages += [m for m in waiting if m.id not in known]
    messages = [m for m in messages if m.id >= oldest]
    messages.sort(key=lambda m: m.id)
    return items, messages
