"""Emitting an event: record it, and start one occurrence of every active series whose pattern matches it.

One transaction per event. What the event did to each series is one row of ``event_matches`` keyed by (event,
series), so a series is never started twice for one event, whichever host writes it. The decision per series is
made with its live row locked (as pause, cancel and every other emit lock it), so on PostgreSQL two emits that
reach one series take turns and both see what the other did:

* a paused, cancelled or ended series is left alone (no row);
* otherwise an occurrence is started (``started``), or, when one of the series is running, queued behind it
  (``queued``: claims never run two occurrences of a series at once);
* a series keeps at most one event-started occurrence waiting behind the one running (or about to run): a later
  event is recorded ``coalesced`` and starts nothing.

An idempotency key is unique per scope (the event's session, or "" for an event for every session) among events
younger than :data:`KEY_WINDOW`: an emit with a key in use answers the first event and writes nothing. The unique
index on (key, scope) decides between two emits racing with one key; the later one's insert fails in a savepoint
and it answers the earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from inbox.enums import MatchState, Status
from inbox.store import series, triggers
from inbox.store.lookup import live_row
from inbox.store.models import Event, EventMatch, MessageIn

KEY_WINDOW = timedelta(hours=24)
WAITING_PER_SERIES = 1  # event-started occurrences waiting behind the one running (or about to run)
_ACTIVE = (Status.PENDING, Status.RUNNING)


@dataclass(frozen=True)
class Emitted:
    """What an emit did. ``duplicate``: the key was in use; ``event`` is the first event, nothing was started."""

    event: Event
    matches: tuple[EventMatch, ...]
    duplicate: bool = False


def event_content(event: Event, *, depth: int = 0) -> dict[str, Any]:
    """What an occurrence an event started carries (``content["event"]``): the runner hands it to the pre-script
    and the model. ``depth`` counts events emitted by runs that events started (the agent's ``emit_event``)."""
    return {"event": {"id": event.id, "name": event.name, "data": event.data, "session": event.session, "depth": depth}}


def emit(
    db: Session,
    *,
    name: str,
    data: Any,
    session: str | None,
    key: str | None,
    now: datetime,
    created_by: str,
    depth: int = 0,
) -> Emitted:
    """Record the event (name, data and key already checked) and start what it matches; see the module's text."""
    scope = session or ""
    if key is not None:
        first = _keyed(db, key, scope, now)
        if first is not None:
            return first
    event = Event(name=name, session=session, data=data, key=key, scope=scope, created_by=created_by, created_at=now)
    if key is not None:
        try:
            with db.begin_nested():
                db.add(event)
        except IntegrityError:  # another emit with this key committed first (PostgreSQL waits for it, then fails)
            first = _keyed(db, key, scope, now)
            assert first is not None
            return first
    else:
        db.add(event)
    db.flush()
    content = event_content(event, depth=depth)
    matches = []
    for series_id in triggers.matching(db, name, session):
        match = _start(db, event, series_id, content, now=now)
        if match is not None:
            db.add(match)
            matches.append(match)
    db.flush()
    return Emitted(event=event, matches=tuple(matches))


def _keyed(db: Session, key: str, scope: str, now: datetime) -> Emitted | None:
    """The event that holds ``key`` in ``scope``, once an older holder has let it go."""
    expired = update(Event).where(
        col(Event.key) == key, col(Event.scope) == scope, col(Event.created_at) <= now - KEY_WINDOW
    )
    db.execute(expired.values(key=None))
    first = db.exec(select(Event).where(Event.key == key, Event.scope == scope)).first()
    if first is None:
        return None
    return Emitted(event=first, matches=tuple(matches_of_event(db, first.id)), duplicate=True)


def _start(db: Session, event: Event, series_id: str, content: dict[str, Any], *, now: datetime) -> EventMatch | None:
    live = live_row(db, series_id, lock=True)  # the decision below holds until this transaction ends
    if live is None or live.status == Status.PAUSED or live.next_status in (Status.PAUSED, Status.CANCELLED):
        return None
    rows = db.exec(
        select(MessageIn.status, MessageIn.is_extra, MessageIn.content).where(
            MessageIn.series_id == series_id, col(MessageIn.status).in_([s.value for s in _ACTIVE])
        )
    ).all()
    running = any(status == Status.RUNNING for status, _, _ in rows)
    waiting = sum(1 for status, extra, body in rows if status == Status.PENDING and extra and "event" in body)
    if waiting >= WAITING_PER_SERIES + (0 if running else 1):
        return EventMatch(event_id=event.id, series_id=series_id, state=MatchState.COALESCED, created_at=now)
    row = series.start_extra(db, series_id, now=now, content=content)
    state = MatchState.QUEUED if running or waiting else MatchState.STARTED
    return EventMatch(event_id=event.id, series_id=series_id, message_id=row.id, state=state, created_at=now)


def matches_of_event(db: Session, event_id: str) -> list[EventMatch]:
    query = select(EventMatch).where(EventMatch.event_id == event_id).order_by(col(EventMatch.series_id))
    return list(db.exec(query).all())


def recent_for_series(db: Session, series_id: str, *, limit: int) -> list[tuple[EventMatch, Event]]:
    """The newest events that matched ``series_id`` (coalesced ones too), newest first."""
    query = (
        select(EventMatch, Event)
        .join(Event, col(Event.id) == col(EventMatch.event_id))
        .where(EventMatch.series_id == series_id)
        .order_by(col(EventMatch.event_id).desc())
        .limit(limit)
    )
    return [(match, event) for match, event in db.exec(query).all()]
