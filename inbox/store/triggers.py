"""The patterns series listen to (``--on``), kept as an index an event finds its candidates by.

The series' own definition keeps its patterns too (``content["on"]``, shown by listings and copied onto each
occurrence); this table mirrors it so that an emit reads only the patterns that can match its name: those under
the event's first word and those that start with a wildcard (inbox.event_names.head_of), never all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlmodel import Session, col, select

from inbox.event_names import ANY_HEAD, head_of, matches, name_head
from inbox.store.models import EventTrigger


def replace(db: Session, series_id: str, session: str, patterns: Sequence[str]) -> None:
    """The patterns ``series_id`` listens to from now on (none: it listens to no event)."""
    db.execute(delete(EventTrigger).where(col(EventTrigger.series_id) == series_id))
    for pattern in dict.fromkeys(patterns):
        db.add(EventTrigger(series_id=series_id, pattern=pattern, head=head_of(pattern), session=session))
    db.flush()


def matching(db: Session, name: str, session: str | None) -> list[str]:
    """The series (sorted ids) with a pattern matching the event ``name``; with ``session``, that session's only.

    Whether each is active is for the caller to see: it must lock the series to know for sure."""
    query = select(EventTrigger.series_id, EventTrigger.pattern).where(
        col(EventTrigger.head).in_([name_head(name), ANY_HEAD])
    )
    if session is not None:
        query = query.where(EventTrigger.session == session)
    return sorted({series_id for series_id, pattern in db.exec(query).all() if matches(pattern, name)})
