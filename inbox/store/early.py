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

from datetime import datetime

from sqlalchemy import Connection, bindparam, select
from sqlmodel import Session

from inbox.enums import Status
from inbox.errors import NotFound
from inbox.store.changes import apply_changes
from inbox.store.claims import NotHeld, OtherSession, holds
from inbox.store.lookup import latest_row
from inbox.store.models import MessageIn

_HOLDS = (Status.CANCELLED, Status.PAUSED)  # the stronger first: cancelled wins over paused
_TABLE = MessageIn.__table__  # type: ignore[attr-defined]
# What the gate reads of the row: one read by key of the columns it weighs, no ORM object (every microsecond of
# the gate is lateness: docs/benchmarks.md, "Lateness").
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
    conn: Connection, message_id: str, *, session: str, owner: str, attempt: int, now: datetime
) -> float | str | None:
    """The start gate's look at ``message_id``, which ``owner`` (a runner of ``session``) holds for ``attempt``:
    the seconds left to its due time on ``now``'s clock (more than 0: ask again then); else what was written since
    the claim that forbids starting it (``cancelled``, ``paused`` or ``updated``: hand it back); else None (start).
    Refuses as inbox.store.claims.held_row does (NotFound, OtherSession, NotHeld)."""
    row = conn.execute(_GATE, {"id": message_id}).first()
    if row is None:
        raise NotFound("message", message_id)
    if row.session != session:
        raise OtherSession(f"message {message_id} belongs to another session; this runner serves {session!r}")
    if row.status != Status.RUNNING or row.lease_owner != owner or row.tries + 1 != attempt:
        raise NotHeld(f"lease lost: message {message_id} attempt {attempt} is not this runner's")
    left: float = (row.process_after - now).total_seconds()
    if left > 0:
        return left
    for status in _HOLDS:
        if row.next_status == status:
            return status.value
    if "pending_update" in (row.content or {}):
        return "updated"
    if not row.is_extra:
        return None
    with Session(bind=conn) as db:  # an extra occurrence (rare here): its series is read too
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
