"""Read-side queries: one row per series, run history, the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from inbox.enums import LIVE_STATUSES, Status, TaskFilter
from inbox.store.models import MessageIn, MessageOut, Run

_LIVE = [s.value for s in LIVE_STATUSES]


def series_heads(db: Session, *, status: TaskFilter, session: str | None) -> list[MessageIn]:
    """The row holding each series' current definition: its live row, else its newest chain row."""
    newest = (
        select(func.max(MessageIn.id))
        .where(col(MessageIn.series_id).is_not(None), col(MessageIn.is_extra).is_(False))
        .group_by(col(MessageIn.series_id))
    )
    if session is not None:
        newest = newest.where(MessageIn.session == session)
    query = select(MessageIn).where(col(MessageIn.id).in_(newest))
    if status == TaskFilter.ACTIVE:
        query = query.where(col(MessageIn.status).in_([Status.PENDING.value, Status.RUNNING.value]))
    elif status == TaskFilter.PAUSED:
        query = query.where(MessageIn.status == Status.PAUSED)
    elif status == TaskFilter.ENDED:
        query = query.where(col(MessageIn.status).not_in(_LIVE))
    rows = list(db.exec(query).all())
    rows.sort(key=lambda r: (not Status(r.status).is_live, r.process_after, r.id))
    return rows


def run_stats(db: Session, series_ids: list[str]) -> dict[str, tuple[int, str | None]]:
    """Per series: how many runs were recorded and the outcome of the newest."""
    if not series_ids:
        return {}
    counts = db.exec(
        select(Run.series_id, func.count(), func.max(Run.id))
        .where(col(Run.series_id).in_(series_ids))
        .group_by(col(Run.series_id))
    ).all()
    newest_ids = [newest for _, _, newest in counts]
    outcomes = dict(db.exec(select(Run.id, Run.outcome).where(col(Run.id).in_(newest_ids))).all())
    return {sid: (int(n), outcomes.get(newest)) for sid, n, newest in counts if sid is not None}


def runs_of(db: Session, series_id: str, *, limit: int, outcome: str | None) -> list[Run]:
    query = select(Run).where(Run.series_id == series_id)
    if outcome is not None:
        query = query.where(Run.outcome == outcome)
    return list(db.exec(query.order_by(col(Run.id).desc()).limit(limit)).all())


def runs_of_message(db: Session, message_id: str, *, limit: int, outcome: str | None) -> list[Run]:
    """Every attempt at one inbound row (a chat message's, or one occurrence's), newest first."""
    query = select(Run).where(Run.message_id == message_id)
    if outcome is not None:
        query = query.where(Run.outcome == outcome)
    return list(db.exec(query.order_by(col(Run.id).desc()).limit(limit)).all())


def series_created(db: Session, series_ids: list[str]) -> dict[str, datetime]:
    """When each series was made: its first row's ``created_at`` (that row's id is the series id, and retention
    keeps it)."""
    if not series_ids:
        return {}
    found = db.exec(select(MessageIn.id, MessageIn.created_at).where(col(MessageIn.id).in_(series_ids))).all()
    return {row_id: created for row_id, created in found}


def series_names(db: Session, series_ids: list[str]) -> dict[str, str]:
    """The current name of each named series (its newest chain row's); unnamed series are left out."""
    wanted = sorted(set(series_ids))
    if not wanted:
        return {}
    newest = (
        select(func.max(MessageIn.id))
        .where(col(MessageIn.series_id).in_(wanted), col(MessageIn.is_extra).is_(False))
        .group_by(col(MessageIn.series_id))
    )
    found = db.exec(select(MessageIn.series_id, MessageIn.name).where(col(MessageIn.id).in_(newest))).all()
    return {series_id: name for series_id, name in found if series_id and name}


def heads_of(db: Session, series_ids: list[str]) -> list[MessageIn]:
    """The row holding each of these series' current definition (its live row, else its newest chain row)."""
    if not series_ids:
        return []
    newest = (
        select(func.max(MessageIn.id))
        .where(col(MessageIn.series_id).in_(sorted(set(series_ids))), col(MessageIn.is_extra).is_(False))
        .group_by(col(MessageIn.series_id))
    )
    return list(db.exec(select(MessageIn).where(col(MessageIn.id).in_(newest)).order_by(col(MessageIn.series_id))))


def outbox(db: Session, *, session: str | None, after_id: str | None, limit: int) -> list[MessageOut]:
    query = select(MessageOut)
    if session is not None:
        query = query.where(MessageOut.session == session)
    if after_id is not None:
        query = query.where(col(MessageOut.id) > after_id)
        return list(db.exec(query.order_by(col(MessageOut.id)).limit(limit)).all())
    newest = list(db.exec(query.order_by(col(MessageOut.id).desc()).limit(limit)).all())
    return newest[::-1]
