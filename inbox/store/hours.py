"""Active hours where an occurrence would start: one outside its window ends ``skipped`` instead of running.

The window is the task's own (``active_hours``), else its session's (``session_settings.active_hours``), else there
is none (inbox.schedules.active_hours says what a window holds). What is held to it: each occurrence of a task that
its time, an event or an upstream task starts. What is not: messages that are no task (a chat line a person sends,
a webhook's message), a run-now (``inbox run``, ``run_task_now``: an explicit ask), and a one-shot task (``--at``,
``--in``: the one time it was given is the ask, and skipping it would lose it for good).

The time weighed is the occurrence's slot (``occurrence_at``, after catch-up moved it), or, for one that stands for
no slot (started by an event or an upstream task), the time it would start. An occurrence outside ends as any
ending does (inbox.store.endings): its run recorded ``skipped`` with the reason, no runner, pre-script or model
involved, and its series' next row written in the same transaction.

Two places apply it, both through :func:`hold_back`: every claim (inbox.store.claims), and each host pass before
anything is claimed (:func:`skip_outside`), so a session whose only due work is outside its hours wakes no runner.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from inbox.enums import Outcome, Status
from inbox.schedules import load_zone
from inbox.schedules.active_hours import parse_active_hours
from inbox.store.catchup import apply_catch_up
from inbox.store.endings import RunReport, end_occurrence
from inbox.store.filters import DUE_ORDER, IDLE_SERIES, PENDING_WINDOWED
from inbox.store.models import MessageIn, SessionSettings
from inbox.store.series import RUN_NOW


def held_to_hours(row: MessageIn) -> bool:
    """Whether active hours may hold ``row`` back: a task's occurrence, not a run-now, not a one-shot."""
    if row.series_id is None or row.content.get(RUN_NOW):
        return False
    return row.is_extra or row.recurrence is not None


def outside_reason(row: MessageIn, session_window: str | None, *, now: datetime) -> str | None:
    """Why ``row`` may not run now (``outside active hours (08:00-22:00 Europe/Paris)``), or None when it may."""
    given = row.active_hours or session_window
    if given is None or not held_to_hours(row):
        return None
    window = parse_active_hours(given)
    if window.holds(row.occurrence_at or now, load_zone(row.timezone)):
        return None
    whose = "" if row.active_hours else f", session {row.session}'s"
    return f"outside active hours ({window} {row.timezone}{whose})"


def session_windows(db: Session, sessions: Iterable[str] | None = None) -> dict[str, str]:
    """The window of each of these sessions (None: of every session) that has one."""
    query = select(SessionSettings.session, SessionSettings.active_hours).where(
        col(SessionSettings.active_hours).is_not(None)
    )
    if sessions is not None:
        wanted = sorted(set(sessions))
        if not wanted:
            return {}
        query = query.where(col(SessionSettings.session).in_(wanted))
    return {session: str(window) for session, window in db.exec(query).all() if window}


def hold_back(db: Session, rows: Sequence[MessageIn], *, now: datetime) -> tuple[list[MessageIn], list[MessageIn]]:
    """``rows`` (pending and due, catch-up applied) split into those that may run and those outside their active
    hours, which are ended ``skipped`` here, in the caller's transaction."""
    weighed = [row for row in rows if held_to_hours(row)]
    if not weighed:
        return list(rows), []
    windows = session_windows(db, {row.session for row in weighed if row.active_hours is None})
    kept: list[MessageIn] = []
    held: list[MessageIn] = []
    for row in rows:
        reason = outside_reason(row, windows.get(row.session), now=now)
        if reason is None:
            kept.append(row)
            continue
        report = RunReport(outcome=Outcome.SKIPPED, started_at=now, error=reason, runner="host", held_back=True)
        end_occurrence(db, row.id, report, now=now)
        held.append(row)
    return kept, held


def _windowed_due(db: Session, *, now: datetime, limit: int) -> list[SelectOfScalar[MessageIn]]:
    """The queries of due pending rows that a window may hold back: their own, or their session's."""
    base = select(MessageIn).where(col(MessageIn.process_after) <= now, IDLE_SERIES).order_by(*DUE_ORDER).limit(limit)
    queries = [base.where(PENDING_WINDOWED)]  # the window index's rows only, then each windowed session's
    for session in session_windows(db):
        queries.append(
            base.where(
                MessageIn.session == session,
                MessageIn.status == Status.PENDING.value,
                col(MessageIn.active_hours).is_(None),
                col(MessageIn.series_id).is_not(None),
            )
        )
    return queries


def may_hold_back(db: Session, *, now: datetime) -> bool:
    """Whether any due row has a window to be weighed against: a read, so that a pass with none (the common case)
    takes no write lock for :func:`skip_outside`."""
    return any(db.exec(query).first() is not None for query in _windowed_due(db, now=now, limit=1))


def skip_outside(db: Session, *, now: datetime, grace: timedelta, limit: int = 500) -> list[MessageIn]:
    """End up to ``limit`` due occurrences outside their active hours, before a host claims anything: those held to
    their own window (through its partial index) and those of sessions that have one. Returns the rows ended."""
    postgres = db.get_bind().dialect.name == "postgresql"
    due: list[MessageIn] = []
    for query in _windowed_due(db, now=now, limit=limit):
        found = db.exec(query.with_for_update(skip_locked=True, of=MessageIn) if postgres else query).all()
        for row in found:
            apply_catch_up(db, row, now=now, grace=grace)
            if row.process_after <= now:
                due.append(row)
    return hold_back(db, due, now=now)[1]
