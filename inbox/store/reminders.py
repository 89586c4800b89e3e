"""Due reminders delivered by the host, set-based: a batch ended with one statement per table, not per row.

A script-free reminder needs no runner: its text goes to the outbox, its run is recorded ``completed`` and, for a
recurring one, its series' next row is written. The general path (claims.claim_due, then endings.end_occurrence
per row) builds ORM objects and runs several statements per row; here a batch is ended with one
``UPDATE … WHERE id IN`` and multi-row inserts into ``runs``, ``messages_out`` and (fanout) ``messages_in``, in
the caller's transaction, so an ending and its follow-up stay one atomic step as everywhere else.

Only the plain case takes this path. One-shots always do (they are never missed and have no follow-up). A
recurring reminder does when it stands on its own slot with no catch-up to apply (its next slot is still ahead,
and under ``skip`` it is within the misfire grace), no update waiting on it and no other occurrence of its series
running. Anything else is left pending for the general path, which the caller runs next. The rows written are
those ``end_occurrence`` writes, decided by the same rules: an ended row's columns are ``endings.ended_columns``
and a series' next row is ``endings.follow_up_of`` (tests/integration/test_reminder_batches.py compares them).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import RowMapping, String, Update, bindparam, insert, select, type_coerce, update
from sqlmodel import Session, col

from inbox.enums import CatchUp, OutboxKind, Outcome, Status
from inbox.ids import new_ids
from inbox.store.batch_ends import BatchEnd, record_batch_ends
from inbox.store.endings import FollowUp, NextSlots, ended_columns, follow_up_of
from inbox.store.filters import DUE_ORDER, HOST_DELIVERS, IDLE_SERIES, PENDING_REMINDERS
from inbox.store.hours import session_windows
from inbox.store.models import MessageIn

_TABLE = MessageIn.__table__  # type: ignore[attr-defined]


def _due_recurring_reminders(db: Session, *, now: datetime, limit: int) -> list[RowMapping]:
    query = (
        select(_TABLE)
        .where(
            PENDING_REMINDERS,  # the reminders' index
            _TABLE.c.process_after <= now,
            HOST_DELIVERS,
            _TABLE.c.gate == "",  # a limit holds the others: the general path counts them (inbox.store.limits)
            _TABLE.c.recurrence.is_not(None),
            _TABLE.c.is_extra.is_(False),
            _TABLE.c.active_hours.is_(None),  # held to a window: the general path weighs it (inbox.store.hours)
            IDLE_SERIES,
        )
        .order_by(*DUE_ORDER)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=_TABLE)
    return list(db.execute(query).mappings().all())


def any_due_reminder(db: Session, *, now: datetime) -> bool:
    """Whether a script-free reminder is due that the batches above left (its series busy, a catch-up to apply,
    a limit or a window to weigh): a read through the reminders' index, so that a pass does not walk the claim
    lanes, runners' rows and all, for reminders that are not there."""
    query = select(_TABLE.c.id).where(PENDING_REMINDERS, _TABLE.c.process_after <= now, HOST_DELIVERS).limit(1)
    return db.execute(query).first() is not None


def _one_shot_ending(*, locking: bool) -> Update:
    """Mark up to ``:limit`` due one-shot, script-free reminders completed, returning what their ending writes.

    One statement: the due rows are chosen by a subquery on the due index and changed in place, which costs
    SQLite about 40% less than selecting them and then updating by a list of 500 ids.
    """
    due = (
        select(_TABLE.c.id)
        .where(
            PENDING_REMINDERS,  # the reminders' index
            _TABLE.c.process_after <= bindparam("now"),
            HOST_DELIVERS,
            _TABLE.c.gate == "",
            _TABLE.c.recurrence.is_(None),
        )
        .order_by(*DUE_ORDER)
        .limit(bindparam("limit"))
    )
    if locking:
        due = due.with_for_update(skip_locked=True)
    return (
        update(_TABLE)
        # Only the id: with "AND status = 'pending'" here too SQLite walked every pending row of the due index,
        # future ones included, instead of looking the chosen ids up (tests/integration/test_due_scan_cost.py).
        # The subquery's rows are pending: SQLite holds the write lock, PostgreSQL re-checks a row it locks.
        .where(_TABLE.c.id.in_(due))
        .values(ended_columns(Outcome.COMPLETED, None, now=bindparam("now")))
        .returning(
            _TABLE.c.id,
            _TABLE.c.session,
            col(MessageIn.content)["text"].as_string(),  # parsing the whole JSON per row costs more
            _TABLE.c.series_id,
            _TABLE.c.tries,
            _TABLE.c.deliver,
            type_coerce(_TABLE.c.process_after, String),  # only for the order: the stored form sorts as the instant
        )
    )


_ONE_SHOT_ENDING = {False: _one_shot_ending(locking=False), True: _one_shot_ending(locking=True)}


def deliver_one_shot_reminders(db: Session, *, now: datetime, limit: int, runner: str) -> int:
    """End up to ``limit`` due one-shot, script-free reminders with their text in the outbox; returns how many."""
    dialect = db.get_bind().dialect
    if not dialect.update_returning:  # SQLite before 3.35 (PostgreSQL always has it, so no row lock is needed here)
        return _deliver_one_shots_by_select(db, now=now, limit=limit, runner=runner)
    ending = _ONE_SHOT_ENDING[dialect.name == "postgresql"]
    returned = db.connection().execute(ending, {"now": now, "limit": limit}).all()  # Core: no ORM layer on the way
    rows = sorted(returned, key=lambda row: (row[6], row[0]))  # RETURNING has no set order: keep the due order
    ended = [
        BatchEnd(row_id, session, text or "", series_id, tries, deliver)
        for row_id, session, text, series_id, tries, deliver, _ in rows
    ]
    record_batch_ends(db, ended, now=now, runner=runner, kind=OutboxKind.REMINDER)
    return len(rows)


def _deliver_one_shots_by_select(db: Session, *, now: datetime, limit: int, runner: str) -> int:
    query = (
        select(_TABLE)
        .where(
            PENDING_REMINDERS,  # the reminders' index
            _TABLE.c.process_after <= now,
            HOST_DELIVERS,
            _TABLE.c.gate == "",
            _TABLE.c.recurrence.is_(None),
        )
        .order_by(*DUE_ORDER)
        .limit(limit)
    )
    rows = list(db.execute(query).mappings().all())
    _end_delivered(db, rows, now=now, runner=runner)
    return len(rows)


def _plain_follow_up(row: RowMapping, slots: NextSlots, *, now: datetime, grace: timedelta) -> FollowUp | bool | None:
    """The follow-up ``end_occurrence`` would write (None: the series ends here), or False when the row needs the
    general path: a catch-up to apply, or an update or state change waiting on it."""
    slot = row["occurrence_at"]
    if slot is None or row["next_status"] is not None or "pending_update" in row["content"]:
        return False
    if row["alerted_at"] is not None:
        return False  # its series alerted its channel of failures: the ending says it recovered (inbox.store.alerts)
    if row["catch_up"] == CatchUp.SKIP.value and now - slot > grace:
        return False  # late past the grace: skip records it as missed
    following = slots.after(row["recurrence"], row["timezone"], slot)
    if following is None or following <= now:
        return False  # a later slot is due as well: catch-up applies
    return follow_up_of(
        series_id=row["series_id"],
        recurrence=row["recurrence"],
        timezone=row["timezone"],
        occurrence_at=slot,
        occurrence_no=row["occurrence_no"],
        max_runs=row["max_runs"],
        consecutive_failures=row["consecutive_failures"],
        next_status=None,
        reason=None,  # what ending it completed leaves
        pending_update={},
        outcome=Outcome.COMPLETED,
        slots=slots,
    )


def deliver_recurring_reminders(db: Session, *, now: datetime, limit: int, runner: str, grace: timedelta) -> int:
    """End up to ``limit`` plain due recurring reminders with their text delivered and their next rows written.

    Returns how many were ended; rows that need catch-up or carry an update are left pending for the general path.
    """
    candidates = _due_recurring_reminders(db, now=now, limit=limit)
    windowed = session_windows(db) if candidates else {}  # their sessions' active hours: the general path's too
    slots = NextSlots()
    ended: list[RowMapping] = []
    following: list[tuple[RowMapping, FollowUp]] = []
    for row in candidates:
        decided = False if row["session"] in windowed else _plain_follow_up(row, slots, now=now, grace=grace)
        if decided is False:
            continue
        ended.append(row)
        if isinstance(decided, FollowUp):
            following.append((row, decided))
    _end_delivered(db, ended, now=now, runner=runner)
    ids = new_ids(len(following))
    follow_ups = [
        {**row, "id": row_id, **decided.columns(now=now)} for (row, decided), row_id in zip(following, ids, strict=True)
    ]
    if follow_ups:
        db.execute(insert(_TABLE), follow_ups)
        db.info["wake"] = True  # PostgreSQL: other sweepers learn of the new next rows
    return len(ended)


def _end_delivered(db: Session, rows: list[RowMapping], *, now: datetime, runner: str) -> None:
    """Mark ``rows`` completed, each with its run recorded and its text in the outbox."""
    if not rows:
        return
    db.execute(
        update(_TABLE)
        .where(_TABLE.c.id.in_([row["id"] for row in rows]), _TABLE.c.status == Status.PENDING.value)
        .values(ended_columns(Outcome.COMPLETED, None, now=now))
    )
    ended = [
        BatchEnd(r["id"], r["session"], r["content"].get("text") or "", r["series_id"], r["tries"], r["deliver"])
        for r in rows
    ]
    record_batch_ends(db, ended, now=now, runner=runner, kind=OutboxKind.REMINDER)
