"""Rows claimed a little before their due time (inbox.defaults.CLAIM_AHEAD): what the start gate decides.

A runner claims its own rows up to ``CLAIM_AHEAD`` before they are due, waits for the due time, then asks the host
whether to start (``POST /runner/v1/start``, sweeper.http.runner_api). Until it does, the row is running in name
only: nothing of it has started. A pause, cancel or update written in that window would have found the row pending
had it not been claimed early, so it must act as it would have then, not as on a run under way (which it keeps on
the row, ``next_status`` and ``content["pending_update"]``, for the follow-up). Such a row, and any row a host
shutting down is asked to start, is *handed back*: pending again (or paused, or cancelled), its try not counted, no
run recorded, the change applied to it as to a pending row.

For an extra occurrence (a run-now, an event's start) the series is looked at too: a pause or cancel of the series
leaves a running extra alone but pauses or cancels a pending one. Nothing writes a running extra row itself, so its
``updated_at`` is still the claim's time, and a series written after it was written in the window.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import Engine, bindparam, select
from sqlmodel import Session

from inbox.enums import Status
from inbox.errors import NotFound
from inbox.store.changes import apply_changes
from inbox.store.claims import NotHeld, OtherSession, holds
from inbox.store.engine import READ_ONLY, read_transaction
from inbox.store.lookup import latest_row
from inbox.store.models import MessageIn

_HOLDS = (Status.CANCELLED, Status.PAUSED)  # the stronger first: cancelled wins over paused
_TABLE = MessageIn.__table__  # type: ignore[attr-defined]


class Held(NamedTuple):
    """What the gate weighs of a row."""

    session: str
    status: str
    lease_owner: str | None
    tries: int
    process_after: datetime
    next_status: str | None
    pending_update: bool
    is_extra: bool
    series_id: str | None
    updated_at: datetime


# Every microsecond of the gate is lateness (docs/benchmarks.md, "Lateness"): the row is read by its key, its
# columns only. On SQLite through the pooled driver connection itself: 20 us where a SQLAlchemy connection and
# statement took 150 us (a SELECT outside a transaction reads the newest committed snapshot, and takes no lock).
_SQLITE_GATE = (
    "SELECT session, status, lease_owner, tries, process_after, next_status,"
    " json_type(content, '$.pending_update') IS NOT NULL, is_extra, series_id, updated_at"
    " FROM messages_in WHERE id = ?"
)
_GATE = select(
    _TABLE.c.session,
    _TABLE.c.status,
    _TABLE.c.lease_owner,
    _TABLE.c.tries,
    _TABLE.c.process_after,
    _TABLE.c.next_status,
    _TABLE.c.content,
    _TABLE.c.is_extra,
    _TABLE.c.series_id,
    _TABLE.c.updated_at,
).where(_TABLE.c.id == bindparam("id"))


def _sqlite_instant(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)  # stored naive, in UTC (inbox.store.types)


@cache
def _reader(engine: Engine) -> Engine:
    return engine.execution_options(**{READ_ONLY: True})  # no SQLite write lock (inbox.store.engine)


def read_held(engine: Engine, message_id: str) -> Held | None:
    """The gate's read of ``message_id``: one statement, no ORM object; None when there is no such row."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            found = cursor.execute(_SQLITE_GATE, (message_id,)).fetchone()
            cursor.close()
        finally:
            raw.close()
        if found is None:
            return None
        at, updated = _sqlite_instant(found[4]), _sqlite_instant(found[9])
        return Held(
            found[0], found[1], found[2], found[3], at, found[5], bool(found[6]), bool(found[7]), found[8], updated
        )
    with _reader(engine).connect() as conn:
        row = conn.execute(_GATE, {"id": message_id}).first()
    if row is None:
        return None
    pending = "pending_update" in (row.content or {})
    return Held(
        row.session,
        row.status,
        row.lease_owner,
        row.tries,
        row.process_after,
        row.next_status,
        pending,
        row.is_extra,
        row.series_id,
        row.updated_at,
    )


def _series_hold(
    db: Session, series_id: str | None, *, is_extra: bool, claimed_at: datetime
) -> tuple[Status, str | None] | None:
    """The pause or cancel the series of an extra occurrence claimed at ``claimed_at`` got since."""
    if not is_extra or series_id is None:
        return None
    head = latest_row(db, series_id)
    if head.updated_at <= claimed_at:
        return None
    for status in _HOLDS:
        if status in (head.status, head.next_status):
            return status, head.reason
    return None


def start_check(
    engine: Engine, message_id: str, *, session: str, owner: str, attempt: int, now: datetime
) -> datetime | str | None:
    """The start gate's look at ``message_id``, which ``owner`` (a runner of ``session``) holds for ``attempt``:
    its due time while ``now`` is before it (look again then); else what was written since the claim that forbids
    starting it (``cancelled``, ``paused`` or ``updated``: hand it back); else None (start).
    Refuses as inbox.store.claims.held_row does (NotFound, OtherSession, NotHeld)."""
    row = read_held(engine, message_id)
    if row is None:
        raise NotFound("message", message_id)
    if row.session != session:
        raise OtherSession(f"message {message_id} belongs to another session; this runner serves {session!r}")
    if row.status != Status.RUNNING or row.lease_owner != owner or row.tries + 1 != attempt:
        raise NotHeld(f"lease lost: message {message_id} attempt {attempt} is not this runner's")
    if row.process_after > now:
        return row.process_after
    for status in _HOLDS:
        if row.next_status == status:
            return status.value
    if row.pending_update:
        return "updated"
    if not row.is_extra:
        return None
    with read_transaction(engine) as db:  # an extra occurrence (rare here): its series is read too
        held = _series_hold(db, row.series_id, is_extra=True, claimed_at=row.updated_at)
    return held[0].value if held is not None else None


def hand_back(db: Session, message_id: str, *, owner: str, attempt: int, now: datetime) -> MessageIn | None:
    """Give back ``message_id``, held by ``owner`` for ``attempt`` and not started, as if it had never been claimed:
    pending (paused or cancelled when that was asked meanwhile), a waiting update applied, its tries as they were,
    no run recorded. None when ``owner`` no longer holds it (it was taken back already)."""
    row = db.get(MessageIn, message_id, with_for_update=True)
    if row is None or not holds(row, owner, attempt):
        return None
    status, reason = Status.PENDING, row.reason
    held = next((status for status in _HOLDS if row.next_status == status), None)
    if held is not None:
        status = held  # its reason was written with it
    else:
        series = _series_hold(db, row.series_id, is_extra=row.is_extra, claimed_at=row.updated_at)
        if series is not None:
            status, reason = series
    pending = row.content.get("pending_update")
    if pending is not None:
        apply_changes(row, pending)  # and drops it: a pending row takes an update at once (inbox.store.changes)
    row.status = status
    row.next_status = None
    row.lease_owner = None
    row.lease_expires_at = None
    row.reason = reason
    row.updated_at = now
    db.flush()
    return row
