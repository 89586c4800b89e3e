"""Ending an occurrence: its run is recorded and its follow-up written in one transaction.

This is the one place a series moves forward. The follow-up's slot comes from the ended row's slot (never
from "now"), so a late or slow run does not shift the schedule; slots that have meanwhile passed are handled
by the catch-up policy when the follow-up comes due (inbox.store.catchup).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from inbox.enums import STATUS_AFTER, OutboxKind, Outcome, Status
from inbox.errors import NotFound
from inbox.schedules import from_recurrence, load_zone
from inbox.store.models import (
    MAX_ERROR_CHARS,
    MAX_MODEL_OUTPUT_CHARS,
    MAX_SCRIPT_OUTPUT_CHARS,
    MessageIn,
    MessageOut,
    Run,
)
from inbox.store.series import apply_changes, inherited_settings

# After this many failed occurrences in a row the series pauses itself and tells its session.
MAX_CONSECUTIVE_FAILURES = 10
FAILED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.TIMEOUT, Outcome.INTERRUPTED, Outcome.SCRIPT_ERROR})


@dataclass(frozen=True)
class RunReport:
    """What a runner says about one attempt."""

    outcome: Outcome
    started_at: datetime
    error: str | None = None
    script_output: str | None = None
    model_output: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    runner: str | None = None


@dataclass(frozen=True)
class Ending:
    row: MessageIn
    run: Run | None
    follow_up: MessageIn | None
    already_ended: bool = False


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 20] + f"… [{len(text) - limit + 20} chars cut]"


def record_run(db: Session, row: MessageIn, report: RunReport, *, now: datetime) -> Run:
    run = Run(
        message_id=row.id,
        series_id=row.series_id,
        session=row.session,
        attempt=row.tries + 1,
        started_at=report.started_at,
        ended_at=now,
        outcome=report.outcome,
        error=_clip(report.error, MAX_ERROR_CHARS),
        script_output=_clip(report.script_output, MAX_SCRIPT_OUTPUT_CHARS),
        model_output=_clip(report.model_output, MAX_MODEL_OUTPUT_CHARS),
        input_tokens=report.input_tokens,
        output_tokens=report.output_tokens,
        runner=report.runner,
    )
    db.add(run)
    return run


def post_outbox(
    db: Session,
    *,
    session: str,
    kind: OutboxKind,
    text: str,
    now: datetime,
    in_reply_to: str | None = None,
    series_id: str | None = None,
) -> MessageOut:
    message = MessageOut(
        session=session, kind=kind, text=text, in_reply_to=in_reply_to, series_id=series_id, created_at=now
    )
    db.add(message)
    return message


def _lock(db: Session, message_id: str) -> MessageIn:
    row = db.exec(select(MessageIn).where(MessageIn.id == message_id).with_for_update()).first()
    if row is None:
        raise NotFound("message", message_id)
    return row


def end_occurrence(db: Session, message_id: str, report: RunReport, *, now: datetime) -> Ending:
    """Record the final outcome of ``message_id`` and write its series' next occurrence.

    Idempotent: ending a row that has already ended writes nothing and says so.
    """
    row = _lock(db, message_id)
    if not Status(row.status).is_live:
        return Ending(row=row, run=None, follow_up=None, already_ended=True)
    run = record_run(db, row, report, now=now)
    row.status = STATUS_AFTER[report.outcome]
    row.reason = report.error if report.outcome != Outcome.COMPLETED else None
    row.lease_owner = None
    row.lease_expires_at = None
    row.updated_at = now
    follow_up = None if row.is_extra else _write_follow_up(db, row, report.outcome, now=now)
    db.flush()
    return Ending(row=row, run=run, follow_up=follow_up)


def _consecutive_failures(row: MessageIn, outcome: Outcome) -> int:
    if outcome in FAILED_OUTCOMES:
        return row.consecutive_failures + 1
    return 0 if outcome != Outcome.MISSED else row.consecutive_failures


def _write_follow_up(db: Session, row: MessageIn, outcome: Outcome, *, now: datetime) -> MessageIn | None:
    if row.next_status == Status.CANCELLED or row.series_id is None:
        return None
    pending_update: dict[str, Any] = dict(row.content.get("pending_update") or {})
    recurrence = pending_update.get("recurrence", row.recurrence)
    if not recurrence and "slot" not in pending_update:
        return None  # a one-shot ends after its one run
    if row.max_runs is not None and row.occurrence_no >= row.max_runs:
        return None
    failures = _consecutive_failures(row, outcome)
    status = Status.PAUSED if row.next_status == Status.PAUSED else Status.PENDING
    reason = row.reason if status == Status.PAUSED else None
    if failures >= MAX_CONSECUTIVE_FAILURES and status == Status.PENDING:
        status = Status.PAUSED
        reason = f"paused after {failures} consecutive failed runs; last error: {row.reason or outcome}"
        post_outbox(
            db,
            session=row.session,
            kind=OutboxKind.SYSTEM,
            now=now,
            series_id=row.series_id,
            text=f"Task {row.name or row.series_id} was paused: {reason}. "
            f"Fix the cause, then resume it with: inbox resume {row.series_id}",
        )
    follow = MessageIn(
        series_id=row.series_id,
        status=status,
        reason=reason,
        occurrence_no=row.occurrence_no + 1,
        consecutive_failures=failures,
        created_at=now,
        updated_at=now,
        process_after=now,  # replaced just below
        **inherited_settings(row),
    )
    if pending_update:
        apply_changes(follow, pending_update)
    if "slot" not in pending_update:
        assert row.occurrence_at is not None and follow.recurrence is not None
        slot = from_recurrence(follow.recurrence).next_after(row.occurrence_at, load_zone(follow.timezone))
        follow.occurrence_at = slot
        follow.process_after = slot
    db.add(follow)
    return follow
