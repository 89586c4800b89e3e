"""The ``state`` a series' pre-script hands to the series' next run: one row per series, beside its occurrences.

Kept with the series rather than on its rows, so whichever occurrence runs next (the chain's follow-up, a run-now,
one an event started) reads the newest, and no row has to be rewritten when it changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from inbox.store.trigger_tables import SeriesState


def states_of(db: Session, series_ids: list[str]) -> dict[str, Any]:
    """The kept state of each of ``series_ids`` that has one."""
    wanted = sorted(set(series_ids))
    if not wanted:
        return {}
    found = db.exec(select(SeriesState.series_id, SeriesState.state).where(col(SeriesState.series_id).in_(wanted)))
    return {series_id: state for series_id, state in found.all()}


def keep(db: Session, series_id: str, state: Any, *, now: datetime) -> None:
    """``state`` is what the series' next run reads (None too: the next run reads null)."""
    row = db.get(SeriesState, series_id, with_for_update=True)
    if row is None:
        db.add(SeriesState(series_id=series_id, state=state, updated_at=now))
    else:
        row.state, row.updated_at = state, now
    db.flush()
