"""Emitting events through the Python API (``Inbox.emit``): input checked, then one transaction (docs/events.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from inbox import validation as check
from inbox.enums import MatchState
from inbox.errors import InvalidInput
from inbox.event_names import check_data, check_key, check_name
from inbox.store import events
from inbox.store.engine import read_transaction, transaction
from inbox.store.lookup import find_series_id
from inbox.store.models import MessageIn
from inbox.store.types import Clock
from inbox.trigger_views import EventEmitted, EventSeen


def emit(
    engine: Engine,
    name: str,
    data: Any = None,
    *,
    session: str | None,
    key: str | None,
    clock: Clock,
    actor: str,
    depth: int = 0,
) -> EventEmitted:
    """Check every input first (InvalidInput naming the field; nothing written), then record and start.

    ``clock`` is read inside the transaction, once it holds its locks: an emit that waited for another writer
    does not stamp what it starts with a time before the other's (docs/events.md)."""
    check_name(name, field="name")
    check_data(data, field="data")
    if session is not None:
        check.session_name(session)
    check_key(key, field="key")
    with transaction(engine) as db:
        new = events.NewEvent(name=name, data=data, session=session, key=key, depth=depth)
        return emitted_view(events.emit(db, new, now=clock(), created_by=actor, clock=clock))


def emit_many(engine: Engine, given: Sequence[Mapping[str, Any]], *, clock: Clock, actor: str) -> list[EventEmitted]:
    """Many events in one transaction (all or nothing), in order; each is checked first, its fields named
    ``events[i].name`` and so on."""
    new = []
    for index, fields in enumerate(given):
        where = f"events[{index}]"
        unknown = set(fields) - {"name", "data", "session", "key"}
        if unknown:
            raise InvalidInput(f"{where}.{sorted(unknown)[0]}", "is not a field of an event (name, data, session, key)")
        if "name" not in fields:
            raise InvalidInput(f"{where}.name", "is required")
        session = fields.get("session")
        if session is not None:
            try:
                check.session_name(session)
            except InvalidInput as exc:
                raise InvalidInput(f"{where}.session", exc.reason) from None
        new.append(
            events.NewEvent(
                name=check_name(fields["name"], field=f"{where}.name"),
                data=check_data(fields.get("data"), field=f"{where}.data"),
                session=session,
                key=check_key(fields.get("key"), field=f"{where}.key"),
            )
        )
    with transaction(engine) as db:
        done = events.emit_many(db, new, now=clock(), created_by=actor, clock=clock)
        return [emitted_view(one) for one in done]


def emitted_view(done: events.Emitted) -> EventEmitted:
    started = [m.series_id for m in done.matches if m.state != MatchState.COALESCED]
    return EventEmitted(
        id=done.event.id,
        name=done.event.name,
        session=done.event.session,
        matched=started,
        queued=[m.series_id for m in done.matches if m.state == MatchState.QUEUED],
        coalesced=[m.series_id for m in done.matches if m.state == MatchState.COALESCED],
        duplicate=done.duplicate,
        created_at=done.event.created_at,
    )


def seen_by(engine: Engine, ident: str, *, limit: int = 10) -> list[EventSeen]:
    """The newest events that matched a task (by any id or name), newest first."""
    check.positive_int(limit, field="limit", maximum=10_000)
    with read_transaction(engine) as db:
        series_id = find_series_id(db, ident)
        return [
            EventSeen(
                event_id=event.id,
                name=event.name,
                state=str(match.state),
                message_id=match.message_id,
                created_at=match.created_at,
                created_by=event.created_by,
            )
            for match, event in events.recent_for_series(db, series_id, limit=limit)
        ]


def sessions_of(engine: Engine, series_ids: Sequence[str]) -> set[str]:
    """The sessions the series belong to (a series' id is its first row's id)."""
    if not series_ids:
        return set()
    with read_transaction(engine) as db:
        found = db.exec(select(MessageIn.session).where(col(MessageIn.id).in_(list(series_ids))))
        return set(found.all())
