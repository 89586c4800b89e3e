"""Series operations: create, pause, resume, cancel, update and run-now.

Each function works inside the caller's transaction (``db``) and accepts the series id or any occurrence id.
A running occurrence is never rewritten: what a pause, cancel or update means for it is kept on the row
(``next_status``, ``content["pending_update"]``) and applied to its follow-up when it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from inbox.enums import CatchUp, ContextMode, Kind, Status
from inbox.errors import Conflict
from inbox.ids import new_id
from inbox.schedules import OneShot, Schedule, from_recurrence, load_zone
from inbox.store.lookup import extra_rows, find_series_id, latest_row, live_row
from inbox.store.models import MessageIn

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


def inherited_settings(row: MessageIn) -> dict[str, Any]:
    """The series definition a new occurrence takes from ``row``; an update waiting on ``row`` is not part of it."""
    settings = {name: getattr(row, name) for name in SERIES_SETTINGS}
    settings["content"] = {k: v for k, v in row.content.items() if k != "pending_update"}
    return settings


@dataclass(frozen=True)
class NewTask:
    """A validated task definition (see inbox.api for where user input becomes one)."""

    prompt: str
    schedule: Schedule
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


def create_task(db: Session, task: NewTask, *, now: datetime, created_by: str) -> MessageIn:
    first = task.schedule.first_after(now, task.zone)
    content: dict[str, Any] = {"text": task.prompt}
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
        process_after=first,
        occurrence_at=first,
        recurrence=task.schedule.recurrence,
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
    script_by: str = "user"  # who gives ``script``: the actor of the change, never a value from its caller's input

    def is_empty(self) -> bool:
        return all(value is None for value in (self.prompt, self.schedule, self.zone, self.script, self.name))


def update(db: Session, ident: str, changes: TaskChanges, *, now: datetime) -> MessageIn:
    series_id = find_series_id(db, ident)
    row = live_row(db, series_id, lock=True)
    if row is None:
        raise Conflict(f"task {series_id} has ended; schedule a new one instead")
    if row.status == Status.RUNNING:
        pending = dict(row.content.get("pending_update") or {})
        pending.update(_changes_as_json(changes, row, now))
        row.content = {**row.content, "pending_update": pending}
    else:
        apply_changes(row, _changes_as_json(changes, row, now))
    row.updated_at = now
    return row


def _changes_as_json(changes: TaskChanges, row: MessageIn, now: datetime) -> dict[str, Any]:
    """The update as plain values, with a new schedule already turned into its first slot."""
    out: dict[str, Any] = {}
    if changes.prompt is not None:
        out["text"] = changes.prompt
    if changes.script is not None:
        out["script"] = changes.script
        out["script_by"] = changes.script_by
    if changes.name is not None:
        out["name"] = changes.name
    if changes.schedule is not None or changes.zone is not None:
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
    if "name" in change:
        row.name = change["name"] or None
    if "slot" in change:
        row.recurrence = change["recurrence"]
        row.timezone = change["timezone"]
        slot = datetime.fromisoformat(change["slot"])
        row.occurrence_at = slot
        row.process_after = slot


def run_now(db: Session, ident: str, *, now: datetime) -> MessageIn:
    series_id = find_series_id(db, ident)
    source = latest_row(db, series_id)
    if source.status == Status.CANCELLED or source.next_status == Status.CANCELLED:
        raise Conflict(f"task {series_id} is cancelled")
    extra = MessageIn(
        series_id=series_id,
        occurrence_at=None,  # it stands for no slot, so it can never collide with one
        process_after=now,
        status=Status.PENDING,
        is_extra=True,
        occurrence_no=source.occurrence_no,
        created_at=now,
        updated_at=now,
        **inherited_settings(source),
    )
    db.add(extra)
    db.flush()
    return extra
