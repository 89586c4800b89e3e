"""Ending an occurrence: its run is recorded and its follow-up written in one transaction.

This is the one place a series moves forward. The follow-up's slot comes from the ended row's slot (never
from "now"), so a late or slow run does not shift the schedule; slots that have meanwhile passed are handled
by the catch-up policy when the follow-up comes due (inbox.store.catchup).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from inbox.channels import NO_CHANNEL
from inbox.enums import FAILED_OUTCOMES, STATUS_AFTER, OutboxKind, Outcome, Status
from inbox.errors import NotFound
from inbox.schedules import Recurring, from_recurrence, load_zone
from inbox.store.alerts import alert_after_ending, tell_paused
from inbox.store.changes import apply_changes
from inbox.store.models import MAX_ERROR_CHARS, MAX_MODEL_OUTPUT_CHARS, MAX_SCRIPT_OUTPUT_CHARS, MessageIn, Run, clip
from inbox.store.outbox import post_outbox
from inbox.store.rounds import FailedRound, UpstreamEnding, upstream_ended
from inbox.store.series import inherited_settings

__all__ = ["FAILED_OUTCOMES", "Ending", "RunReport", "end_occurrence", "post_outbox"]

# After this many failed occurrences in a row the series pauses itself and tells its session. An occurrence that
# failed because the model provider was down (RunReport.outage) neither adds to the count nor ends it: an outage
# is not the task's fault, and pausing every series while a provider is down would leave the user to resume them
# all by hand once it is back.
MAX_CONSECUTIVE_FAILURES = 10


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
    # The attempt failed because the model provider was unavailable (rate limited, 5xx, no answer in time,
    # unreachable), as the host saw its model calls fail: it does not count toward the pause after failures.
    outage: bool = False
    # The occurrence did not run at all (outside its active hours, inbox.store.hours): like a missed slot, it neither
    # ends a run of failures nor adds to it.
    held_back: bool = False


@dataclass(frozen=True)
class Ending:
    row: MessageIn
    run: Run | None
    follow_up: MessageIn | None
    already_ended: bool = False


def record_run(db: Session, row: MessageIn, report: RunReport, *, now: datetime) -> Run:
    run = Run(
        message_id=row.id,
        series_id=row.series_id,
        session=row.session,
        attempt=row.tries + 1,
        started_at=report.started_at,
        ended_at=now,
        outcome=report.outcome,
        error=clip(report.error, MAX_ERROR_CHARS),
        script_output=clip(report.script_output, MAX_SCRIPT_OUTPUT_CHARS),
        model_output=clip(report.model_output, MAX_MODEL_OUTPUT_CHARS),
        input_tokens=report.input_tokens,
        output_tokens=report.output_tokens,
        runner=report.runner,
    )
    db.add(run)
    return run


def _lock(db: Session, message_id: str) -> MessageIn:
    row = db.exec(select(MessageIn).where(MessageIn.id == message_id).with_for_update()).first()
    if row is None:
        raise NotFound("message", message_id)
    return row


def ended_columns(outcome: Outcome, error: str | None, *, now: datetime | ColumnElement[Any]) -> dict[str, Any]:
    """What an occurrence's own row becomes when it ends with ``outcome``: its status, reason and no lease.

    ``now`` may be a bound parameter, for a statement compiled once and run for many batches."""
    return {
        "status": STATUS_AFTER[outcome],
        "reason": error if outcome != Outcome.COMPLETED else None,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now,
    }


def end_occurrence(db: Session, message_id: str, report: RunReport, *, now: datetime) -> Ending:
    """Record the final outcome of ``message_id`` and write its series' next occurrence.

    Idempotent: ending a row that has already ended writes nothing and says so. The tasks that run after its
    series (``--after``) learn of the ending in the same transaction (:func:`tell_downstreams`).
    """
    row = _lock(db, message_id)
    if not Status(row.status).is_live:
        return Ending(row=row, run=None, follow_up=None, already_ended=True)
    run = record_run(db, row, report, now=now)
    for column, value in ended_columns(report.outcome, report.error, now=now).items():
        setattr(row, column, value)
    follow_up = None if row.is_extra else _write_follow_up(db, row, report, now=now)
    if row.status == Status.FAILED:
        _notify_failure(db, row, run, follow_up, now=now)
    if not row.is_extra:
        alert_after_ending(db, row, run, follow_up, what=describe_row(row), now=now, held_back=report.held_back)
    db.flush()
    if row.series_id is not None:
        tell_downstreams(db, UpstreamEnding(row.series_id, row.id, run.id, report.outcome, now), now=now)
    return Ending(row=row, run=run, follow_up=follow_up)


def tell_downstreams(db: Session, ending: UpstreamEnding, *, now: datetime) -> None:
    """Record an ended occurrence for the tasks that run after its series and start the rounds it completes
    (inbox.store.rounds); a round that ends ``upstream_failed`` is ended here, which tells the tasks after it."""
    end_failed_rounds(db, upstream_ended(db, ending, now=now), now=now)


def end_failed_rounds(db: Session, failed: list[FailedRound], *, now: datetime) -> None:
    """End each round ``upstream_failed``: a run recorded with no model call, its reason naming the upstreams."""
    for round_ in failed:
        report = RunReport(outcome=Outcome.UPSTREAM_FAILED, started_at=now, error=round_.reason)
        end_occurrence(db, round_.message_id, report, now=now)


NOTICE_REASON_CHARS = 500


def describe_row(row: MessageIn) -> str:
    """How notices and the host's log name an inbound row: ``task "digest" (01J…)``, ``chat message 01J…``."""
    if row.series_id is None:
        return f"{row.kind} message {row.id}"
    return f'task "{row.name}" ({row.series_id})' if row.name else f"task {row.series_id}"


def describe_ending(row: MessageIn, run: Run) -> str:
    """``task "digest" (01J…): failed on attempt 2: HTTP 500`` for a log line."""
    reason = f": {clip(run.error, NOTICE_REASON_CHARS)}" if run.error else ""
    return f"{describe_row(row)}: {run.outcome} on attempt {run.attempt}{reason}"


def _notify_failure(db: Session, row: MessageIn, run: Run, follow_up: MessageIn | None, *, now: datetime) -> None:
    """Tell the session, in its outbox, that a message or an occurrence failed for good (its retries used up).

    A recurring series says so when a run of failures begins, not at every failed occurrence: the pause after
    MAX_CONSECUTIVE_FAILURES in a row has its own notice, and a task failing every minute must not bury the
    outbox in copies of one message. That first notice stays in the outbox: a series' channel hears of its
    failures through the alerts (inbox.store.alerts), after a few in a row rather than at the first. Failures
    during a provider outage do not count in the series' streak, so for those the run's history says whether the
    occurrence before failed too."""
    if row.recurrence and (row.consecutive_failures > 0 or _previous_failed(db, row)):
        return
    reason = clip(run.error, NOTICE_REASON_CHARS) or "no reason was given"
    tries = f"after {run.attempt} attempts" if run.attempt > 1 else "on its first attempt"
    what = describe_row(row)
    if row.series_id is None:
        after = f"See: inbox show {row.id}"
    else:
        after = f"See: inbox runs {row.series_id}"
        if follow_up is not None and follow_up.status == Status.PENDING:
            after = f"Its next run stays scheduled. {after}"
    post_outbox(
        db,
        session=row.session,
        kind=OutboxKind.SYSTEM,
        now=now,
        in_reply_to=row.id,
        series_id=row.series_id,
        text=f"{what[0].upper()}{what[1:]} failed ({run.outcome}, {tries}): {reason.rstrip('.')}. {after}",
        deliver=NO_CHANNEL if row.recurrence else row.deliver,
    )


def _previous_failed(db: Session, row: MessageIn) -> bool:
    """Whether the last run of ``row``'s series before ``row`` itself ended its occurrence failed."""
    query = (
        select(Run.outcome)
        .where(Run.series_id == row.series_id, Run.message_id != row.id, Run.outcome != Outcome.MISSED)
        .order_by(col(Run.started_at).desc())
        .limit(1)
    )
    last = db.exec(query).first()
    return last is not None and STATUS_AFTER[Outcome(last)] == Status.FAILED


class NextSlots:
    """A series' next slot after one of its slots; one instance may serve a batch of endings, and rows of one
    series family share (recurrence, zone, slot), so each is computed once."""

    def __init__(self) -> None:
        self._schedules: dict[str, Recurring] = {}
        self._next: dict[tuple[str, str, datetime], datetime | None] = {}

    def after(self, recurrence: str, zone: str, slot: datetime) -> datetime | None:
        key = (recurrence, zone, slot)
        if key not in self._next:
            schedule = self._schedules.get(recurrence)
            if schedule is None:
                schedule = self._schedules[recurrence] = from_recurrence(recurrence)
            self._next[key] = schedule.next_after(slot, load_zone(zone))
        return self._next[key]


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The next row of a series whose occurrence ended: the columns of its own (it inherits the series' settings)."""

    status: Status
    reason: str | None
    occurrence_no: int
    consecutive_failures: int
    slot: datetime | None  # None: the slot of the update that waited on the ended row
    paused_by_failures: bool  # paused after too many failed runs in a row: its session is told

    def columns(self, *, now: datetime) -> dict[str, Any]:
        own: dict[str, Any] = {
            "status": self.status,
            "reason": self.reason,
            "occurrence_no": self.occurrence_no,
            "consecutive_failures": self.consecutive_failures,
            "tries": 0,
            "next_status": None,
            "lease_owner": None,
            "lease_expires_at": None,
            "created_at": now,
            "updated_at": now,
        }
        if self.slot is not None:
            own["occurrence_at"] = own["process_after"] = self.slot
        return own


def follow_up_of(
    *,
    series_id: str | None,
    recurrence: str | None,
    timezone: str,
    occurrence_at: datetime | None,
    occurrence_no: int,
    max_runs: int | None,
    consecutive_failures: int,
    next_status: str | None,
    reason: str | None,
    pending_update: dict[str, Any],
    outcome: Outcome,
    slots: NextSlots,
    outage: bool = False,
    held_back: bool = False,
) -> FollowUp | None:
    """Whether and how a series goes on after an occurrence (its columns as given) ended with ``outcome``.

    The one definition of it: ``end_occurrence`` and the batched reminder endings (inbox.store.reminders) both
    write the row this decides. None: the series ends here (cancelled, a one-shot, or its last run).
    """
    if next_status == Status.CANCELLED or series_id is None:
        return None
    if not pending_update.get("recurrence", recurrence) and "slot" not in pending_update:
        return None  # a one-shot ends after its one run
    if max_runs is not None and occurrence_no >= max_runs:
        return None
    # A run that did not fail ends a streak of failures; a missed slot, or a failure while the provider was down,
    # neither ends nor adds to it.
    failures = 0
    if outcome == Outcome.MISSED or held_back or (outage and outcome in FAILED_OUTCOMES):
        failures = consecutive_failures
    elif outcome in FAILED_OUTCOMES:
        failures = consecutive_failures + 1
    status = Status.PAUSED if next_status == Status.PAUSED else Status.PENDING
    kept_reason = reason if status == Status.PAUSED else None
    paused_by_failures = failures >= MAX_CONSECUTIVE_FAILURES and status == Status.PENDING
    if paused_by_failures:
        status = Status.PAUSED
        kept_reason = f"paused after {failures} consecutive failed runs; last error: {reason or outcome}"
    slot = None
    if "slot" not in pending_update:  # an update without a new schedule keeps the series' own
        assert occurrence_at is not None and recurrence is not None
        slot = slots.after(recurrence, timezone, occurrence_at)
    return FollowUp(status, kept_reason, occurrence_no + 1, failures, slot, paused_by_failures)


def _write_follow_up(db: Session, row: MessageIn, report: RunReport, *, now: datetime) -> MessageIn | None:
    pending_update: dict[str, Any] = dict(row.content.get("pending_update") or {})
    decided = follow_up_of(
        series_id=row.series_id,
        recurrence=row.recurrence,
        timezone=row.timezone,
        occurrence_at=row.occurrence_at,
        occurrence_no=row.occurrence_no,
        max_runs=row.max_runs,
        consecutive_failures=row.consecutive_failures,
        next_status=row.next_status,
        reason=row.reason,
        pending_update=pending_update,
        outcome=report.outcome,
        slots=NextSlots(),
        outage=report.outage,
        held_back=report.held_back,
    )
    if decided is None:
        return None
    if decided.paused_by_failures:
        remedy = f"Fix the cause, then resume it with: inbox resume {row.series_id}"
        tell_paused(db, row, reason=decided.reason or "", remedy=remedy, now=now)
    columns = {"process_after": now, **decided.columns(now=now)}  # a waiting update's slot replaces ``now``
    follow = MessageIn(series_id=row.series_id, **columns, **inherited_settings(row))
    if pending_update:
        apply_changes(follow, pending_update)
    db.add(follow)
    return follow
