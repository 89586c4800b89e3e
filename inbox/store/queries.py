"""Read-side queries: what a series has run, when it was made, its name and definition; a message's attempts.

The listings (tasks, runs, the outbox), a page at a time, are :mod:`inbox.store.listings`'.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from inbox.enums import LIVE_STATUSES
from inbox.store.models import MessageIn, Run

_LIVE = [s.value for s in LIVE_STATUSES]


def runs_of_message(db: Session, message_id: str, *, limit: int, outcome: str | None) -> list[Run]:
    """Every attempt at one inbound row (a chat message's, or one occurrence's), newest first."""
    query = select(Run).where(Run.message_id == message_id)
    if outcome is not None:
        query = query.where(Run.outcome == outcome)
    return list(db.exec(query.order_by(col(Run.id).desc()).limit(limit)).all())


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


def head_states(db: Session, series_ids: list[str]) -> list[tuple[str, str | None, str, str | None]]:
    """(series id, name, status, next status) of each of these series' head row (as :func:`heads_of` finds it),
    by series id: four columns, no row objects, for a graph of a thousand tasks."""
    if not series_ids:
        return []
    query = (
        select(MessageIn.series_id, MessageIn.name, MessageIn.status, MessageIn.next_status)
        .where(col(MessageIn.id).in_(_head_ids(series_ids)))
        .order_by(col(MessageIn.series_id))
    )
    return [(str(sid), name, str(status), next_status) for sid, name, status, next_status in db.exec(query).all()]


def heads_of(db: Session, series_ids: list[str]) -> list[MessageIn]:
    """The row holding each of these series' current definition (its live row, else its newest chain row)."""
    if not series_ids:
        return []
    heads = select(MessageIn).where(col(MessageIn.id).in_(_head_ids(series_ids)))
    return list(db.exec(heads.order_by(col(MessageIn.series_id))))


def _head_ids(series_ids: list[str]) -> Any:
    """The id of each series' head row: its newest chain row (the live one while it lives)."""
    return (
        select(func.max(MessageIn.id))
        .where(col(MessageIn.series_id).in_(sorted(set(series_ids))), col(MessageIn.is_extra).is_(False))
        .group_by(col(MessageIn.series_id))
    )
