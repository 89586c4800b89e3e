"""A series as ``inbox tasks``, ``GET /v1/tasks`` and ``Inbox.tasks`` show it, from its head row: the one place for
what each field of :class:`inbox.views.Task` says.

Light on purpose (no SQLAlchemy, no pydantic): the row may be a :class:`inbox.store.models.MessageIn` or a row the
command line read with ``sqlite3`` (``inbox.cli.quick_tasks``); :func:`task_fields` gives the fields of the view
in its order, with Python values, for ``Task(**fields)`` or for printing as they are.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from inbox.enums import Status

# ``process_after`` of the live row of a series no time starts (only events or its upstream tasks): no due
# scan ever reaches it, and listings show its next run as none.
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)


def is_forever(instant: datetime | None) -> bool:
    return instant is not None and instant >= FOREVER


def kind_of(remind: bool, content: dict[str, Any]) -> str:
    """What a run of a row does (inbox.kinds): ``remind`` is its own column, other kinds are in content."""
    return "remind" if remind else str(content.get("do") or "agent")


def text_of(content: dict[str, Any]) -> str:
    return str(content.get("text", ""))


def script_of(content: dict[str, Any]) -> str | None:
    value = content.get("script")
    return str(value) if value else None


def progress_of(content: dict[str, Any]) -> dict[str, Any] | None:
    """A row's latest progress report ({fraction, note, at}), or None."""
    value = content.get("progress")
    return dict(value) if isinstance(value, dict) else None


class HeadRow(Protocol):
    """What a series' view is made of: the columns and properties of its head row."""

    @property
    def id(self) -> str: ...
    @property
    def series_id(self) -> str | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def session(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def next_status(self) -> str | None: ...
    @property
    def recurrence(self) -> str | None: ...
    @property
    def occurrence_at(self) -> datetime | None: ...
    @property
    def content(self) -> dict[str, Any]: ...
    @property
    def timezone(self) -> str: ...
    @property
    def process_after(self) -> datetime: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def created_by(self) -> str: ...
    @property
    def script_by(self) -> str | None: ...
    @property
    def remind(self) -> bool: ...
    @property
    def deliver(self) -> str | None: ...
    @property
    def tags(self) -> list[str] | None: ...
    @property
    def priority(self) -> int: ...
    @property
    def active_hours(self) -> str | None: ...
    @property
    def catch_up(self) -> str: ...
    @property
    def max_runs(self) -> int | None: ...
    @property
    def context(self) -> str | None: ...
    @property
    def reason(self) -> str | None: ...


def status_word(status: str, next_status: str | None) -> str:
    """A series' status as listings say it, from its head row's ``status`` and ``next_status``."""
    if status == Status.PENDING:
        return "active"
    if status in (Status.RUNNING, Status.PAUSED):
        return str(status)
    if status == Status.CANCELLED or next_status == Status.CANCELLED:
        return "cancelled"
    return "ended"


def describe_schedule(row: HeadRow) -> str:
    """``cron 0 9 * * *``, ``every 1h``, ``at 2026-…``, ``on mail.*, github.**``, ``every 1h or on mail.*``,
    ``after 01J…, 01J… (all_success)``."""
    parts: list[str] = []
    if row.recurrence:
        parts.append(row.recurrence)
    elif row.occurrence_at is not None:
        parts.append(f"at {row.occurrence_at.astimezone(ZoneInfo(row.timezone)).isoformat()}")
    on = row.content.get("on")
    if on:
        parts.append("on " + ", ".join(on))
    after = row.content.get("after")
    if after:
        parts.append(f"after {', '.join(after)} ({row.content.get('when')})")
    if not parts:  # an extra occurrence of a one-shot: the time it was due
        parts.append(f"at {row.process_after.astimezone(ZoneInfo(row.timezone)).isoformat()}")
    return " or ".join(parts)


def task_fields(
    row: HeadRow,
    *,
    running: HeadRow,
    runs: int,
    last_outcome: str | None,
    created_at: datetime | None,
    waiting_on: str | None,
) -> dict[str, Any]:
    """The fields of a series' view, in the view's order, keyed by their Python names (``with_``).

    ``row`` is the head row as the series will go on (a running row's waiting change applied: inbox.views.as_next),
    ``running`` the row as stored; ``created_at`` the series' creation (the row's own when None)."""
    content, running_content = row.content, running.content
    do, running_do = kind_of(row.remind, content), kind_of(running.remind, running_content)
    kind_waits = (running_do, running_content.get("with")) != (do, content.get("with"))
    live = Status(row.status).is_live
    assert row.series_id is not None
    next_run = row.process_after if live and not is_forever(row.process_after) else None
    script = script_of(content)
    return {
        "series_id": row.series_id,
        "id": row.id,
        "name": row.name,
        "session": row.session,
        "status": status_word(row.status, row.next_status),
        "schedule": describe_schedule(row),
        "recurrence": row.recurrence,
        "on": list(content.get("on") or []),
        "after": list(content.get("after") or []),
        "when": content.get("when") if content.get("after") else None,
        "timezone": row.timezone,
        "next_run": next_run,
        "next_run_local": next_run.astimezone(ZoneInfo(row.timezone)) if next_run else None,
        "last_outcome": last_outcome,
        "runs": runs,
        "prompt": text_of(content),
        "script": script,
        "script_by": (row.script_by or row.created_by) if script else None,
        "remind": bool(row.remind),
        "do": do,
        "with_": content.get("with"),
        "running_do": running_do if kind_waits else None,
        "running_with": running_content.get("with") if kind_waits else None,
        "progress": progress_of(content),
        "deliver": row.deliver,
        "tags": list(row.tags or []),
        "priority": row.priority,
        "waiting_on": waiting_on,
        "active_hours": row.active_hours,
        "catch_up": str(row.catch_up),
        "max_runs": row.max_runs,
        "context": row.context,
        "created_by": row.created_by,
        "created_at": created_at or row.created_at,
        "reason": row.reason,
    }
