"""Changing a series (``inbox update``): what may change, and how a change reaches the series' rows.

A running occurrence is never rewritten: a change made while it runs waits on it (``content["pending_update"]``)
and is applied to its follow-up when it ends (inbox.store.endings); otherwise it is applied to the live row at
once. What starts the series (a time, event patterns, upstream tasks) is checked to remain after the change, and
the indexes events and endings read (``event_triggers``, ``dependencies``) change at once either way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from inbox.enums import Status, When
from inbox.errors import Conflict, InvalidInput
from inbox.schedules import OneShot, Schedule, from_recurrence, load_zone
from inbox.store import graph, tags, triggers
from inbox.store.lookup import find_series_id, live_row
from inbox.store.models import MessageIn
from inbox.store.series import is_untimed

AGENT, REMIND = "agent", "remind"


@dataclass(frozen=True)
class NewKind:
    """What the series' runs do from now on (inbox.kinds), and who said so: a run's reach (an ``http`` request to
    private addresses, a ``command`` outside a sandbox) is judged by who wrote what it does, as a script's is."""

    do: str
    with_: dict[str, Any] | None
    by: str


@dataclass(frozen=True)
class TaskChanges:
    prompt: str | None = None
    schedule: Schedule | None = None
    zone: ZoneInfo | None = None
    script: str | None = None  # "" removes the script
    name: str | None = None
    on: tuple[str, ...] | None = None  # () removes every pattern
    after: tuple[str, ...] | None = None  # series ids (resolved); () removes every upstream
    when: When | None = None
    deliver: str | None = None  # "" goes back to the session's channel
    tags: tuple[str, ...] | None = None  # () removes every tag
    priority: int | None = None
    active_hours: str | None = None  # "" removes the task's own window (its session's applies again)
    script_by: str = "user"  # who gives ``script``: the actor of the change, never a value from its caller's input
    kind: NewKind | None = None  # a new ``do`` and its ``with``, as inbox.kinds checked them

    def is_empty(self) -> bool:
        values = (self.prompt, self.schedule, self.zone, self.script, self.name, self.on, self.after, self.when)
        others = (self.deliver, self.tags, self.priority, self.active_hours, self.kind)
        return all(value is None for value in (*values, *others))


def update(db: Session, ident: str, changes: TaskChanges, *, now: datetime) -> MessageIn:
    series_id = find_series_id(db, ident)
    row = live_row(db, series_id, lock=True)
    if row is None:
        raise Conflict(f"task {series_id} has ended; schedule a new one instead")
    _check_triggers(row, changes)
    if changes.on is not None:
        triggers.replace(db, series_id, row.session, changes.on)  # events see the new patterns at once
    if changes.after is not None or changes.when is not None:
        after, when = graph.merged(db, series_id, changes.after, changes.when)
        graph.replace(db, series_id, after, when, now=now)  # endings see the new edges at once
        changes = replace(changes, after=after, when=when)
    _order_at_once(db, row, changes)
    if row.status == Status.RUNNING:
        pending = dict(row.content.get("pending_update") or {})
        pending.update(_changes_as_json(changes, row, now))
        row.content = {**row.content, "pending_update": pending}
    else:
        apply_changes(row, _changes_as_json(changes, row, now))
    row.updated_at = now
    return row


def _order_at_once(db: Session, row: MessageIn, changes: TaskChanges) -> None:
    """Tags, priority and active hours say how the series' rows wait to be claimed, not what a run does: they change
    on the live row at once, a running one included (it counts against its new tags' limits from now on), and its
    follow-ups inherit them."""
    if changes.tags is not None:
        row.tags = list(changes.tags) or None
        row.gate = tags.gate_of(changes.tags, tags.limited(db))
        tags.replace(db, row.series_id or row.id, changes.tags)
    if changes.priority is not None:
        row.priority = changes.priority
    if changes.active_hours is not None:
        row.active_hours = changes.active_hours or None


def _check_triggers(row: MessageIn, changes: TaskChanges) -> None:
    """What starts the series after the change: a time that recurs, events, upstream tasks, or a one-shot time
    alone."""
    patterns = list(changes.on) if changes.on is not None else list(row.content.get("on") or [])
    upstreams = list(changes.after) if changes.after is not None else list(row.content.get("after") or [])
    timed, recurring = not is_untimed(row), row.recurrence is not None
    if changes.schedule is not None:
        timed, recurring = True, changes.schedule.recurrence is not None
    if not timed and not patterns and not upstreams:
        field = "after" if changes.after is not None and changes.on is None else "on"
        raise InvalidInput(
            field,
            "the task has no cron or every: it needs at least one event pattern (on) or task to wait for (after), "
            "or cancel it",
            mentions=("on", "after"),
        )
    if (patterns or upstreams) and timed and not recurring:
        field = "at" if changes.schedule is not None else "after" if changes.after else "on"
        raise InvalidInput(
            field,
            "a one-shot time (at) cannot be combined with event patterns (on) or upstream tasks (after)",
            mentions=("at", "on", "after"),
        )


def _changes_as_json(changes: TaskChanges, row: MessageIn, now: datetime) -> dict[str, Any]:
    """The update as plain values, with a new schedule already turned into its first slot."""
    out: dict[str, Any] = {}
    if changes.on is not None:
        out["on"] = list(changes.on)
    if changes.after is not None:
        out["after"] = list(changes.after)
    if changes.when is not None:
        out["when"] = changes.when.value
    if changes.prompt is not None:
        out["text"] = changes.prompt
    if changes.script is not None:
        out["script"] = changes.script
        out["script_by"] = changes.script_by
    if changes.name is not None:
        out["name"] = changes.name
    if changes.deliver is not None:
        out["deliver"] = changes.deliver
    if changes.kind is not None:
        out.update(do=changes.kind.do, with_=changes.kind.with_, kind_by=changes.kind.by)
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
    if "after" in change:
        if change["after"]:
            content["after"], content["when"] = change["after"], change.get("when", content.get("when"))
        else:
            content.pop("after", None)
            content.pop("when", None)
        row.content = content
    if "do" in change:
        _apply_kind(row, change)
    if "name" in change:
        row.name = change["name"] or None
    if "deliver" in change:
        row.deliver = change["deliver"] or None
    if "slot" not in change and "timezone" in change:
        row.timezone = change["timezone"]
    if "slot" in change:
        row.recurrence = change["recurrence"]
        row.timezone = change["timezone"]
        slot = datetime.fromisoformat(change["slot"])
        row.occurrence_at = slot
        row.process_after = slot


def _apply_kind(row: MessageIn, change: dict[str, Any]) -> None:
    """``remind`` is its own column (the host delivers those rows itself); the other kinds live in content."""
    content = dict(row.content)
    do = change["do"]
    row.remind = do == REMIND
    if do in (AGENT, REMIND):
        content.pop("do", None)
    else:
        content["do"] = do
    if change.get("with_") is None:
        content.pop("with", None)
    else:
        content["with"] = change["with_"]
    content["kind_by"] = change["kind_by"]
    row.content = content
