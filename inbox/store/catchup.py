"""The catch-up policy: what a series does with slots that passed while it could not run.

A slot is *missed* when a later slot of the same series is already due (the host was down, the runner was
backed up, or the series was paused). Under ``skip`` a due slot is also missed once it is later than the
misfire grace (default 60 s), as cron would simply not run it. Applied to a live row just before it is
claimed:

* ``once``: one run stands for all missed slots: the row moves to the newest due slot and runs once.
* ``skip``: each missed slot is recorded as a ``missed`` occurrence (at most 100 records; the count of older
  ones goes in the oldest record's reason); the row moves to the first slot that is not missed.
* ``all``: missed slots run oldest first, at most the newest 100; older ones are recorded as ``skip`` does.

One-shots are never missed: a reminder whose time passed while the host was down runs late rather than never.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from inbox.defaults import DEFAULT_MISFIRE_GRACE
from inbox.enums import CatchUp, Outcome, Status
from inbox.schedules import EverySchedule, Recurring, from_recurrence, load_zone
from inbox.store.endings import RunReport, ended_columns, record_run, tell_downstreams
from inbox.store.models import MessageIn
from inbox.store.rounds import UpstreamEnding
from inbox.store.series import inherited_settings

MAX_CATCH_UP = 100
_MAX_WALK = 20_000
_WINDOW = 2 * MAX_CATCH_UP + 1  # enough to run 100 and record 100 more one by one
_JUMP_BACK = timedelta(days=3)  # cron slots are at least a minute apart: at most 4,320 slots in this window


@dataclass(frozen=True)
class DueSlots:
    total: int  # how many slots from the row's slot up to now, inclusive
    newest: list[datetime]  # the newest of them (at most _WINDOW), oldest first
    next_future: datetime  # the first slot after now


def due_slots(schedule: Recurring, zone_name: str, first: datetime, now: datetime) -> DueSlots:
    keep = _WINDOW
    if isinstance(schedule, EverySchedule):
        count = int((now - first) / schedule.interval) + 1 if now >= first else 0
        start = max(0, count - keep)
        newest = [first + k * schedule.interval for k in range(start, count)]
        return DueSlots(count, newest, first + count * schedule.interval)
    zone = load_zone(zone_name)
    window: deque[datetime] = deque(maxlen=keep)
    total, slot = 0, first
    while slot <= now:
        window.append(slot)
        total += 1
        if total == _MAX_WALK:
            # Years of minutely slots: count the rest roughly by jumping close to now.
            slot = schedule.next_after(now - _JUMP_BACK, zone)
            window.clear()
            continue
        slot = schedule.next_after(slot, zone)
    return DueSlots(total, list(window), slot)


def _record_missed(db: Session, row: MessageIn, slots: list[datetime], older: int, now: datetime) -> None:
    for index, slot in enumerate(slots):
        reason = "slot passed while the task could not run"
        if index == 0 and older:
            reason += f" ({older} older missed slots not recorded one by one)"
        record = MessageIn(
            series_id=row.series_id,
            occurrence_at=slot,
            process_after=slot,
            is_extra=True,
            occurrence_no=row.occurrence_no,
            created_at=now,
            **ended_columns(Outcome.MISSED, reason, now=now),  # an occurrence ended as missed, as endings says
            **inherited_settings(row),
        )
        db.add(record)
        db.flush()
        run = record_run(db, record, RunReport(outcome=Outcome.MISSED, started_at=now, error=reason), now=now)
        if record.series_id is not None:  # a missed slot is an ending the tasks after the series count
            tell_downstreams(db, UpstreamEnding(record.series_id, record.id, run.id, Outcome.MISSED, now), now=now)


def _move(row: MessageIn, slot: datetime, now: datetime, note: str | None) -> None:
    row.occurrence_at = slot
    row.process_after = slot
    row.updated_at = now
    if note:
        row.reason = note


def apply_catch_up(db: Session, row: MessageIn, *, now: datetime, grace: timedelta = DEFAULT_MISFIRE_GRACE) -> int:
    """Apply the row's policy if it is behind; returns how many slots were skipped or collapsed."""
    if row.is_extra or not row.recurrence or row.status != Status.PENDING or row.occurrence_at is None:
        return 0
    if row.occurrence_at > now:
        return 0
    schedule = from_recurrence(row.recurrence)
    slots = due_slots(schedule, row.timezone, row.occurrence_at, now)
    policy = CatchUp(row.catch_up)
    newest_is_late = now - slots.newest[-1] > grace
    if slots.total <= 1 and not (policy == CatchUp.SKIP and newest_is_late):
        return 0
    if policy == CatchUp.ONCE:
        _move(row, slots.newest[-1], now, f"one run for {slots.total} slots since {row.occurrence_at.isoformat()}")
        db.flush()
        return slots.total - 1
    if policy == CatchUp.SKIP:
        missed = slots.newest if newest_is_late else slots.newest[:-1]
        target = slots.next_future if newest_is_late else slots.newest[-1]
        recorded = missed[-MAX_CATCH_UP:]
        _move(row, target, now, None)
        db.flush()  # free the old slot before records take it
        _record_missed(
            db, row, recorded, older=len(missed) + (slots.total - len(slots.newest)) - len(recorded), now=now
        )
        return len(missed) + slots.total - len(slots.newest)
    # ALL: run every missed slot, oldest first, keeping only the newest MAX_CATCH_UP.
    if slots.total <= MAX_CATCH_UP:
        return 0
    dropped = slots.total - MAX_CATCH_UP
    kept = slots.newest[-MAX_CATCH_UP:]
    recorded = slots.newest[:-MAX_CATCH_UP][-MAX_CATCH_UP:]
    _move(row, kept[0], now, None)
    db.flush()
    _record_missed(db, row, recorded, older=dropped - len(recorded), now=now)
    return dropped
