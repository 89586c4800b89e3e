"""Series operations: create, pause, resume, cancel, run-now and starting an extra occurrence (changing one:
inbox.store.changes).

Each function works inside the caller's transaction (``db``) and accepts the series id or any occurrence id.
A running occurrence is never rewritten: what a pause, cancel or update means for it is kept on the row
(``next_status``, ``content["pending_update"]``) and applied to its follow-up when it ends.

A series no time starts (``--on`` or ``--after`` alone: only events or its upstream tasks start it) is *untimed*: its
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

from inbox.enums import CatchUp, ContextMode, Kind, Status, When
from inbox.errors import Conflict, InvalidInput
from inbox.ids import new_id
from inbox.schedules import Schedule
from inbox.store import graph, tags, triggers
from inbox.store.bulk import column_defaults, insert_dicts
from inbox.store.lookup import extra_rows, find_series_id, latest_row, live_row
from inbox.store.models import MessageIn
from inbox.store.types import FOREVER, is_forever

RUN_NOW = "run_now"
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
    "deliver",
    "tags",
    "priority",
    "gate",
    "active_hours",
)


# Content an occurrence never passes on; ``run_now`` marks a person's (or the agent's) explicit ask, which active
# hours never hold back (inbox.store.hours).
OWN_TO_THE_ROW = frozenset({"pending_update", "progress", RUN_NOW})


def is_untimed(row: MessageIn) -> bool:
    """A chain row that no time starts: the live row of a series only triggers start."""
    return not row.is_extra and row.recurrence is None and row.occurrence_at is None and is_forever(row.process_after)


def inherited_settings(row: MessageIn) -> dict[str, Any]:
    """The series definition a new occurrence takes from ``row``; an update waiting on ``row`` and how far its run
    came (``progress``) are not part of it."""
    settings = {name: getattr(row, name) for name in SERIES_SETTINGS}
    settings["content"] = {k: v for k, v in row.content.items() if k not in OWN_TO_THE_ROW}
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
    after: tuple[str, ...] = ()  # series ids (resolved) of the tasks it runs after (inbox.store.rounds)
    when: When = When.ALL_SUCCESS
    deliver: str | None = None  # a channel's name, "none", or None: its session's channel
    tags: tuple[str, ...] = ()  # checked names
    priority: int = 0
    do: str = "agent"  # what a run does (inbox.kinds); remind is also the ``remind`` column
    with_: dict[str, Any] | None = None  # the kind's input, as inbox.kinds checked it
    active_hours: str | None = None  # "HH:MM-HH:MM", checked; None: its session's window, if any


def create_task(db: Session, task: NewTask, *, now: datetime, created_by: str) -> MessageIn:
    if task.schedule is None and not task.on and not task.after:
        raise InvalidInput(
            "schedule", "a task needs a time (cron, every, at, in), event patterns (on) or tasks (after)"
        )
    first = task.schedule.first_after(now, task.zone) if task.schedule is not None else None
    content: dict[str, Any] = {"text": task.prompt}
    if task.on:
        content["on"] = list(task.on)
    if task.after:
        content["after"], content["when"] = list(task.after), task.when.value
    if task.script:
        content["script"] = task.script
    if task.data:
        content["data"] = task.data
    if task.model:
        content["model"] = task.model
    if task.provider:
        content["provider"] = task.provider
    if task.do not in ("agent", "remind"):
        content["do"] = task.do
    if task.with_ is not None:
        content["with"] = task.with_
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
        deliver=task.deliver,
        tags=list(task.tags) or None,
        priority=task.priority,
        gate=tags.gate_of(task.tags, tags.limited(db)) if task.tags else "",
        active_hours=task.active_hours,
        created_by=created_by,
        script_by=created_by,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    db.flush()
    if task.on:
        triggers.replace(db, row_id, task.session, task.on)
    if task.tags:
        tags.replace(db, row_id, task.tags)
    if task.after:
        graph.replace(db, row_id, task.after, task.when, now=now)
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
    """An extra occurrence now (``inbox run``), paused or ended series included; cancelled ones refuse. Marked as
    asked for, so active hours do not hold it back."""
    return start_extra(db, ident, now=now, content={RUN_NOW: True}, require_active=False)
