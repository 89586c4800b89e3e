"""What the dashboard's events page reads: events newest first (by id, or by name through ``ix_events_name``),
what each did to the series it matched, and the hooks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from inbox.store.pages import Page
from inbox.store.trigger_tables import Event, EventMatch, Hook


def events_page(db: Session, *, name: str | None, before: str | None, limit: int) -> Page[Event]:
    """A page of events newest first, of one name or all, older than the event ``before``."""
    query = select(Event)
    if name is not None:
        query = query.where(Event.name == name)
    if before is not None:
        query = query.where(col(Event.id) < before)
    found = db.exec(query.order_by(col(Event.id).desc()).limit(limit + 1)).all()
    return Page(list(found[:limit]), len(found) > limit)


def matches_of(db: Session, event_ids: Sequence[str]) -> dict[str, list[EventMatch]]:
    """What each event did to each series it matched (by the primary key: event first)."""
    found: dict[str, list[EventMatch]] = {event_id: [] for event_id in event_ids}
    if event_ids:
        query = select(EventMatch).where(col(EventMatch.event_id).in_(list(event_ids)))
        for match in db.exec(query.order_by(col(EventMatch.event_id), col(EventMatch.series_id))).all():
            found[match.event_id].append(match)
    return found


def hooks(db: Session) -> list[Hook]:
    return list(db.exec(select(Hook).order_by(col(Hook.name))).all())
