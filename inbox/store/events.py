"""Emitting events: record each, and start one occurrence of every active series whose pattern matches it.

One transaction per call, for one event or a batch. What an event did to each series is one row of
``event_matches`` keyed by (event, series), so a series is never started twice for one event, whichever host
writes it. The decision per series is made with its live row locked (as pause, cancel and every other emit lock
it), so on PostgreSQL two emits that reach one series take turns and each sees what the other did:

* a paused, cancelled or ended series is left alone (no row);
* otherwise an occurrence is started (``started``), or, when another occurrence of the series is running or
  waiting, queued behind it (``queued``: claims never run two occurrences of a series at once);
* a series keeps at most :data:`WAITING_PER_SERIES` event-started occurrence waiting behind the one running (or
  about to run): a later event is recorded ``coalesced`` and starts nothing.

An idempotency key is unique per scope (the event's session, or "" for an event for every session) among events
younger than :data:`KEY_WINDOW`: an emit with a key in use answers the first event and writes nothing. The unique
index on (key, scope) decides between two emits racing with one key: the later one's insert fails in a savepoint
and it answers the earlier one.

Costs: an event reads only the patterns under its own first word and those starting with a wildcard (one indexed
query per first word in a batch), and only the series it matches are locked and looked at (one query per batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from inbox.enums import LIVE_STATUSES, MatchState, Status
from inbox.ids import new_id
from inbox.store import series, triggers
from inbox.store.bulk import insert_dicts
from inbox.store.lookup import live_row
from inbox.store.models import MessageIn
from inbox.store.trigger_tables import Event, EventMatch
from inbox.store.types import Clock

KEY_WINDOW = timedelta(hours=24)
WAITING_PER_SERIES = 1  # event-started occurrences waiting behind the one running (or about to run)
CHUNK = 500  # series ids per query (SQLite allows some thousands of parameters)
_LIVE = [s.value for s in LIVE_STATUSES]
_EVENTS = Event.__table__  # type: ignore[attr-defined]
_EVENT_COLUMNS = tuple(column.name for column in _EVENTS.columns)
# Built once: building a statement anew costs more than SQLite running it.
_IDS: Any = bindparam("ids", expanding=True)
_LIVE_HEADS = (
    select(MessageIn.id, MessageIn.series_id, MessageIn.status, MessageIn.next_status)
    .where(col(MessageIn.series_id).in_(_IDS), col(MessageIn.is_extra).is_(False), col(MessageIn.status).in_(_LIVE))
    .order_by(col(MessageIn.series_id))
    .with_for_update()
)
_STARTED_BY_EVENT = col(MessageIn.content)["event"].as_string().is_not(None)
_EXTRAS = (
    select(MessageIn.series_id, MessageIn.status, _STARTED_BY_EVENT)
    .where(
        col(MessageIn.series_id).in_(_IDS),
        col(MessageIn.is_extra).is_(True),
        col(MessageIn.status).in_([Status.PENDING.value, Status.RUNNING.value]),
    )
    # SQLite would walk every pending row of the store by the due index; a series has only a few rows
    .with_hint(MessageIn, "INDEXED BY ix_messages_in_series", dialect_name="sqlite")
)
_MATCHES = EventMatch.__table__  # type: ignore[attr-defined]
_MATCH_COLUMNS = tuple(column.name for column in _MATCHES.columns)


@dataclass(frozen=True)
class NewEvent:
    """An event to emit, its name, data, session and key already checked."""

    name: str
    data: Any = None
    session: str | None = None  # None: for every session's tasks
    key: str | None = None
    depth: int = 0  # how many events emitted by runs that events started led to this one


@dataclass(slots=True)
class EventRecord:
    """A row of ``events`` (plain: a batch builds a thousand, and a table model costs ten times as much)."""

    id: str
    name: str
    session: str | None
    data: Any
    key: str | None
    scope: str
    created_by: str
    created_at: datetime

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _EVENT_COLUMNS}


@dataclass(slots=True)
class MatchRecord:
    """A row of ``event_matches``: what one event did to one series."""

    event_id: str
    series_id: str
    state: MatchState
    created_at: datetime
    message_id: str | None = None

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _MATCH_COLUMNS}


@dataclass(frozen=True)
class Emitted:
    """What an emit did. ``duplicate``: the key was in use; ``event`` is the first event, nothing was started."""

    event: EventRecord
    matches: tuple[MatchRecord, ...]
    duplicate: bool = False


def event_content(event: EventRecord, *, depth: int = 0) -> dict[str, Any]:
    """What an occurrence an event started carries (``content["event"]``): the runner hands it to the pre-script
    and the model. ``depth`` counts events emitted by runs that events started (the agent's ``emit_event``)."""
    return {"event": {"id": event.id, "name": event.name, "data": event.data, "session": event.session, "depth": depth}}


def emit(db: Session, new: NewEvent, *, now: datetime, created_by: str, clock: Clock | None = None) -> Emitted:
    """Record one event and start what it matches (see the module's text)."""
    return emit_many(db, [new], now=now, created_by=created_by, clock=clock)[0]


def emit_many(
    db: Session, new: Sequence[NewEvent], *, now: datetime, created_by: str, clock: Clock | None = None
) -> list[Emitted]:
    """Record the events in order and start what each matches, all in the caller's transaction.

    The events carry ``now``; what they start and their matches carry ``clock()`` read once the matched series
    are locked (PostgreSQL may wait there for another emit or a claim): an occurrence is never stamped with a
    time before the state it was decided on."""
    answers: list[Emitted | None] = []
    recorded: list[tuple[int, EventRecord, NewEvent]] = []
    for index, wanted in enumerate(new):
        event = EventRecord(
            id=new_id(),
            name=wanted.name,
            session=wanted.session,
            data=wanted.data,
            key=wanted.key,
            scope=wanted.session or "",
            created_by=created_by,
            created_at=now,
        )
        first = _claim_key(db, event, now) if wanted.key is not None else None
        answers.append(first)
        if first is None:
            recorded.append((index, event, wanted))
    insert_dicts(db, _EVENTS, [event.row() for _, event, wanted in recorded if wanted.key is None])
    candidates = triggers.Candidates(db, [event.name for _, event, _ in recorded])
    found = {index: candidates.matching(event.name, event.session) for index, event, _ in recorded}
    decide = _Decisions(db, now)
    decide.load({series_id for ids in found.values() for series_id in ids})
    if clock is not None:
        decide.now = max(now, clock())
    matches_of: dict[int, list[MatchRecord]] = {}
    for index, event, wanted in recorded:
        content = event_content(event, depth=wanted.depth)
        matches_of[index] = [m for m in (decide.match(event, sid, content) for sid in found[index]) if m is not None]
    decide.start()
    insert_dicts(db, _MATCHES, [m.row() for ms in matches_of.values() for m in ms])
    for index, event, _ in recorded:
        answers[index] = Emitted(event=event, matches=tuple(matches_of[index]))
    return [answer for answer in answers if answer is not None]


def _claim_key(db: Session, event: EventRecord, now: datetime) -> Emitted | None:
    """None when ``event`` now holds its key (it is inserted); else the answer of the event that holds it."""
    assert event.key is not None
    first = _keyed(db, event.key, event.scope, now)
    if first is not None:
        return first
    try:
        with db.begin_nested():
            insert_dicts(db, _EVENTS, [event.row()])
    except IntegrityError:  # another emit with this key committed first (PostgreSQL waits for it, then fails)
        first = _keyed(db, event.key, event.scope, now)
        assert first is not None
        return first
    return None


def _keyed(db: Session, key: str, scope: str, now: datetime) -> Emitted | None:
    """The event that holds ``key`` in ``scope``, once an older holder has let it go."""
    expired = update(Event).where(
        col(Event.key) == key, col(Event.scope) == scope, col(Event.created_at) <= now - KEY_WINDOW
    )
    db.execute(expired.values(key=None))
    first = db.exec(select(Event).where(Event.key == key, Event.scope == scope)).first()
    if first is None:
        return None
    event = EventRecord(**{name: getattr(first, name) for name in _EVENT_COLUMNS})
    matches = [
        MatchRecord(**{name: getattr(match, name) for name in _MATCH_COLUMNS})
        for match in matches_of_event(db, first.id)
    ]
    return Emitted(event=event, matches=tuple(matches), duplicate=True)


@dataclass(frozen=True)
class _Head:
    """A series' live row, as far as starting it goes."""

    id: str
    status: str
    next_status: str | None


@dataclass
class _Series:
    """What an emit needs to know about one series, read once per batch with its live row locked."""

    live: _Head | None  # None: ended
    running: bool = False
    waiting: int = 0  # event-started occurrences pending


@dataclass
class _Decisions:
    db: Session
    now: datetime
    known: dict[str, _Series] = field(default_factory=dict)
    starts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # live row id, content
    started: list[MatchRecord] = field(default_factory=list)  # the match of each of ``starts``

    def load(self, series_ids: set[str]) -> None:
        """Lock the live rows of ``series_ids`` (in id order, as every emit does, so two emits never wait for each
        other in a circle) and read what is running and waiting in each."""
        wanted = sorted(series_ids)
        heads: dict[str, _Head] = {}
        extras: list[tuple[str, str, bool]] = []
        for start in range(0, len(wanted), CHUNK):
            chunk = {"ids": wanted[start : start + CHUNK]}
            heads.update(
                (sid, _Head(rid, status, after)) for rid, sid, status, after in self.db.execute(_LIVE_HEADS, chunk)
            )
            extras.extend((sid, status, bool(by_event)) for sid, status, by_event in self.db.execute(_EXTRAS, chunk))
        for series_id in wanted:
            live = heads.get(series_id)
            if live is None:  # PostgreSQL: ended while we waited for it; its follow-up is a new row
                row = live_row(self.db, series_id, lock=True)
                live = _Head(row.id, row.status, row.next_status) if row is not None else None
            self.known[series_id] = _Series(live=live, running=live is not None and live.status == Status.RUNNING)
        for series_id, status, by_event in extras:
            state = self.known[series_id]
            state.running |= status == Status.RUNNING
            state.waiting += status == Status.PENDING and by_event

    def match(self, event: EventRecord, series_id: str, content: dict[str, Any]) -> MatchRecord | None:
        state = self.known[series_id]
        if state.live is None or series.refusal(state.live, state.live) is not None:
            return None  # paused, cancelled or ended: left alone
        if state.waiting >= WAITING_PER_SERIES + (0 if state.running else 1):
            return MatchRecord(event_id=event.id, series_id=series_id, state=MatchState.COALESCED, created_at=self.now)
        queued = state.running or state.waiting > 0
        state.waiting += 1
        match = MatchRecord(
            event_id=event.id,
            series_id=series_id,
            state=MatchState.QUEUED if queued else MatchState.STARTED,
            created_at=self.now,
        )
        self.starts.append((state.live.id, content))
        self.started.append(match)
        return match

    def start(self) -> None:
        """Write the occurrences decided on, from their series' live rows (locked in :meth:`load`)."""
        ids = sorted({row_id for row_id, _ in self.starts})
        rows: dict[str, MessageIn] = {}
        for start in range(0, len(ids), CHUNK):
            found = self.db.exec(select(MessageIn).where(col(MessageIn.id).in_(ids[start : start + CHUNK])))
            rows.update((row.id, row) for row in found)
        written = series.start_extras(
            self.db, [(rows[row_id], content) for row_id, content in self.starts], now=self.now
        )
        for match, row_id in zip(self.started, written, strict=True):
            match.message_id = row_id


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
