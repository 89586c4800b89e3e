"""Series operations: create, pause, resume, cancel, update, run-now and starting an extra occurrence.

Each function works inside the caller's transaction (``db``) and accepts the series id or any occurrence id.
A running occurrence is never rewritten: what a pause, cancel or update means for it is kept on the row
(``next_status``, ``content["pending_update"]``) and applied to its follow-up when it ends.

A series no time starts (``--on`` alone: only events, or later its upstream tasks, start it) is *untimed*: its
live row waits at ``process_after`` = :data:`~inbox.store.types.FOREVER` with no ``recurrence`` and no
``occurrence_at``, so no due scan reaches it, and every occurrence it has is an extra row (:func:`start_extra`).
Pause, resume, cancel and update act on that live row like on any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlmodel import Session

from inbox.enums import CatchUp, ContextMode, Kind, Status
from inbox.errors import Conflict, InvalidInput
from inbox.ids import new_id
from inbox.schedules import OneShot, Schedule, from_recurrence, load_zone
from inbox.store import triggers
from inbox.store.bulk import column_defaults, insert_dicts
from inbox.store.lookup import extra_rows, find_series_id, latest_row, live_row
from inbox.store.models import MessageIn
from inbox.store.types import FOREVER, is_forever

SERIES_SETTINGS = (
    "content",
    "recurrence",
    "timezone",
    "name",
    "catch_up",
    "max_runs",
    "retries",
    "timeout_s",
    "context",
    "remind",
    "session",
    "kind",
    "created_by",
    "script_by",
)


def is_untimed(row: MessageIn) -> bool:
    """A chain row that no time starts: the live row of a series only triggers start."""
    return not row.is_extra and row.recurrence is None and row.occurrence_at is None and is_forever(row.process_after)


def inherited_settings(row: MessageIn) -> dict[str, Any]:
    """The series definition a new occurrence takes from ``row``; an update waiting on ``row`` is not part of it."""
    settings = {name: getattr(row, name) for name in SERIES_SETTINGS}
    settings["content"] = {k: v for k, v in row.content.items() if k != "pending_update"}
    return settings


@dataclass(frozen=True)
class NewTask:
    """A validated task definition (see inbox.api for where user input becomes one)."""

    prompt: str
    schedule: Schedule | None  # None: no time starts it (``on`` only)
    zone: ZoneInfo
    session: str = "main"
    name: str | None = None
    script: str | None = None
    context: ContextMode | None = None
    catch_up: CatchUp = CatchUp.ONCE
    max_runs: int | None = None
    timeout_s: float | None = None
    retries: int = 3
    remind: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    model: str | None = None  # overrides INBOX_MODEL for this task
    provider: str | None = None  # overrides INBOX_PROVIDER for this task
    on: tuple[str, ...] = ()  # event patterns (checked) that start an occurrence


def create_task(db: Session, task: NewTask, *, now: datetime, created_by: str) -> MessageIn:
    if task.schedule is None and not task.on:
        raise InvalidInput("schedule", "a task needs a time (cron, every, at, in) or event patterns (on)")
    first = task.schedule.first_after(now, task.zone) if task.schedule is not None else None
    content: dict[str, Any] = {"text": task.prompt}
    if task.on:
        content["on"] = list(task.on)
    if task.script:
        content["script"] = task.script
    if task.data:
        content["data"] = task.data
    if task.model:
        content["model"] = task.model
    if task.provider:
        content["provider"] = task.provider
    row_id = new_id()
    row = MessageIn(
        id=row_id,
        series_id=row_id,
        session=task.session,
        kind=Kind.TASK,
        content=content,
        status=Status.PENDING,
        process_after=first or FOREVER,
        occurrence_at=first,
        recurrence=task.schedule.recurrence if task.schedule is not None else None,
        timezone=task.zone.key,
        name=task.name,
        catch_up=task.catch_up,
        max_runs=task.max_runs,
        timeout_s=task.timeout_s,
        retries=task.retries,
        context=task.context,
        remind=task.remind,
        created_by=created_by,
        script_by=created_by,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    db.flush()
    if task.on:
        triggers.replace(db, row_id, task.session, task.on)
    return row


def pause(db: Session, ident: str, *, now: datetime, reason: str = "paused by user") -> MessageIn:
    series_id = find_series_id(db, ident)
    row = live_row(db, series_id, lock=True)
    if row is None:
        raise Conflict(f"task {series_id} has ended; there is nothing to pause")
    if row.status == Status.RUNNING:
        row.next_status = Status.PAUSED
    elif row.status == Status.PENDING:
        row.status = Status.PAUSED
    row.reason = reason
    row.updated_at = now
    for extra in extra_rows(db, series_id, [Status.PENDING]):
        extra.status, extra.reason, extra.updated_at = Status.PAUSED, reason, now
    return row


def resume(db: Session, ident: str, *, now: datetime) -> MessageIn:
    series_id = find_series_id(db, ident)
    row = live_row(db, series_id, lock=True)
    if row is None:
        raise Conflict(f"task {series_id} has ended; schedule it again instead of resuming")
    if row.status == Status.PAUSED:
        row.status = Status.PENDING
        row.consecutive_failures = 0
    row.next_status = None
    row.reason = None
    row.updated_at = now
    for extra in extra_rows(db, series_id, [Status.PAUSED]):
        extra.status, extra.reason, extra.updated_at = Status.PENDING, None, now
    return row


def cancel(db: Session, ident: str, *, now: datetime, reason: str = "cancelled by user") -> MessageIn:
    series_id = find_series_id(db, ident)
    row = live_row(db, series_id, lock=True)
    if row is None:
        ended = latest_row(db, series_id)
        if ended.status == Status.CANCELLED or ended.next_status == Status.CANCELLED:
            return ended  # cancelling twice is not an error
        raise Conflict(f"task {series_id} has already ended ({ended.status})")
    if row.status == Status.RUNNING:
        row.next_status = Status.CANCELLED  # the run finishes and is recorded; no follow-up is written
    else:
        row.status = Status.CANCELLED
    if row.content.get("on"):
        triggers.replace(db, series_id, row.session, [])  # it listens no more: events need not look at it
    row.reason = reason
    row.updated_at = now
    for extra in extra_rows(db, series_id, [Status.PENDING, Status.PAUSED]):
        extra.status, extra.reason, extra.updated_at = Status.CANCELLED, reason, now
    return row


@dataclass(frozen=True)
class TaskChanges:
    prompt: str | None = None
    schedule: Schedule | None = None
    zone: ZoneInfo | None = None
    script: str | None = None  # "" removes the script
    name: str | None = None
    on: tuple[str, ...] | None = None  # () removes every pattern
    script_by: str = "user"  # who gives ``script``: the actor of the change, never a value from its caller's input

    def is_empty(self) -> bool:
        values = (self.prompt, self.schedule, self.zone, self.script, self.name, self.on)
        return all(value is None for value in values)


def update(db: Session, ident: str, changes: TaskChanges, *, now: datetime) -> MessageIn:
    series_id = find_series_id(db, ident)
    row = live_row(db, series_id, lock=True)
    if row is None:
        raise Conflict(f"task {series_id} has ended; schedule a new one instead")
    _check_triggers(row, changes)
    if changes.on is not None:
        triggers.replace(db, series_id, row.session, changes.on)  # events see the new patterns at once
    if row.status == Status.RUNNING:
        pending = dict(row.content.get("pending_update") or {})
        pending.update(_changes_as_json(changes, row, now))
        row.content = {**row.content, "pending_update": pending}
    else:
        apply_changes(row, _changes_as_json(changes, row, now))
    row.updated_at = now
    return row


def _check_triggers(row: MessageIn, changes: TaskChanges) -> None:
    """What starts the series after the change: a time that recurs, events, or a one-shot time alone."""
    patterns = list(changes.on) if changes.on is not None else list(row.content.get("on") or [])
    timed, recurring = not is_untimed(row), row.recurrence is not None
    if changes.schedule is not None:
        timed, recurring = True, changes.schedule.recurrence is not None
    if not timed and not patterns:
        raise InvalidInput("on", "the task has no cron or every: it needs at least one pattern (or cancel it)")
    if patterns and timed and not recurring:
        field = "at" if changes.schedule is not None else "on"
        raise InvalidInput(field, "a one-shot time (at) and event patterns (on) cannot be combined", mentions=("at",))


def _changes_as_json(changes: TaskChanges, row: MessageIn, now: datetime) -> dict[str, Any]:
    """The update as plain values, with a new schedule already turned into its first slot."""
    out: dict[str, Any] = {}
    if changes.on is not None:
        out["on"] = list(changes.on)
    if changes.prompt is not None:
        out["text"] = changes.prompt
    if changes.script is not None:
        out["script"] = changes.script
        out["script_by"] = changes.script_by
    if changes.name is not None:
        out["name"] = changes.name
    if changes.schedule is None and changes.zone is not None and is_untimed(row):
        out["timezone"] = changes.zone.key  # nothing to move: no time starts the series
    elif changes.schedule is not None or changes.zone is not None:
        zone = changes.zone or load_zone(row.timezone)
        schedule = changes.schedule or (
            from_recurrence(row.recurrence) if row.recurrence else OneShot(row.occurrence_at or now)
        )
        first = schedule.first_after(now, zone)
        out.update(recurrence=schedule.recurrence, timezone=zone.key, slot=first.isoformat())
    return out


def apply_changes(row: MessageIn, change: dict[str, Any]) -> None:
    content = {k: v for k, v in row.content.items() if k != "pending_update"}
    if "text" in change:
        content["text"] = change["text"]
    if "script" in change:
        if change["script"]:
            content["script"] = change["script"]
        else:
            content.pop("script", None)
        row.script_by = change.get("script_by", row.script_by)
    row.content = content
    if "on" in change:
        if change["on"]:
            content["on"] = change["on"]
        else:
            content.pop("on", None)
        row.content = content
    if "name" in change:
        row.name = change["name"] or None
    if "slot" not in change and "timezone" in change:
        row.timezone = change["timezone"]
    if "slot" in change:
        row.recurrence = change["recurrence"]
        row.timezone = change["timezone"]
        slot = datetime.fromisoformat(change["slot"])
        row.occurrence_at = slot
        row.process_after = slot


class SeriesInactive(Conflict):
    """The series cannot be started now: it is paused, cancelled or has ended (``status`` says which)."""

    def __init__(self, series_id: str, status: str) -> None:
        super().__init__(f"task {series_id} is {status}")
        self.series_id = series_id
        self.status = status


def start_extra(
    db: Session,
    ident: str,
    *,
    now: datetime,
    content: dict[str, Any] | None = None,
    require_active: bool = True,
) -> MessageIn:
    """Start an occurrence of a series now, beside its schedule: the one way events, run-now (and upstream tasks)
    start a series.

    The contract:

    * ``ident`` is the series id or any occurrence id; the new row is an *extra* (``is_extra``, no
      ``occurrence_at``, so it never takes a slot), ``pending`` and due at ``now``, with the series' current
      definition (its live row's, or its newest row's once ended) and ``content`` laid over its content, key by
      key (``{"event": {...}}``); the schedule does not move and ``occurrence_no`` does not advance.
    * It never runs beside another occurrence of the series: a claim skips a series with a running row, so the
      new row waits until that one ends (it is then claimed like any due row, oldest due first).
    * The series' live row is locked first (``FOR UPDATE`` on PostgreSQL), so a pause, cancel or update committed
      at the same moment comes wholly before (and is seen here) or wholly after (and then also pauses or cancels
      this row, which is pending).
    * A cancelled series raises :class:`SeriesInactive` (status ``cancelled``). With ``require_active`` (the
      default) a paused or ended series does too (status ``paused`` or ``ended``): only active series are
      started. Without it (run-now: a person's explicit ask) a paused series gets a pending row that runs, and an
      ended one runs once more.
    * Writes nothing else and commits nothing: the caller's transaction holds it, and whatever the caller records
      with it (an event's match) stands or falls with it.
    """
    series_id = find_series_id(db, ident)
    live = live_row(db, series_id, lock=True)
    source = live or latest_row(db, series_id)
    why = refusal(live, source, require_active=require_active)
    if why is not None:
        raise SeriesInactive(series_id, why)
    extra = MessageIn(**extra_columns(source, now=now, content=content))
    db.add(extra)
    db.flush()
    return extra


class Stated(Protocol):
    """A series' row as far as starting it goes (a ``MessageIn``, or those two columns of it)."""

    @property
    def status(self) -> str: ...
    @property
    def next_status(self) -> str | None: ...


def refusal(live: Stated | None, source: Stated, *, require_active: bool = True) -> str | None:
    """Why :func:`start_extra` refuses a series whose live row is ``live`` (None once ended) and whose current
    definition is on ``source``: ``cancelled``, ``ended`` or ``paused``; None when it starts it."""
    if Status.CANCELLED in (source.status, source.next_status):
        return "cancelled"
    if require_active and live is None:
        return "ended"
    if require_active and Status.PAUSED in (source.status, source.next_status):
        return "paused"
    return None


def extra_columns(source: MessageIn, *, now: datetime, content: dict[str, Any] | None) -> dict[str, Any]:
    """The columns :func:`start_extra` gives the occurrence it writes from ``source`` (the others: defaults)."""
    settings = inherited_settings(source)
    settings["content"] = {**settings["content"], **(content or {})}
    return {
        "id": new_id(),
        "series_id": source.series_id,
        "occurrence_at": None,  # it stands for no slot, so it can never collide with one
        "process_after": now,
        "status": Status.PENDING,
        "is_extra": True,
        "occurrence_no": source.occurrence_no,
        "created_at": now,
        "updated_at": now,
        **settings,
    }


def start_extras(db: Session, starts: Sequence[tuple[MessageIn, dict[str, Any]]], *, now: datetime) -> list[str]:
    """:func:`start_extra` for many series at once, in one insert: each given by its live row, which the caller
    has locked and found startable by :func:`refusal` in this transaction, and the content laid over its own.
    Returns the new rows' ids in order. What an emit of a thousand events uses; the rules are start_extra's."""
    rows = [{**column_defaults(), **extra_columns(live, now=now, content=content)} for live, content in starts]
    for row in rows:
        row.update(kind=str(row["kind"]), status=str(row["status"]), catch_up=str(row["catch_up"]))
    insert_dicts(db, MessageIn.__table__, rows)  # type: ignore[attr-defined]
    if rows:
        db.info["wake"] = True  # sweepers on other hosts look now (PostgreSQL), as after any inbound write
    return [row["id"] for row in rows]


def run_now(db: Session, ident: str, *, now: datetime) -> MessageIn:
    """An extra occurrence now (``inbox run``), paused or ended series included; cancelled ones refuse."""
    return start_extra(db, ident, now=now, require_active=False)
