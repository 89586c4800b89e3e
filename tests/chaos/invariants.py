"""What must hold once a chaos run has settled, read from the store alone.

Each check returns :class:`Violation` s; a duplicate (a slot or a message run to completion twice, a reply
delivered twice) and a loss (an occurrence left running or due, a series that lost its live row or stopped short)
are counted apart from the other kinds in the figures.

"Exactly one ending": an occurrence that is no longer live has runs numbered 1..n, each attempt once; the runs
before the last are retries (``interrupted`` or a transient ``failed``); the last is its ending, whose outcome
gives the row's status, with a reason unless it completed.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import col, select

from inbox.enums import STATUS_AFTER, OutboxKind, Outcome, Status
from inbox.store.engine import transaction
from inbox.store.models import MessageIn, MessageOut, Run
from inbox.store.trigger_tables import DependencyRound, Event, EventMatch
from tests.chaos.plan import Gate, ScheduledTask, answer_for, reminder_text

DUPLICATE = "duplicate"
LOSS = "loss"
RETRY_OUTCOMES = frozenset({Outcome.INTERRUPTED, Outcome.FAILED})
HOST_OWNER = "host"


@dataclass(frozen=True)
class Violation:
    kind: str  # DUPLICATE, LOSS, or what else broke: "ending", "outcome", "series", "overlap", "outbox"
    subject: str  # the message or series id
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.subject}: {self.detail}"


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, MessageIn]
    runs: dict[str, list[Run]]  # by message id, in attempt order
    outbox: list[MessageOut]
    settled_at: datetime  # nothing was due or running at this instant
    rounds: dict[str, list[DependencyRound]] = field(default_factory=dict)  # by downstream task, in round order
    events: dict[str, Event] = field(default_factory=dict)  # by id
    matches: list[EventMatch] = field(default_factory=list)  # what each event did to each series

    @classmethod
    def load(cls, engine: Engine, *, settled_at: datetime) -> Snapshot:
        with transaction(engine) as db:
            rows = {row.id: row for row in db.exec(select(MessageIn)).all()}
            runs: dict[str, list[Run]] = defaultdict(list)
            for run in db.exec(select(Run)).all():
                runs[run.message_id].append(run)
            outbox = list(db.exec(select(MessageOut)).all())
            rounds: dict[str, list[DependencyRound]] = defaultdict(list)
            for round_ in db.exec(select(DependencyRound).order_by(col(DependencyRound.round_no))).all():
                rounds[round_.downstream_id].append(round_)
            events = {event.id: event for event in db.exec(select(Event)).all()}
            matches = list(db.exec(select(EventMatch)).all())
        for history in runs.values():
            history.sort(key=lambda r: (r.attempt, r.ended_at))
        return cls(rows, dict(runs), outbox, settled_at, dict(rounds), events, matches)

    def series_rows(self, series_id: str) -> list[MessageIn]:
        return [row for row in self.rows.values() if row.series_id == series_id]

    def final_run(self, row: MessageIn) -> Run | None:
        history = self.runs.get(row.id, [])
        return history[-1] if history and not Status(row.status).is_live and row.status != Status.CANCELLED else None


def check_endings(snap: Snapshot) -> list[Violation]:
    out = []
    for row in snap.rows.values():
        history = snap.runs.get(row.id, [])
        attempts = [run.attempt for run in history]
        status = Status(row.status)
        if len(set(attempts)) != len(attempts):
            out.append(Violation(DUPLICATE, row.id, f"an attempt recorded twice: attempts {attempts}"))
        completed = sum(run.outcome == Outcome.COMPLETED for run in history)
        if completed > 1:
            out.append(Violation(DUPLICATE, row.id, f"completed {completed} times"))
        retries = history if status.is_live or status == Status.CANCELLED else history[:-1]
        for run in retries:
            if run.outcome not in RETRY_OUTCOMES:
                out.append(Violation("ending", row.id, f"attempt {run.attempt} ended {run.outcome} but was retried"))
        for run in history:
            if run.outcome == Outcome.INTERRUPTED and not any(w in (run.error or "") for w in ("lease", "died")):
                out.append(Violation("ending", row.id, f"attempt {run.attempt} interrupted, reason: {run.error}"))
        if status == Status.RUNNING:
            out.append(Violation(LOSS, row.id, f"left running (lease owner {row.lease_owner}) with every host stopped"))
        if status == Status.PENDING and row.process_after < snap.settled_at:
            out.append(Violation(LOSS, row.id, f"due at {row.process_after.isoformat()} and never run"))
        if status.is_live or status == Status.CANCELLED:
            if attempts != list(range(1, row.tries + 1)):
                out.append(Violation("ending", row.id, f"retry attempts {attempts} but tries={row.tries}"))
            continue
        if attempts != list(range(1, row.tries + 2)):
            out.append(Violation("ending", row.id, f"{status} with attempts {attempts} (tries={row.tries})"))
        if not history:
            out.append(Violation(LOSS, row.id, f"{status} with no run recorded"))
            continue
        final = history[-1]
        if STATUS_AFTER[Outcome(final.outcome)] != status:
            out.append(Violation("ending", row.id, f"status {status} but its last run ended {final.outcome}"))
        has_reason = bool(final.error) or (final.outcome == Outcome.SKIPPED and bool(final.script_output))
        if final.outcome != Outcome.COMPLETED and not has_reason:
            out.append(Violation("ending", row.id, f"ended {final.outcome} with no reason"))
    return out


def check_slots(snap: Snapshot) -> list[Violation]:
    out = []
    slots = Counter((row.series_id, row.occurrence_at) for row in snap.rows.values() if row.occurrence_at)
    for (series_id, slot), count in slots.items():
        if count > 1:
            out.append(Violation(DUPLICATE, str(series_id), f"{count} rows for slot {slot}"))
    completed: Counter[tuple[str | None, datetime]] = Counter()
    for row in snap.rows.values():
        if row.occurrence_at is not None:
            ran = sum(run.outcome == Outcome.COMPLETED for run in snap.runs.get(row.id, []))
            completed[(row.series_id, row.occurrence_at)] += ran
    for (series_id, slot), count in completed.items():
        if count > 1:
            out.append(Violation(DUPLICATE, str(series_id), f"slot {slot} ran to completion {count} times"))
    return out


def _deliveries(snap: Snapshot) -> list[MessageOut]:
    """Replies and reminders: what a completed occurrence sends (failure notices are checked on their own)."""
    return [m for m in snap.outbox if m.in_reply_to and m.kind != OutboxKind.SYSTEM]


def check_notices(snap: Snapshot) -> list[Violation]:
    """A failure notice names an occurrence that failed for good, once."""
    out = []
    notices = Counter(m.in_reply_to for m in snap.outbox if m.in_reply_to and m.kind == OutboxKind.SYSTEM)
    for message_id, count in notices.items():
        if count > 1:
            out.append(Violation(DUPLICATE, str(message_id), f"{count} failure notices"))
        row = snap.rows.get(str(message_id))
        final = snap.final_run(row) if row else None
        if final is None or STATUS_AFTER.get(Outcome(final.outcome)) != Status.FAILED:
            out.append(Violation("outbox", str(message_id), "a failure notice for an occurrence that did not fail"))
    return out


def check_outbox(snap: Snapshot) -> list[Violation]:
    out = []
    replies = Counter(message.in_reply_to for message in _deliveries(snap))
    for message_id, count in replies.items():
        if count > 1:
            out.append(Violation(DUPLICATE, str(message_id), f"delivered {count} times"))
        row = snap.rows.get(str(message_id))
        final = snap.final_run(row) if row else None
        if final is None or final.outcome != Outcome.COMPLETED:
            out.append(Violation("outbox", str(message_id), "a delivery for an occurrence that did not complete"))
    for row in snap.rows.values():
        final = snap.final_run(row)
        if final is not None and final.outcome == Outcome.COMPLETED and replies[row.id] == 0:
            out.append(Violation(LOSS, row.id, "completed but nothing was delivered"))
    return out


def _chain_order(rows: Sequence[MessageIn]) -> list[Violation]:
    out = []
    numbers = [row.occurrence_no for row in rows]
    if numbers != list(range(1, len(rows) + 1)):
        out.append(Violation("series", rows[0].series_id or "", f"occurrence numbers {numbers}"))
    slots = [row.occurrence_at for row in rows]
    if any(a is None or b is None or a >= b for a, b in itertools.pairwise(slots)):
        out.append(Violation("series", rows[0].series_id or "", "slots do not move forward occurrence by occurrence"))
    return out


def _on_schedule(task: ScheduledTask, slot: datetime) -> bool:
    if task.plan.interval_s is not None:
        return (slot - task.first_slot) % timedelta(seconds=task.plan.interval_s) == timedelta(0)
    if task.plan.cron is not None:
        step = 2 if task.plan.cron.startswith("*/2") else 1
        return slot.second == 0 and slot.microsecond == 0 and slot.minute % step == 0
    return slot == task.first_slot


def check_series(snap: Snapshot, tasks: Iterable[ScheduledTask]) -> list[Violation]:
    out = []
    for task in tasks:
        rows = snap.series_rows(task.series_id)
        chain = sorted((row for row in rows if not row.is_extra), key=lambda row: row.occurrence_no)
        live = [row for row in chain if Status(row.status).is_live]
        sid = task.series_id
        if not chain:
            out.append(Violation(LOSS, sid, "no rows at all"))
            continue
        out.extend(_chain_order(chain))
        off = [row.id for row in rows if row.occurrence_at and not _on_schedule(task, row.occurrence_at)]
        if off:
            out.append(Violation("series", sid, f"occurrences off the schedule: {off}"))
        cancelled = chain[-1].status == Status.CANCELLED or chain[-1].next_status == Status.CANCELLED
        if task.plan.cancel_at_s is not None or cancelled:
            if live:
                out.append(Violation("series", sid, f"cancelled but has a live row ({live[0].status})"))
            elif not cancelled:
                out.append(Violation(LOSS, sid, f"to be cancelled, but it ended {chain[-1].status} without it"))
        elif task.endless:
            if len(live) != 1:
                out.append(Violation(LOSS, sid, f"endless series with {len(live)} live rows"))
            elif live[0].status == Status.PAUSED and not (live[0].reason or "").startswith("paused after"):
                out.append(Violation("series", sid, f"paused without being asked: {live[0].reason}"))
        else:
            wanted = task.max_runs or 1
            if live or len(chain) != wanted:
                what = f"live row {live[0].status}" if live else "no live row"
                out.append(Violation(LOSS, sid, f"{len(chain)} of {wanted} occurrences and {what}"))
    return out


def _expected_outcome(task: ScheduledTask, row: MessageIn, final: Run) -> str | None:
    """Why ``final`` is not a valid ending of ``row`` (None when it is)."""
    outcome = Outcome(final.outcome)
    if row.is_extra and row.occurrence_at is not None:  # a missed-slot record
        if outcome != Outcome.MISSED or task.plan.catch_up == "once":
            return f"a missed-slot record ended {outcome} under catch-up {task.plan.catch_up}"
        return None
    if outcome in RETRY_OUTCOMES:
        if final.attempt != row.retries + 1:
            return f"ended {outcome} at attempt {final.attempt} of {row.retries + 1}: {final.error}"
        return None
    if outcome != task.plan.expected:
        return f"ended {outcome}, its pre-script ({task.plan.gate}) means {task.plan.expected}"
    return None


def check_outcomes(snap: Snapshot, tasks: Iterable[ScheduledTask]) -> list[Violation]:
    """Nothing silently completed: each ending matches what the task's script and kind must give."""
    out = []
    deliveries = {m.in_reply_to: m for m in _deliveries(snap)}
    for task in tasks:
        for row in snap.series_rows(task.series_id):
            final = snap.final_run(row)
            if final is None:
                continue
            wrong = _expected_outcome(task, row, final)
            if wrong:
                out.append(Violation("outcome", row.id, wrong))
                continue
            if final.outcome != Outcome.COMPLETED:
                continue
            delivered = deliveries.get(row.id)
            # Only a scriptless reminder may be delivered by the host itself (a runner may deliver one too).
            if final.runner == HOST_OWNER and not (task.plan.remind and task.plan.gate == Gate.NONE):
                out.append(Violation("outcome", row.id, "completed by the host without a runner"))
            if task.plan.remind:
                want, kind = reminder_text(task.plan), OutboxKind.REMINDER
            else:
                want, kind = answer_for(task.plan.tag), OutboxKind.REPLY
                if final.model_output != want:
                    out.append(Violation("outcome", row.id, f"completed with model output {final.model_output!r}"))
            if delivered is not None and (delivered.text, delivered.kind) != (want, kind):
                out.append(Violation("outbox", row.id, f"delivered {delivered.kind} {delivered.text!r}"))
    return out


def check_no_overlap(snap: Snapshot) -> list[Violation]:
    """Two occurrences of one series never run at the same time: recorded runs of a series do not overlap. A missed
    slot and a round that ended upstream_failed are records written at once, not runs."""
    out = []
    by_series: dict[str, list[Run]] = defaultdict(list)
    for history in snap.runs.values():
        for run in history:
            if run.series_id and run.outcome not in (Outcome.MISSED, Outcome.UPSTREAM_FAILED):
                by_series[run.series_id].append(run)
    for series_id, runs in by_series.items():
        runs.sort(key=lambda r: r.started_at)
        for before, after in itertools.pairwise(runs):
            if after.started_at < before.ended_at:
                out.append(
                    Violation(
                        "overlap",
                        series_id,
                        f"run of {after.message_id} started {after.started_at.isoformat()} before the run of "
                        f"{before.message_id} ended {before.ended_at.isoformat()}",
                    )
                )
    return out


def check_all(snap: Snapshot, tasks: Sequence[ScheduledTask]) -> list[Violation]:
    return [
        *check_endings(snap),
        *check_slots(snap),
        *check_outbox(snap),
        *check_notices(snap),
        *check_series(snap, tasks),
        *check_outcomes(snap, tasks),
        *check_no_overlap(snap),
    ]
